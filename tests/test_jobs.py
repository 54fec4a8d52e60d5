"""digitnet.training.jobs beyond what test_train.py covers: a failing job is shown and logged."""

from __future__ import annotations

import logging

from digitnet.network.model import Model
from digitnet.training.jobs import TrainingJob, TrainingLimit
from digitnet.training.trainer import TrainConfig
from tests.synthetic import synthetic_digits, synthetic_run

TRAIN = synthetic_digits(200, seed=0)


def test_a_failing_job_logs_its_traceback_and_keeps_one_line(caplog, monkeypatch):
    job = TrainingJob(
        synthetic_run(Model("mlp:8"), TrainConfig(epochs=1), *TRAIN), limit=TrainingLimit(1)
    )

    def broken_run():
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(job.trainer, "run", broken_run)
    with caplog.at_level(logging.ERROR, logger="digitnet.training.jobs"):
        job.start()
        job.join(10)
    progress = job.progress()
    assert progress.status == "failed"
    assert progress.error == "training failed: the disk caught fire"
    (record,) = [r for r in caplog.records if r.name == "digitnet.training.jobs"]
    assert record.levelno == logging.ERROR
    assert record.exc_info[0] is RuntimeError  # the traceback is in the log
    assert "broken_run" in caplog.text
    job.limit.acquire()  # the failed job gave its slot back
    job.limit.release()


def test_a_job_without_a_limit_runs(monkeypatch):
    job = TrainingJob(synthetic_run(Model("mlp:8"), TrainConfig(epochs=1), *TRAIN))
    job.start()
    job.join(30)
    assert job.progress().status == "finished"
