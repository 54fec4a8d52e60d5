"""A bounded load test of the real app: SESSIONS people draw digits at once on one server for
DURATION seconds while TRAINERS more train a small MLP on MNIST on the Train page (issue 8).

    DIGITNET_DATA=/work/shared/data/mnist python -m benchmarks.load_test \\
        [--duration 60] [--sessions 10] [--trainers 2]

Each drawing session draws a 1, waits for the Prediction metric to read 1, clears, draws a 0,
and so on until the time is up. It prints the time from the end of a stroke to the prediction
(p50 and p95, measured inside the page as tests/browser.py's PREDICTION_SHOWN does), the
strokes drawn, every error (an exception shown by the app, a traceback in the server's log, a
timeout: there must be none) and the server's peak memory (the RSS of the streamlit process and
its children, sampled every SAMPLE_SECONDS). Exit status 1 if there was an error (a session
that ends early, whatever ended it, is one) or no stroke was timed.

Bounded: the server and the browser listen on 127.0.0.1 only, the number of sessions and the
duration are fixed by the flags (within MAX_SESSIONS and MAX_DURATION), and it stops by itself,
server and browser included. It needs Debian's /usr/bin/chromium and playwright, like the
browser tests, whose server and drawing helpers it reuses.

One headless Chromium serves every session, each in a browser context of its own (its own
cookies, so its own Streamlit session). Playwright's sync API drives a browser only from the
thread that launched it, so this script launches Chromium itself and each thread connects to it
over the DevTools protocol with a Playwright of its own: the threads run the sync helpers of
tests/browser.py unchanged.

Measured (2 cores, load average 0.3 before the run; 10 drawers, 2 MLP 64 trainings, 60 s): 42
strokes, stroke end -> prediction p50 4.3 s, p95 8.2 s; trainings 2,283 and 5,001 batches;
server RSS 55 MB idle, peak 595 MB; the server used 0.3 cores while the machine was fully busy
(load average 12.0 after: the ten Chromium tabs on the same two cores). Errors: none. Before
the Draw page kept its canvas's key, 7 or 8 strokes in a run timed out: a canvas mounted after
Clear on the busy page was thrown away by streamlit-drawable-canvas (see pages/draw_page.py).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

from pages.common.server import DEFAULT_MAX_TRAININGS
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RECORD_STROKE_END,
    canvas_origin,
    clear,
    ink,
    mouse_stroke,
    one,
    open_page,
    open_train_page,
    prediction_after,
    progress_batches,
    rss_megabytes,
    start_training,
    streamlit_server,
    zero,
)

MAX_SESSIONS = 50
MAX_DURATION = 600  # seconds
SAMPLE_SECONDS = 0.5
SETUP_SECONDS = 300  # every session open (and the trainings started) within this, or give up
OPENING_AT_ONCE = 2  # sessions opened two at a time: people arrive, then draw at once
# Every session is a person looking at their own tab: no background throttling of its timers.
FOREGROUND_ARGS = [
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
]
DIGITS = [(one, "1"), (zero, "0")]


@dataclass
class Results:
    """What the sessions report, from many threads at once."""

    latencies: list[float] = field(default_factory=list)
    warmups: list[float] = field(default_factory=list)  # each session's first stroke
    errors: list[str] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds: server, machine
    seconds: float = 0.0  # from the start signal until the last session ended
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, value) -> None:
        with self.lock:
            getattr(self, name).append(value)


@contextmanager
def chromium(profile: Path) -> Iterator[str]:
    """One headless Chromium on 127.0.0.1: its DevTools endpoint, the browser stopped on
    leaving."""
    log_path = profile.with_suffix(".log")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                CHROMIUM,
                *CHROMIUM_ARGS,
                *FOREGROUND_ARGS,
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            yield devtools_endpoint(process, log_path)
        finally:
            process.terminate()
            process.wait(timeout=15)


def devtools_endpoint(process: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"DevTools listening on (ws://\S+)", log.read_text())
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise RuntimeError(f"chromium did not start: {log.read_text()}")


def tree_rss_megabytes(pid: int) -> float:
    """The RSS of a process and all its descendants: psutil's when it is installed, else
    /proc's."""
    try:
        import psutil
    except ImportError:
        return sum(rss_megabytes(member) for member in process_tree(pid))
    parent = psutil.Process(pid)
    members = [parent, *parent.children(recursive=True)]
    return sum(member.memory_info().rss for member in members) / 2**20


