"""Speed of the saved-drawings collection as the pages use it: one save (the "Right" click), then
listing, counting, splitting, exporting and importing a personal set of drawings. Each drawing
has three strokes of 80 points on a 280x280 canvas. Written to a temporary folder, or with --db
to an empty PostgreSQL database (dropped tables are not cleaned up: give a new database).

    python -m benchmarks.bench_drawings [--count 500] [--db postgresql:///bench?host=/socket/dir]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from digitnet.data.collection.limits import Limits
from digitnet.data.collection.store import DrawingStore


def timed(what: str, action) -> None:
    started = time.perf_counter()
    action()
    print(f"{what}: {(time.perf_counter() - started) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--db", help="an empty PostgreSQL database's URL (default: SQLite)")
    args = parser.parse_args()
    count, rng = args.count, np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        limits = Limits(saves_per_minute=count)
        store = DrawingStore(args.db or Path(folder) / "drawings.sqlite", limits=limits)
        seconds = []
        for number in range(count):
            started = time.perf_counter()
            store.add(
                person="bench",
                label=number % 10,
                image=rng.random((28, 28), dtype=np.float32),
                session="bench",
                strokes=[rng.random((80, 2)) * 280 for _ in range(3)],
                canvas_width=280,
                canvas_height=280,
                brush_width=18.0,
                prediction=number % 10,
                probabilities=np.full(10, 0.1),
                model_checksum="bench",
            )
            seconds.append(time.perf_counter() - started)
        p50, p99 = np.percentile(np.array(seconds) * 1000, [50, 99])
        print(f"one save: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        if store.path is not None:
            print(f"file size: {store.path.stat().st_size / count / 1024:.1f} KB a drawing")
        timed(f"list {count}", lambda: store.list(person="bench"))
        timed("counts_by_digit", lambda: store.counts_by_digit(person="bench"))
        timed(f"labelled_images {count}", lambda: store.labelled_images(person="bench"))
        timed(f"split {count}", lambda: store.split(person="bench"))
        csv = Path(folder) / "mine.csv"
        timed(f"export_csv {count}", lambda: store.export_csv(csv, person="bench"))
        timed(f"import_csv {count}", lambda: store.import_csv(csv, person="another"))


if __name__ == "__main__":
    main()
