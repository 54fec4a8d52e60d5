"""digitnet's NumPy engine against PyTorch, on equal terms: each engine runs in a process of its
own (started with "spawn", so neither inherits the other's thread pools or imports), both are
pinned to the same number of threads (``--threads``, default 1: NumPy's BLAS through threadpoolctl,
PyTorch through ``torch.set_num_threads``), each warms up before its clock starts, and they take
turns, so a busy shared machine slows both alike. The thread counts are read back from each
engine after pinning, and printed with every result.

A benchmark gives ``Engines`` a ``make(engine, *args)`` function, defined at the top level of its
module (the spawned process imports it from there), that builds the engine's work in the worker
and returns a callable taking one task (whatever the benchmark sends: a range of batches, a
seed); ``Engines.time(engine, task)`` runs it there and returns the seconds it took.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import platform
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ENGINES = ("numpy", "torch")
# Set before Python starts, these decide the thread pools' sizes at load; printed for the record.
THREAD_SETTINGS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)

Make = Callable[..., Callable[[Any], None]]


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for each engine: NumPy's BLAS (threadpoolctl) and PyTorch's "
        "(torch.set_num_threads); default 1",
    )


def available_engines() -> list[str]:
    """numpy, and torch when it is installed (said so when it is not)."""
    if importlib.util.find_spec("torch") is None:
        print(
            "PyTorch is not installed: timing NumPy alone (pip install -r requirements-bench.txt)"
        )
        return ["numpy"]
    return list(ENGINES)


def print_setting() -> None:
    """Python, NumPy, the CPUs and the thread variables of this run."""
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(" ".join(f"{name}={os.environ.get(name, '(unset)')}" for name in THREAD_SETTINGS))


def pin_threads(engine: str, threads: int) -> tuple[int, str]:
    """Pins this process's thread pools to ``threads``; returns the count the engine uses, read
    back from it, and a description of the engine."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=threads)  # every BLAS and OpenMP pool loaded so far, for good
    if engine == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
        return torch.get_num_threads(), f"torch {torch.__version__}"
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    if not blas:
        return 1, f"numpy {np.__version__}, no BLAS thread pool found"
    names = ", ".join(
        f"{pool['internal_api']} {pool.get('version')} ({pool.get('architecture')} kernels)"
        for pool in blas
    )
    return max(pool["num_threads"] for pool in blas), f"numpy {np.__version__}, {names}"


def _serve(engine: str, threads: int, make: Make, args: tuple, warm_up: Any, connection) -> None:
    """The worker: pin, build, warm up, then run each task it is sent and answer its seconds."""
    import time

    used, description = pin_threads(engine, threads)
    run = make(engine, *args)
    run(warm_up)
    connection.send((used, description))
    while (task := connection.recv()) is not None:
        started = time.perf_counter()
        run(task)
        connection.send(time.perf_counter() - started)


class Engines:
    """One worker process per engine, ready (pinned, built, warmed up) when this returns."""

    def __init__(
        self, engines: Sequence[str], make: Make, args: tuple, threads: int, warm_up: Any
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.connections, self.workers = {}, []
        for engine in engines:
            ours, theirs = context.Pipe()
            worker = context.Process(
                target=_serve,
                args=(engine, threads, make, args, warm_up, theirs),
                daemon=True,
            )
            worker.start()
            self.connections[engine], self.workers = ours, [*self.workers, worker]
        self.threads: dict[str, int] = {}
        for engine, connection in self.connections.items():
            self.threads[engine], description = connection.recv()
            print(f"{engine}: {description}, {self.label(engine)}")

    def label(self, engine: str) -> str:
        """The threads ``engine`` runs on, as read back from it: "1 thread"."""
        count = self.threads[engine]
        return f"{count} thread{'s' if count != 1 else ''}"

    def result(self, engine: str, text: str) -> str:
        """One engine's result with the threads it ran on: "numpy 1.52 s (1 thread)"."""
        return f"{engine} {text} ({self.label(engine)})"

    def print_ratio(self, ratio: float, how: str) -> None:
        threads = ", ".join(f"{engine} {self.label(engine)}" for engine in self.threads)
        print(f"ratio numpy/torch: {ratio:.2f} ({how}; {threads})")

    def time(self, engine: str, task: Any) -> float:
        self.connections[engine].send(task)
        return self.connections[engine].recv()

    def close(self) -> None:
        for connection in self.connections.values():
            connection.send(None)
        for worker in self.workers:
            worker.join()

    def __enter__(self) -> Engines:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
