"""What one server process sets up once, for every session: BLAS threads, the training limit
and the memory one training may use (DIGITNET_MEMORY_BUDGET, see digitnet.training.budget).

Called by the router (streamlit_app.py) before any page runs; the Train page calls it again to
get the same TrainingLimit (st.cache_resource returns the one object). It lives here, not in the
router, because a page cannot import the router file: that would run it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st
from threadpoolctl import threadpool_limits

from digitnet import DigitnetError
from digitnet.training.budget import configured_budget
from digitnet.training.jobs import TrainingLimit

MAX_TRAININGS_ENV = "DIGITNET_MAX_TRAININGS"
DEFAULT_MAX_TRAININGS = 2  # one per core on the 2-core machine it was measured on


@dataclass(frozen=True)
class Server:
    training_limit: TrainingLimit
    memory_budget: int  # bytes one training may use: a training estimated above it is refused


@st.cache_resource(show_spinner=False)
def server() -> Server:
    """Applied once per process. BLAS gets one thread: a server that trains in the background
    also answers other sessions, and measured here, OpenBLAS's threads fighting over two busy
    cores made training 15 to 30 times slower than one thread per training. A DigitnetError (a
    bad DIGITNET_MAX_TRAININGS or DIGITNET_MEMORY_BUDGET) is not cached: the fixed value is
    read on the next run."""
    text = os.environ.get(MAX_TRAININGS_ENV, str(DEFAULT_MAX_TRAININGS))
    try:
        max_running = int(text)
    except ValueError:
        raise DigitnetError(
            f"{MAX_TRAININGS_ENV}={text!r} is not a whole number: set it to 1 or more"
        ) from None
    limit = TrainingLimit(max_running)
    memory_budget = configured_budget()
    threadpool_limits(limits=1, user_api="blas")
    return Server(training_limit=limit, memory_budget=memory_budget)
