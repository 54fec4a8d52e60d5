"""A class on the app, without browsers: PEOPLE people speak Streamlit's own websocket protocol to
SERVERS `streamlit run` servers sharing one database, for SECONDS seconds (issue 17).

    python -m benchmarks.class_load --people 30 --servers 2 --seconds 60 [--trainers 2]
        [--database postgresql|sqlite]

It starts the database (a PostgreSQL server of its own in a temporary folder, or an SQLite
file) and the app servers on 127.0.0.1 at free ports, then connects each person to a server in
turn (person i to server i mod SERVERS) at /_stcore/stream, as the browser's frontend does:
protobuf BackMsg's `rerun_script` (a ClientState: query string, page, widget states, fragment)
out, ForwardMsg's in (new_session, navigation, deltas, script_finished). A browser's widgets
are what the deltas name (an element's id, its fragment), so a person finds the canvas, Right
and "No, it's a ..." the way the frontend does.

Each drawing person draws a held-out pen digit (the pen-dev writers' strokes, placed on the
canvas as fabric.js paths with the PNG the canvas would send) stroke by stroke: after each
stroke the canvas's value goes out in a rerun of the Draw page's fragment, and the time until
the delta holding the page's verdict comes back is the latency (the Prediction metric, or the
heading saying it is not sure or sees no digit; or, while a first stroke is too little to read,
the hint to draw a digit). Then they answer: Right when the verdict is the digit drawn, else
"No, it's a <digit>", and each answer must come back "Saved as a ...". The canvas, emptied by
the save, sends its empty drawing back (as the browser's does), and after a pause of a few
seconds the next digit. TRAINERS of the people (the first ones) start an MLP training on the
Train page instead, keep its live view polling (the fragment's auto-reruns, as the browser
sends them), start another whenever one finishes, and stop the one running at the end.

The last line: `p50_s=... p95_s=... errors=N saved=N`. Every failure is an error: a session
that dies of an exception, a timeout, an exception or error shown by the app, a message the
person did not expect, a traceback in a server's log, and a count of saved drawings that is
not what the database holds for these people (checked after the run). Exit status 1 if there
was an error or nothing was timed; 2 for bad arguments.

Bounded: at most MAX_PEOPLE people and MAX_SECONDS seconds; everything listens on 127.0.0.1
(PostgreSQL on a Unix socket only) and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from unittest.mock import patch
from urllib.parse import parse_qs

import numpy as np
import websockets
from PIL import Image
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from benchmarks.load_test import PeakMemory, bounded, cpu_seconds, server_tracebacks
from digitnet.data.collection.store import DB_ENV, DrawingStore, total
from digitnet.data.pendigits import PEN_DEV_WRITERS, load_pen_data
from digitnet.data.stroke_augment import place
from digitnet.data.strokes import read_canvas_json, render
from pages.common.people import TOKEN_PARAM
from pages.common.server import SHARED_ENV
from pages.draw_page import DRAW_HINT
from tests.browser import streamlit_server
from tests.postgres import running_postgres, server_url
from tests.test_strokes import fabric_path

MAX_PEOPLE = 200
MAX_SECONDS = 600
MAX_SERVERS = 8
CANVAS_SIZE = 280  # the Draw page's canvas
DRAWINGS, DRAWINGS_A_PERSON = 100, 10  # pen-dev digits made before the run, for everyone
STROKE_PAUSE = (0.2, 0.6)  # seconds between two strokes of a digit
ANSWER_PAUSE = (0.5, 1.5)  # seconds to read the prediction before answering
NEXT_PAUSE = (2.0, 4.0)  # seconds before the next digit
OPENING_AT_ONCE = 4  # people arriving at once before the start
# The longest silence from a server within a run: longer is a timeout. Opening takes longer: a
# server's first visitors wait while it loads MNIST and the models (a minute and more, measured
# on a busy 2-core machine).
WAIT_SECONDS, OPENING_WAIT_SECONDS = 60, 300
TRAIN_PAGE = "train"
CANVAS_COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"
# The Draw page's verdict on a drawing: the Prediction metric (a digit), or a heading saying it
# is not sure or not a digit.
PREDICTION, VERDICT_HEADINGS = "Prediction", ("Not sure", "That doesn't look like a digit")
CORRECTION = "No, it's a ..."  # the Draw page's answer when the prediction is wrong
# The Train page once a training ends: finished by itself, or stopped (one may finish just as
# it is stopped).
FINISHED_TRAINING = "Training finished"
STOPPED = ("Training stopped", FINISHED_TRAINING)
FINISHED = ForwardMsg.ScriptFinishedStatus
RUN_DONE = (FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)


class Failure(Exception):
    """What ends a person's session: a timeout, something the app showed or said that a person
    did not expect."""


# --- Drawings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PenDrawing:
    """A held-out pen digit as the canvas sends it after each of its strokes: the canvas
    component's state value (fabric.js paths as `raw`, the PNG as a data URL)."""

    label: int
    after_each_stroke: tuple[dict, ...]


