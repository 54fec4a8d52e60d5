"""What one server process sets up once, for every session: BLAS threads, the training limit,
the memory one training may use (DIGITNET_MEMORY_BUDGET, see digitnet.training.budget), and
whether the server is shared by a class: DIGITNET_SHARED=1 keeps each person's drawings apart
(see pages.common.people), DIGITNET_TEACHERS names the teachers, and each person may run one
training at a time within the server's limit.

Called by the router (streamlit_app.py) before any page runs; the Train page calls it again to
get the same TrainingLimit (st.cache_resource returns the one object). It lives here, not in the
router, because a page cannot import the router file: that would run it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import streamlit as st
from threadpoolctl import threadpool_limits

from digitnet import DigitnetError
from digitnet.training.budget import configured_budget
from digitnet.training.jobs import TrainingLimit

MAX_TRAININGS_ENV = "DIGITNET_MAX_TRAININGS"
DEFAULT_MAX_TRAININGS = 2  # one per core on the 2-core machine it was measured on
SHARED_ENV = "DIGITNET_SHARED"
TEACHERS_ENV = "DIGITNET_TEACHERS"
YES, NO = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


@dataclass
class Trainings:
    """Who is training on the server now: one training at a time per person, within the
    server's limit. What a person's training holds while it runs is ``of(person)``."""

    limit: TrainingLimit
    _running: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, person: str) -> PersonLimit:
        return PersonLimit(self, person)

    def acquire(self, person: str) -> None:
        with self._lock:
            if person in self._running:
                raise DigitnetError(
                    "you already have a training running on this server (one at a time): "
                    "wait for it to end, or stop it, then start this one"
                )
            self.limit.acquire()
            self._running.add(person)

    def release(self, person: str) -> None:
        with self._lock:
            self._running.discard(person)
            self.limit.release()


@dataclass(frozen=True)
class PersonLimit:
    """One person's trainings: acquired and released like a TrainingLimit (TrainingJob and
    fine-tuning take either)."""

    trainings: Trainings
    person: str

    def acquire(self) -> None:
        self.trainings.acquire(self.person)

    def release(self) -> None:
        self.trainings.release(self.person)


@dataclass(frozen=True)
class Server:
    training_limit: TrainingLimit
    memory_budget: int  # bytes one training may use: a training estimated above it is refused
    shared: bool  # by a class: each person's drawings apart (DIGITNET_SHARED)
    teachers: frozenset[str]  # people (emails or names), in lower case
    trainings: Trainings  # who is training, within training_limit: on a shared server

    def is_teacher(self, person: str) -> bool:
        return self.shared and person.lower() in self.teachers


@st.cache_resource(show_spinner=False)
def server() -> Server:
    """Applied once per process. BLAS gets one thread: a server that trains in the background
    also answers other sessions, and measured here, OpenBLAS's threads fighting over two busy
    cores made training 15 to 30 times slower than one thread per training. A DigitnetError (a
    bad DIGITNET_MAX_TRAININGS, DIGITNET_MEMORY_BUDGET or DIGITNET_SHARED) is not cached: the
    fixed value is read on the next run."""
    text = os.environ.get(MAX_TRAININGS_ENV, str(DEFAULT_MAX_TRAININGS))
    try:
        max_running = int(text)
    except ValueError:
        raise DigitnetError(
            f"{MAX_TRAININGS_ENV}={text!r} is not a whole number: set it to 1 or more"
        ) from None
    limit = TrainingLimit(max_running)
    memory_budget = configured_budget()
    shared = shared_setting()
    teachers = os.environ.get(TEACHERS_ENV, "")
    threadpool_limits(limits=1, user_api="blas")
    return Server(
        training_limit=limit,
        memory_budget=memory_budget,
        shared=shared,
        teachers=frozenset(name.strip().lower() for name in teachers.split(",") if name.strip()),
        trainings=Trainings(limit),
    )


def shared_setting() -> bool:
    """DIGITNET_SHARED: is the server shared by a class (1, true, yes, on) or one person's."""
    text = os.environ.get(SHARED_ENV, "")
    if text.strip().lower() not in YES + NO:
        raise DigitnetError(
            f"{SHARED_ENV}={text!r} is neither on nor off: set it to 1 on a server a class "
            "shares, or 0 (the default) for one person"
        )
    return text.strip().lower() in YES
