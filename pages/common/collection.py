"""The drawings people save, as the Draw and My drawings pages share them: the collection
(``digitnet.data.collection.store.DrawingStore``: SQLite, or PostgreSQL that several app servers
share), this browser session's anonymous id, which marks the drawings saved here so "this
session" can be shown apart from the rest of the person's, and whether a person shares their
drawings with the class. Whose they are is pages.common.people's."""

from __future__ import annotations

import streamlit as st

from digitnet.data.collection.store import DrawingStore, new_session_id, total

SESSION_ID = "drawing_session"


def session_id() -> str:
    """This browser session's id: random, made on first use, kept for the session."""
    return st.session_state.setdefault(SESSION_ID, new_session_id())


def collection() -> DrawingStore:
    """The collection ``DIGITNET_DB`` names (a file or a PostgreSQL URL), else a file in the
    data folder. Made afresh each time: a store opens a connection for every operation."""
    return DrawingStore()


def sharing(store: DrawingStore, person: str) -> bool:
    """Whether ``person`` shares with the class: My drawings' switch shares or unshares all of
    their drawings at once, so when all are shared, what they save next is shared too."""
    shared = total(store.counts_by_digit(person=person, shared_only=True).values()).drawings
    return shared > 0 and shared == total(store.counts_by_digit(person=person).values()).drawings