def canvas_value(objects: list[dict]) -> dict:
    """The canvas component's state after these paths are drawn: the value its frontend sends
    (``setStateValue("drawing", {raw, data})`` in streamlit-drawable-canvas's index.js)."""
    raw = {"version": "6.0.0", "objects": objects, "background": "#FFFFFF"}
    rgba = render(read_canvas_json(raw, CANVAS_SIZE, CANVAS_SIZE))
    png = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(png, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")
    return {"drawing": {"raw": raw, "data": url}}


@cache
def empty_canvas_url() -> str:
    return canvas_value([])["drawing"]["data"]


def pen_drawings(count: int, seed: int = 0) -> list[PenDrawing]:
    """``count`` digits of the pen-dev writers (never trained on), each placed on the canvas
    with a size, place and brush of its own."""
    dev = load_pen_data(download=False).of_writers(PEN_DEV_WRITERS)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(dev.strokes), size=min(count, len(dev.strokes)), replace=False)
    drawings = []
    for index in chosen:
        placed = place([dev.strokes[index]], rng, CANVAS_SIZE, "white")[0]
        paths = [fabric_path(stroke, placed.brush_width) for stroke in placed.strokes]
        values = tuple(canvas_value(paths[: n + 1]) for n in range(len(paths)))
        drawings.append(PenDrawing(int(dev.labels[index]), values))
    return drawings


# --- Streamlit's protocol ----------------------------------------------------------------------


@dataclass(frozen=True)
class Widget:
    """A widget as a delta names it: its id and the fragment it is in ("" for none)."""

    id: str
    fragment_id: str


@dataclass
class Run:
    """What one script run sent back: its elements by kind, in order, and when the first
    element that ``wanted`` accepts arrived (seconds after the rerun was sent)."""

    elements: list[tuple[str, object]] = field(default_factory=list)
    wanted_after: float | None = None
    finished_after: float = 0.0

    def texts(self, kind: str) -> list[str]:
        return [element.body for element_kind, element in self.elements if element_kind == kind]

    def element(self, kind: str, label: str):
        """The last element of this kind with this label, or None."""
        found = [e for k, e in self.elements if k == kind and getattr(e, "label", "") == label]
        return found[-1] if found else None


