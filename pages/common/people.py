"""Who this visitor is: the one place that knows. Every page that reads or writes drawings asks
``me()`` for the person whose drawings they are.

- Alone on a laptop (the default): one person, ``LOCAL_PERSON``, no sign-in; nothing is shown.
- On a server a class shares (``DIGITNET_SHARED=1``, see pages.common.server), each person has
  their own drawings:
  - signed in with Streamlit's OIDC sign-in (``st.login``), when the server's secrets.toml has
    an ``[auth]`` section naming an identity provider: the person is the identity token's
    ``email`` claim (else its ``sub``); the sidebar says "Signed in as ..." with Sign out;
  - else by a personal link: the first visit makes a person with a random token in the
    collection's people table, and the page's address carries it (``?me=<token>``), so the
    link brings the person back to their drawings after a reload or on another device; the
    sidebar shows the link, to keep.
- Teachers are the people ``DIGITNET_TEACHERS`` names (emails, or the names personal links
  show): they see what their class shared, remove any of it, and train a class model.

The router calls ``identify()`` on every run, before the page: it keeps the visitor in the
session (the answer callbacks of the next run read it there too) or stops the run on the
sign-in screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from digitnet import DigitnetError
from digitnet.data.collection.store import LOCAL_PERSON
from digitnet.training.jobs import TrainingLimit
from pages.common.collection import collection
from pages.common.server import PersonLimit, server

LOCAL, SIGNED_IN, LINK = "local", "signed in", "personal link"  # how the person is known
TOKEN_PARAM = "me"  # the personal link's query parameter
VISITOR = "people_visitor"  # this session's Visitor, set by identify() on every run


class UnknownLink(DigitnetError):
    """A ``?me=`` token that no person of this collection has."""


@dataclass(frozen=True)
class Visitor:
    person: str  # whose drawings: the collection's person
    how: str  # LOCAL, SIGNED_IN or LINK
    teacher: bool = False
    token: str | None = None  # the personal link's, for LINK

    @property
    def shared(self) -> bool:
        """On a server a class shares (anything but alone on a laptop)."""
        return self.how != LOCAL


def identify() -> Visitor:
    """For the router: this session's visitor, kept in the session and shown in the sidebar;
    or, if nobody is signed in or the personal link is not known here, a screen saying so,
    and the run stops there."""
    try:
        visitor = find_visitor()
    except DigitnetError as error:  # the collection cannot be used, or the link is not known
        st.error(str(error))
        if isinstance(error, UnknownLink):
            st.button("Start again with a new personal link", on_click=st.query_params.clear)
        st.stop()
    if visitor is None:
        sign_in_screen()
        st.stop()
    st.session_state[VISITOR] = visitor
    who_is_here(visitor)
    return visitor


def me() -> Visitor:
    """This session's visitor, as the router found it on this run (or the last one, for a
    callback); found now if the router has not run. DigitnetError if nobody is signed in."""
    visitor = st.session_state.get(VISITOR) or find_visitor()
    if visitor is None:
        raise DigitnetError("sign in first: on this server each person's drawings are kept apart")
    return visitor


def training_limit() -> TrainingLimit | PersonLimit:
    """What this person's trainings hold while they run: on a shared server one training at a
    time per person, within the server's limit; alone, the server's limit."""
    settings = server()
    visitor = me()
    return settings.trainings.of(visitor.person) if visitor.shared else settings.training_limit


def find_visitor() -> Visitor | None:
    """Who this is, from the settings, the sign-in and the address; None: not signed in."""
    settings = server()
    if not settings.shared:
        return Visitor(LOCAL_PERSON, LOCAL)
    if "is_logged_in" in st.user:  # secrets.toml has [auth]: people sign in
        if not st.user.is_logged_in:
            return None
        person = str(st.user.get("email") or st.user.get("sub"))
        return Visitor(person, SIGNED_IN, settings.is_teacher(person))
    return link_visitor()


def link_visitor() -> Visitor:
    """The person of the ``?me=`` token in the address, or a new personal link on a first
    visit. The token is put back in the address on every run: moving to another page drops
    it, and the address must stay the link."""
    token = st.query_params.get(TOKEN_PARAM)
    known: Visitor | None = st.session_state.get(VISITOR)
    if known is None or known.how != LINK or token not in (None, known.token):
        store = collection()
        if token:
            person = store.person_for_token(token)
            if person is None:
                raise UnknownLink(
                    "this personal link is not known on this server (mistyped, or cut short?): "
                    "open your link again, or start again with a new one"
                )
        else:
            person, token = store.new_personal_link()
        known = Visitor(person, LINK, server().is_teacher(person), token)
    if st.query_params.get(TOKEN_PARAM) != known.token:
        st.query_params[TOKEN_PARAM] = known.token
    return known


def sign_in_screen() -> None:
    st.title("digitnet")
    st.write(
        "This server is shared by a class: each person's drawings are kept apart. Sign in to "
        "draw, keep and train on yours."
    )
    st.button(
        "Sign in", type="primary", icon=":material/login:", key="sign_in_button", on_click=st.login
    )


def who_is_here(visitor: Visitor) -> None:
    """The sidebar's line on who this is (nothing alone on a laptop)."""
    if not visitor.shared:
        return
    with st.sidebar:
        if visitor.how == SIGNED_IN:
            st.caption(f"Signed in as **{visitor.person}**")
            st.button("Sign out", icon=":material/logout:", key="sign_out", on_click=st.logout)
        else:
            st.caption(
                "Your personal link: keep it to come back to your drawings (after a reload, or "
                f"on another device). You are **{visitor.person}** on this server."
            )
            st.code(personal_link(visitor.token), language=None, wrap_lines=True)
        if visitor.teacher:
            st.caption("You are a teacher here: My drawings shows what your class shared.")


def personal_link(token: str) -> str:
    """The app's address with the token (just ``?me=...`` if the address is not known)."""
    address = (st.context.url or "").split("?")[0]
    return f"{address}?{TOKEN_PARAM}={token}"
