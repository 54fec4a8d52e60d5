"""The drawings people save, as the Draw and My drawings pages share them: the collection
(``digitnet.data.collection.store.DrawingStore``, one SQLite file) and this browser session's
anonymous id, which marks the drawings saved here so "this session" can be shown apart from
everyone's."""

from __future__ import annotations

import streamlit as st

from digitnet.data.collection.store import DrawingStore, new_session_id

SESSION_ID = "drawing_session"


def session_id() -> str:
    """This browser session's id: random, made on first use, kept for the session."""
    return st.session_state.setdefault(SESSION_ID, new_session_id())


def collection() -> DrawingStore:
    """The collection in the file ``DIGITNET_DB`` names, else in the data folder. Made afresh
    each time: a store is only a path (it opens the file for every operation)."""
    return DrawingStore()