class Session:
    """One browser tab, as Streamlit's frontend is to the server: a websocket to
    /_stcore/stream, the widgets the last deltas named (by label; a component by its name),
    the pages (by URL path) and the canvas's value, which the frontend sends with every rerun.
    Messages come in order and a run ends with script_finished, so one reader suffices."""

    def __init__(self, websocket, name: str) -> None:
        self.websocket = websocket
        self.name = name
        self.widgets: dict[str, Widget] = {}
        self.components: dict[str, tuple[Widget, dict]] = {}  # name: (widget, its data)
        self.pages: dict[str, str] = {}  # URL path: page script hash
        self.page_hash = ""
        self.held: dict[str, WidgetState] = {}  # widget id: the value the browser holds
        self.auto_rerun: tuple[float, str] | None = None  # (interval, fragment id)
        self.query = ""  # the address's query string: the personal link's token, once given
        self.patience = WAIT_SECONDS  # the longest silence within a run

    def hold(self, widget: Widget, **value) -> WidgetState:
        """Keeps a widget's value (as the browser's widget manager does) for every rerun."""
        state = WidgetState(id=widget.id, **value)
        self.held[widget.id] = state
        return state

    async def rerun(
        self,
        fragment_id: str = "",
        trigger: WidgetState | None = None,
        page: str | None = None,
        auto: bool = False,
        wanted: Callable[[str, object], bool] | None = None,
    ) -> Run:
        """Sends a rerun (of the page, or of one fragment) with the values held and
        ``trigger`` (a button's click, sent once), then reads until the run is over."""
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        if page is not None:  # a page of the sidebar, or the first page opened by its URL
            self.page_hash = self.pages.get(page, "")
            state.page_name = page
        state.page_script_hash = self.page_hash
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.widget_states.widgets.extend(self.held.values())
        if trigger is not None:
            state.widget_states.widgets.append(trigger)
        sent = time.perf_counter()
        await self.websocket.send(message.SerializeToString())
        return await self.read_run(sent, wanted)

    async def read_run(self, sent: float, wanted) -> Run:
        """The messages of one run, until it ends. A fragment's polling (auto_rerun) holds
        until a full run leaves it out, as in the browser: a rerun of a fragment that is gone
        gets no answer at all."""
        run, announced = Run(), False
        while True:
            try:
                data = await asyncio.wait_for(self.websocket.recv(), self.patience)
            except TimeoutError:
                shown = [kind for kind, _ in run.elements][-6:]
                waited = f"no end of the run after {self.patience} s; the last shown {shown}"
                raise Failure(waited) from None
            arrived = time.perf_counter()
            message = ForwardMsg()
            message.ParseFromString(data)
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element_kind, element = self.read_element(message.delta)
                run.elements.append((element_kind, element))
                if wanted and run.wanted_after is None and wanted(element_kind, element):
                    run.wanted_after = arrived - sent
            elif kind == "navigation":
                self.pages = {
                    page.url_pathname: page.page_script_hash
                    for page in message.navigation.app_pages
                }
                self.page_hash = message.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query = message.page_info_changed.query_string
            elif kind == "auto_rerun":
                self.auto_rerun = (message.auto_rerun.interval, message.auto_rerun.fragment_id)
                announced = True
            elif kind == "stop_auto_rerun" and self.auto_rerun:
                if self.auto_rerun[1] in message.stop_auto_rerun.fragment_ids:
                    self.auto_rerun = None
            elif kind == "page_not_found":
                raise Failure(f"page not found: {message.page_not_found.page_name}")
            elif kind == "script_finished":
                if message.script_finished == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                    raise Failure("the app did not compile")
                if message.script_finished == FINISHED.FINISHED_SUCCESSFULLY and not announced:
                    self.auto_rerun = None  # a full run that left no polling fragment
                if message.script_finished in RUN_DONE:
                    run.finished_after = arrived - sent
                    return run

    def read_element(self, delta) -> tuple[str, object]:
        """Notes a widget's id; an exception or an error shown is a failure."""
        kind = delta.new_element.WhichOneof("type")
        element = getattr(delta.new_element, kind)
        if kind == "exception":
            raise Failure(f"the app shows {element.type}: {element.message}")
        if kind == "alert" and element.format == element.ERROR:
            raise Failure(f"the app shows the error: {element.body}")
        widget_id = getattr(element, "id", "")
        if widget_id:
            widget = Widget(widget_id, delta.fragment_id)
            if kind == "bidi_component":
                self.components[element.component_name] = (widget, json.loads(element.json))
            else:
                self.widgets[element.label] = widget
        return kind, element

    @contextmanager
    def patient(self) -> Iterator[None]:
        """Longer waits, while a server loads what its first visitors need."""
        self.patience = OPENING_WAIT_SECONDS
        try:
            yield
        finally:
            self.patience = WAIT_SECONDS

    def widget(self, label: str) -> Widget:
        if label not in self.widgets:
            raise Failure(f"no widget {label!r} on the page")
        return self.widgets[label]

    async def click(self, label: str) -> Run:
        """Clicks a button: its trigger, sent once, reruns its fragment (or the page)."""
        button = self.widget(label)
        return await self.rerun(button.fragment_id, WidgetState(id=button.id, trigger_value=True))

    async def choose(self, label: str, **value) -> Run:
        """Sets a widget's value, as the browser does once it is changed: a rerun."""
        widget = self.widget(label)
        self.hold(widget, **value)
        return await self.rerun(widget.fragment_id)