def process_tree(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return [pid, *(member for child in children for member in process_tree(child))]


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time used so far: by the process ``pid`` and its descendants ("server"), and by the
    whole machine, all cores together ("machine"; busy = neither idle nor waiting on disk)."""
    ticks = 0
    for member in process_tree(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    machine = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    busy = sum(machine) - machine[3] - machine[4]  # idle, iowait
    return {"server": ticks / os.sysconf("SC_CLK_TCK"), "machine": busy / os.sysconf("SC_CLK_TCK")}


class PeakMemory(threading.Thread):
    """Samples a process tree's RSS every SAMPLE_SECONDS until stopped; keeps the first and
    the highest sample."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.first = self.peak = tree_rss_megabytes(pid)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            try:
                self.peak = max(self.peak, tree_rss_megabytes(self.pid))
            except (FileNotFoundError, ProcessLookupError):  # a child ended between two reads
                continue

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def shown_exceptions(page: Page) -> list[str]:
    """The first line of every exception the app shows on the page."""
    boxes = page.get_by_test_id("stException").all_inner_texts()
    return [text.strip().splitlines()[0] for text in boxes if text.strip()]


def draw_digit(page: Page, index: int) -> float:
    """Draws a 1 (even ``index``) or a 0 and waits for the prediction: the seconds it took."""
    shape, expected = DIGITS[index % len(DIGITS)]
    x, y = canvas_origin(page)
    try:
        return prediction_after(page, mouse_stroke, shape(x, y), expected)
    except PlaywrightError as error:
        shown = page.get_by_test_id("stMetricValue").all_inner_texts()
        canvases = page.locator("canvas.lower-canvas").count()
        raise PlaywrightError(
            f"a {expected} drawn, the page shows {shown}, {canvases} drawing canvases with "
            f"{ink(page)} dark pixels: {error}"
        ) from None


def drawing(page: Page, until: float, results: Results, who: str) -> None:
    """Draws 1, 0, 1, ... waiting for each prediction and clearing, until ``until``."""
    strokes = 0
    while time.monotonic() < until:
        results.add("latencies", draw_digit(page, strokes))
        strokes += 1
        for text in shown_exceptions(page):
            results.add("errors", f"{who}: the app shows {text}")
        clear(page)


def training(page: Page, until: float, results: Results, who: str) -> None:
    """Keeps the Train page open (its polling keeps the job alive) until ``until``, then stops
    the training and waits for its result."""
    page.wait_for_timeout(max(0.0, until - time.monotonic()) * 1000)
    results.add("batches", progress_batches(page))
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Training stopped").wait_for(timeout=60_000)
    for text in shown_exceptions(page):
        results.add("errors", f"{who}: the app shows {text}")


def session(
    endpoint: str,
    open_session: Callable[[object], Page],
    act: Callable[[Page, float, Results, str], None],
    opening: threading.Semaphore,
    start: threading.Barrier,
    duration: float,
    results: Results,
    who: str,
) -> None:
    """One person: a browser context of their own, opened by ``open_session`` (taking a turn
    with ``opening``), then, once every session is ready, ``act`` for ``duration`` seconds. An
    error of any kind (a timeout, a failed check, a browser that will not connect) ends this
    session and counts (before the start, it ends the test)."""
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(endpoint)
            try:
                with opening:
                    page = open_session(browser)
                start.wait(timeout=SETUP_SECONDS)
                act(page, time.monotonic() + duration, results, who)
            finally:
                browser.close()
    except threading.BrokenBarrierError:
        results.add("errors", f"{who}: another session could not start")
    except Exception as error:
        start.abort()
        results.add("errors", f"{who}: {type(error).__name__}: {first_line(error)}")


def first_line(error: Exception) -> str:
    """The error's first line, and what it waited for (Playwright's call log says so)."""
    lines = str(error).strip().splitlines() or [""]
    waiting = [line.strip(" -") for line in lines if line.strip(" -").startswith("waiting for")]
    return "; ".join([lines[0][:200], *waiting[:1]])


def run_sessions(endpoint: str, url: str, args: argparse.Namespace, server_pid: int) -> Results:
    """Opens every session, starts the trainings, then lets them all go for ``duration``; the
    CPU time used from then on (the server's, the machine's) goes into the results."""
    results = Results()
    opening = threading.Semaphore(OPENING_AT_ONCE)
    started = {}

    def mark_start() -> None:
        started.update(cpu_seconds(server_pid))
        started["clock"] = time.monotonic()

    start = threading.Barrier(args.sessions + args.trainers, action=mark_start)

    def open_drawing(browser) -> Page:
        """The Draw page, after a first stroke: the server's first one loads what every
        session shares (the model, the nearest-digit index), a cost paid once per server."""
        page = open_page(browser, url)
        page.evaluate(RECORD_STROKE_END)
        page.wait_for_timeout(500)
        results.add("warmups", draw_digit(page, 0))
        clear(page)
        return page

    def open_training(browser) -> Page:
        page = open_train_page(browser, url)
        start_training(page, hidden="64", epochs=100, dev_size=2000)  # outlasts the test
        page.get_by_test_id("stProgress").wait_for(timeout=SETUP_SECONDS * 1000)
        return page

    people = [(open_training, training, f"trainer {n + 1}") for n in range(args.trainers)] + [
        (open_drawing, drawing, f"drawer {n + 1}") for n in range(args.sessions)
    ]
    threads = [
        threading.Thread(
            target=session,
            args=(endpoint, opener, act, opening, start, args.duration, results, who),
        )
        for opener, act, who in people
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if "clock" in started:
        results.seconds = time.monotonic() - started["clock"]
        for name, used in cpu_seconds(server_pid).items():
            results.cpu[name] = used - started[name]
    return results


def server_tracebacks(log: Path) -> list[str]:
    """Every traceback in the server's log, whole (the context of a failure is in its log)."""
    return [
        "server log: " + found.group(0).strip()
        for found in re.finditer(r"^Traceback.*?^\S.*?$", log.read_text(), re.M | re.S)
    ]


def report(args, results: Results, memory: PeakMemory, seconds: float, load_before: float) -> None:
    latencies = np.array(results.latencies) * 1000
    print(
        f"{args.sessions} drawing sessions and {args.trainers} trainings for {args.duration:.0f} s "
        f"against one server (wall time {seconds:.0f} s)"
    )
    if latencies.size:
        p50, p95 = np.percentile(latencies, [50, 95])
        print(
            f"strokes: {latencies.size}; stroke end -> prediction: p50 {p50:.0f} ms, "
            f"p95 {p95:.0f} ms, max {latencies.max():.0f} ms"
        )
    if results.warmups:
        print(f"first stroke of each session (before the start): max {max(results.warmups):.1f} s")
    print(f"batches trained: {', '.join(map(str, results.batches)) or 'none'}")
    print(f"server RSS: {memory.first:.0f} MB at the start, peak {memory.peak:.0f} MB")
    used = ", ".join(
        f"{name} {cpu:.0f} s ({cpu / results.seconds:.1f} cores)"
        for name, cpu in results.cpu.items()
    )
    print(f"CPU used in the {results.seconds:.0f} s run: {used}")
    print(
        f"the machine's load average ({os.cpu_count()} cores): {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print(f"errors: {len(results.errors)}")
    for error, count in Counter(results.errors).items():
        print(f"  {count} x {error}")


def bounded(low: float, high: float, kind: type) -> Callable[[str], float]:
    def check(text: str):
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text}: give a number from {low} to {high}")
        return value

    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=bounded(1, MAX_DURATION, float), default=60.0)
    parser.add_argument("--sessions", type=bounded(1, MAX_SESSIONS, int), default=10)
    parser.add_argument(
        "--trainers",
        type=bounded(0, DEFAULT_MAX_TRAININGS, int),
        default=DEFAULT_MAX_TRAININGS,
        help="at most the server's limit on trainings at once",
    )
    args = parser.parse_args(argv)
    if not os.environ.get("DIGITNET_DATA"):
        parser.error("DIGITNET_DATA is not set: point it at the folder holding the MNIST files")
    began, load_before = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="digitnet-load-") as folder:
        cache = Path(folder) / "cache"
        cache.mkdir()
        with (
            streamlit_server(cache) as (url, server),
            chromium(Path(folder) / "chrome") as endpoint,
        ):
            memory = PeakMemory(server.pid)
            memory.start()
            results = run_sessions(endpoint, url, args, server.pid)
            memory.stop()
        for error in server_tracebacks(cache / "server.log"):
            results.add("errors", error)
    report(args, results, memory, time.monotonic() - began, load_before)
    return 1 if results.errors or not results.latencies else 0


if __name__ == "__main__":
    sys.exit(main())
