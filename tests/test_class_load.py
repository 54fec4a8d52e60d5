"""A small class (benchmarks/class_load.py): three people on two `streamlit run` servers sharing
one PostgreSQL, for a few seconds, speaking Streamlit's own websocket protocol. Its speed is the
benchmark's to measure, never asserted here; what must hold is that nothing failed, that each
person is a person of their own (a personal link each), and that every drawing the app said it
saved is in the database under the person who saved it."""

from __future__ import annotations

import pytest

from benchmarks.class_load import parse_args, run


def test_a_small_class_keeps_every_answer_under_its_person_with_no_error(postgres_url):
    args = parse_args(["--people", "3", "--servers", "2", "--seconds", "5", "--trainers", "1"])
    outcome = run(args, db=postgres_url)

    assert outcome.errors == []
    people = outcome.results.people
    assert sorted(people) == ["drawer 1", "drawer 2", "trainer 1"]
    links = [query for query, _ in people.values()]
    assert all(link.startswith("me=") for link in links) and len(set(links)) == 3
    saved = {who: saves for who, (_, saves) in people.items()}
    assert saved["drawer 1"] > 0 and saved["drawer 2"] > 0 and saved["trainer 1"] == 0
    assert outcome.stored == saved
    # A stroke or more timed for each digit after each drawer's first (drawn before the start).
    assert len(outcome.results.latencies) >= saved["drawer 1"] + saved["drawer 2"] - 2
    assert len(outcome.results.batches) == 1 and "epoch" in outcome.results.batches[0]


@pytest.mark.parametrize(
    "argv", [["--people", "201"], ["--seconds", "601"], ["--people", "2", "--trainers", "3"]]
)
def test_the_class_is_bounded(argv):
    with pytest.raises(SystemExit) as refused:
        parse_args(argv)
    assert refused.value.code == 2