@asynccontextmanager
async def connected(
    url: str, name: str, query: str = "", headers: dict[str, str] | None = None
) -> AsyncIterator[Session]:
    """A session of the app at ``url`` (http://host:port), opened at ``query``; ``headers``
    (a cookie, an Origin) as a browser would send them."""
    stream = url.replace("http://", "ws://") + "/_stcore/stream"
    async with websockets.connect(
        stream, subprotocols=["streamlit"], max_size=None, additional_headers=headers
    ) as ws:
        session = Session(ws, name)
        session.query = query
        yield session


@contextmanager
def noted(results: Results, who: str) -> Iterator[None]:
    """Any way a session dies is an error of its own, named after the person."""
    try:
        yield
    except Failure as failure:
        results.errors.append(f"{who}: {failure}")
    except (OSError, websockets.WebSocketException) as error:
        results.errors.append(f"{who}: connection: {type(error).__name__}: {error}")
    except Exception as error:  # a bug in this script or a message it misread: still an error
        results.errors.append(f"{who}: {type(error).__name__}: {error}")


# --- People ------------------------------------------------------------------------------------


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # stroke sent -> prediction's delta
    whole_runs: list[float] = field(default_factory=list)  # stroke sent -> its run's end
    warmups: list[float] = field(default_factory=list)  # each drawer's first stroke
    errors: list[str] = field(default_factory=list)
    people: dict[str, tuple[str, int]] = field(default_factory=dict)  # (query, saves) by name
    right: int = 0  # answered Right
    corrected: int = 0  # answered "No, it's a ..."
    batches: list[str] = field(default_factory=list)  # each training's progress at its end
    trainings_finished: int = 0  # before the end, each started again
    seconds: float = 0.0  # from the start until the last person ended
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used in those
    memory: list[tuple[float, float]] = field(default_factory=list)  # each server's RSS, MB


def verdict(kind: str, element) -> str | None:
    """What the Draw page said of the drawing, if this element says it: the digit read ("7"),
    or the heading saying why it read none."""
    if kind == "metric" and element.label == PREDICTION:
        return element.body
    if kind == "heading" and element.body.startswith(VERDICT_HEADINGS):
        return element.body
    return None


def answers_stroke(kind: str, element) -> bool:
    """Whether this element is the Draw page's answer to a stroke: its verdict, or the hint to
    draw a digit while there is too little to read (a dot, the first stroke of some 8s)."""
    return verdict(kind, element) is not None or (kind == "alert" and element.body == DRAW_HINT)


class Drawer:
    """A person on the Draw page: digit after digit, stroke by stroke, answering each."""

    def __init__(self, session: Session, drawings: list[PenDrawing], rng, results: Results):
        self.session, self.drawings, self.rng, self.results = session, drawings, rng, results
        self.saved = 0  # drawings the app said it saved

    async def open(self) -> None:
        """The Draw page, and a first digit (its strokes are not timed)."""
        with self.session.patient():
            await self.session.rerun()
            self.results.warmups += [run.wanted_after for run in await self.draw()]

    async def act(self, until: float) -> None:
        while time.monotonic() < until:
            for run in await self.draw():
                self.results.latencies.append(run.wanted_after)
                self.results.whole_runs.append(run.finished_after)
            await asyncio.sleep(self.rng.uniform(*NEXT_PAUSE))

    async def draw(self) -> list[Run]:
        """One digit, stroke by stroke, then answered: each stroke's run."""
        drawing = self.drawings[self.rng.integers(len(self.drawings))]
        canvas, _ = self.session.components[CANVAS_COMPONENT]
        runs = []
        for index, value in enumerate(drawing.after_each_stroke):
            if index:
                await asyncio.sleep(self.rng.uniform(*STROKE_PAUSE))
            self.session.hold(canvas, json_value=json.dumps(value))
            run = await self.session.rerun(canvas.fragment_id, wanted=answers_stroke)
            if run.wanted_after is None:
                raise Failure(f"no answer to stroke {index + 1} of a {drawing.label}")
            runs.append(run)
        said = [text for text in (verdict(kind, element) for kind, element in run.elements) if text]
        if not said:
            raise Failure(f"no verdict on a whole {drawing.label}: {run.texts('alert')}")
        await asyncio.sleep(self.rng.uniform(*ANSWER_PAUSE))
        await self.answer(drawing.label, said[-1], run)
        return runs

    async def answer(self, label: int, said: str, shown: Run) -> None:
        """Right, or "No, it's a ..." (the keypad ``shown`` by the last run: 0 to 9 and "Not a
        digit", sent as the option's text): the app must say it saved it; then the emptied
        canvas sends its empty drawing back, as the browser's does."""
        if said == str(label):
            self.results.right += 1
            run = await self.session.click("Right")
        else:
            self.results.corrected += 1
            key = shown.element("button_group", CORRECTION).options[label].content
            run = await self.session.choose(CORRECTION, string_array_value={"data": [key]})
            del self.session.held[self.session.widget(CORRECTION).id]  # each digit has its own
        if not any(re.fullmatch(rf"Saved as an? {label}\.", text) for text in run.texts("alert")):
            raise Failure(f"a {label} answered, the app said {run.texts('alert')}")
        self.saved += 1
        canvas, data = self.session.components[CANVAS_COMPONENT]
        empty = {"raw": data["initialDrawing"], "data": empty_canvas_url()}
        self.session.hold(canvas, json_value=json.dumps({"drawing": empty}))
        await self.session.rerun(canvas.fragment_id)


@dataclass(frozen=True)
class Training:
    """The Train page's settings a trainer fills in (an MLP on MNIST)."""

    hidden: str = "64"
    epochs: int = 100  # outlasts the run
    dev_size: int = 2000


class Trainer:
    """A person on the Train page: an MLP started on MNIST, its live view polled until the end,
    then stopped; the app must say it stopped."""

    saved = 0  # a trainer saves no drawing

    def __init__(self, session: Session, results: Results, training: Training = Training()):
        self.session, self.results, self.training = session, results, training

    async def open(self) -> None:
        """The Draw page first (any address opens it), then Train through the sidebar, and
        the settings filled in (the browser sends each once it is changed)."""
        session = self.session
        with session.patient():
            await session.rerun()
            await session.rerun(page=TRAIN_PAGE)
            await session.choose("Hidden layer sizes", string_value=self.training.hidden)
            await session.choose("Epochs", double_value=self.training.epochs)
            await session.choose("Dev size", double_value=self.training.dev_size)

    async def act(self, until: float) -> None:
        """Starts when the class does (a training nobody polls stops within its idle timeout),
        and again whenever one finishes before the class does (on a quiet machine the MLP's
        100 epochs take about a minute)."""
        run = await self.session.click("Start")
        while time.monotonic() < until:
            if self.session.auto_rerun is None and finished(run):
                self.results.trainings_finished += 1
                run = await self.session.click("Start")
            else:
                run = await self.poll(run)
        progress = [element.text for kind, element in run.elements if kind == "progress"]
        self.results.batches.append(progress[-1] if progress else "no progress shown")
        if self.session.auto_rerun is not None:  # still running: stopped, as a person would
            run = await self.session.click("Stop")
            await self.poll_until(run, STOPPED)

    async def poll(self, last: Run) -> Run:
        """The live view's next rerun, when the browser would send it."""
        if self.session.auto_rerun is None:
            raise Failure(f"the training's live view is gone: the app said {last.texts('alert')}")
        interval, fragment_id = self.session.auto_rerun
        await asyncio.sleep(interval)
        return await self.session.rerun(fragment_id, auto=True)

    async def poll_until(self, run: Run, said: tuple[str, ...]) -> Run:
        """Polls until the page says one of ``said`` (an alert starting so): that run."""
        deadline = time.monotonic() + self.session.patience
        while not any(text.startswith(said) for text in run.texts("alert")):
            if time.monotonic() > deadline:
                raise Failure(f"waited for {said!r}: the app said {run.texts('alert')}")
            run = await self.poll(run)
        return run


def finished(run: Run) -> bool:
    """Whether the Train page says its training finished."""
    return any(text.startswith(FINISHED_TRAINING) for text in run.texts("alert"))


async def person(
    url: str,
    who: str,
    make: Callable[[Session], Drawer | Trainer],
    opening: asyncio.Semaphore,
    ready: asyncio.Barrier,
    seconds: float,
    results: Results,
) -> None:
    """One person: connects, opens their page (a few people at a time), waits until everyone
    is ready, then acts for ``seconds``. A person who cannot open breaks the start."""
    with noted(results, who):
        async with connected(url, who) as session:
            someone = make(session)
            try:
                try:
                    async with opening:
                        await someone.open()
                except BaseException:
                    await ready.abort()
                    raise
                await ready.wait()
                await someone.act(time.monotonic() + seconds)
            except asyncio.BrokenBarrierError:
                pass  # the one who could not open has said why
            finally:  # what they saved, even if they could not go on
                results.people[who] = (someone.session.query, someone.saved)


async def run_class(servers: list[AppServer], args: argparse.Namespace, results: Results) -> None:
    """Everyone, person i on server i mod len(servers); the CPU used from the start on (all
    servers, this client, the machine) goes into the results."""
    drawings = pen_drawings(min(DRAWINGS, DRAWINGS_A_PERSON * args.people), args.seed)
    opening, ready = asyncio.Semaphore(OPENING_AT_ONCE), asyncio.Barrier(args.people + 1)
    people = []
    for n in range(args.people):
        rng = np.random.default_rng([args.seed, n])
        if n < args.trainers:
            who, make = f"trainer {n + 1}", lambda s: Trainer(s, results)
        else:
            who = f"drawer {n + 1 - args.trainers}"
            make = lambda s, rng=rng: Drawer(s, drawings, rng, results)  # noqa: E731
        url = servers[n % len(servers)].url
        people.append(
            asyncio.create_task(person(url, who, make, opening, ready, args.seconds, results))
        )
    with suppress(asyncio.BrokenBarrierError):  # someone could not open: they said why
        await ready.wait()
    began, used = time.monotonic(), cpu_used(servers)
    await asyncio.gather(*people)
    results.seconds = time.monotonic() - began
    results.cpu = {name: seconds - used[name] for name, seconds in cpu_used(servers).items()}


def cpu_used(servers: list[AppServer]) -> dict[str, float]:
    """CPU seconds so far: the app servers' (children included), this client's, the machine's."""
    machine = cpu_seconds(os.getpid())
    return {
        "servers": sum(cpu_seconds(server.pid)["server"] for server in servers),
        "client": time.process_time(),
        "machine": machine["machine"],
    }


# --- The database and the servers --------------------------------------------------------------


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """The value of DIGITNET_DB for every server: an SQLite file in ``folder``, or the URL of a
    PostgreSQL server of its own (the tests' PostgreSQL, started the tests' way)."""
    if kind == "sqlite":
        yield str(folder / "drawings.sqlite")
        return
    with running_postgres() as socket_folder:
        yield server_url(socket_folder)


@dataclass(frozen=True)
class AppServer:
    url: str
    pid: int
    log: Path


@contextmanager
def app_servers(count: int, folder: Path) -> Iterator[list[AppServer]]:
    """``count`` servers, each with a cache folder of its own (its log in it)."""
    with ExitStack() as stack:
        running = []
        for n in range(count):
            cache = folder / f"server-{n + 1}"
            cache.mkdir()
            url, process = stack.enter_context(streamlit_server(cache))
            running.append(AppServer(url, process.pid, cache / "server.log"))
        yield running


def stored_for(db: str, people: dict[str, tuple[str, int]]) -> dict[str, int]:
    """The drawings the database holds for each person (by their personal link's token)."""
    store = DrawingStore(db)
    stored = {}
    for who, (query, _) in people.items():
        token = parse_qs(query).get(TOKEN_PARAM, [None])[0]
        person = store.person_for_token(token)
        counts = store.counts_by_digit(person=person).values() if person else []
        stored[who] = total(counts).drawings
    return stored


@dataclass
class Report:
    results: Results
    stored: dict[str, int]  # the database's count for each person
    seconds: float
    load_before: float

    @property
    def errors(self) -> list[str]:
        """Every error, a person whose saves the database does not hold as many of included."""
        return self.results.errors + [
            f"MISMATCH: {who} saved {saved} drawings, the database holds {self.stored[who]}"
            for who, (_, saved) in self.results.people.items()
            if self.stored[who] != saved
        ]


def run(args: argparse.Namespace, db: str | None = None) -> Report:
    """Starts the database (unless given ``db``, a test's) and the servers, runs the class,
    stops the servers, and counts what the database holds."""
    began, load_before = time.monotonic(), os.getloadavg()[0]
    results = Results()
    with tempfile.TemporaryDirectory(prefix="digitnet-class-") as name, ExitStack() as stack:
        folder = Path(name)
        db = db or stack.enter_context(database(args.database, folder))
        stack.enter_context(patch.dict(os.environ, {DB_ENV: db, SHARED_ENV: "1"}))
        with app_servers(args.servers, folder) as servers:
            memories = [PeakMemory(server.pid) for server in servers]
            for memory in memories:
                memory.start()
            asyncio.run(run_class(servers, args, results))
            for memory in memories:
                memory.stop()
            results.memory = [(memory.first, memory.peak) for memory in memories]
        for server in servers:  # stopped: their logs are whole
            results.errors.extend(server_tracebacks(server.log))
        stored = stored_for(db, results.people)
    return Report(results, stored, time.monotonic() - began, load_before)


def report(args: argparse.Namespace, outcome: Report) -> None:
    results = outcome.results
    print(
        f"{args.people - args.trainers} people drawing and {args.trainers} training for "
        f"{args.seconds:.0f} s on {args.servers} servers and {args.database} (wall time "
        f"{outcome.seconds:.0f} s; load average before {outcome.load_before:.1f}, after "
        f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)"
    )
    if results.warmups:
        print(f"first stroke of each person (before the start): max {max(results.warmups):.2f} s")
    if results.latencies:
        ends = np.percentile(results.whole_runs, [50, 95])
        print(
            f"strokes timed: {len(results.latencies)}, max {max(results.latencies):.2f} s; to "
            f"the end of their run (the inside view): p50 {ends[0]:.2f} s, p95 {ends[1]:.2f} s"
        )
    print(f"answers: {results.right} Right, {results.corrected} corrected")
    for text in results.batches:
        print(f"a training at the end: {text}")
    if results.trainings_finished:
        again = results.trainings_finished
        print(f"trainings that finished before the end (each started again): {again}")
    if results.seconds:
        used = ", ".join(
            f"{name} {seconds:.0f} s ({seconds / results.seconds:.2f} cores)"
            for name, seconds in results.cpu.items()
        )
        print(f"CPU used in the {results.seconds:.0f} s from the start: {used}")
    for n, (first, peak) in enumerate(results.memory):
        print(f"server {n + 1} RSS: {first:.0f} MB when it answered, peak {peak:.0f} MB")
    errors = outcome.errors
    for error, count in Counter(errors).items():
        print(f"  error: {count} x {error}")
    p50, p95 = np.percentile(results.latencies, [50, 95]) if results.latencies else (np.nan,) * 2
    saved = sum(saves for _, saves in results.people.values())
    print(f"p50_s={p50:.3f} p95_s={p95:.3f} errors={len(errors)} saved={saved}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=bounded(1, MAX_PEOPLE, int), default=30)
    parser.add_argument("--servers", type=bounded(1, MAX_SERVERS, int), default=2)
    parser.add_argument("--seconds", type=bounded(1, MAX_SECONDS, float), default=60.0)
    parser.add_argument(
        "--trainers", type=bounded(0, MAX_PEOPLE, int), default=2, help="of the people"
    )
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--seed", type=int, default=0, help="which digits, pauses")
    args = parser.parse_args(argv)
    if args.trainers > args.people:
        parser.error(f"--trainers {args.trainers} is more than --people {args.people}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outcome = run(args)
    report(args, outcome)
    return 1 if outcome.errors or not outcome.results.latencies else 0


if __name__ == "__main__":
    sys.exit(main())
