"""Time and peak memory of importing a Kaggle-size train.csv into the drawings collection, as the
CLI (``python -m digitnet drawings import``) and the My drawings page (``add_rows``, the
function its Import button calls, with the upload's bytes) do it. Each import runs in a process
of its own, so its peak memory (ru_maxrss) is its own.

The file is made here: 42,000 MNIST training digits, 77 MB like Kaggle's train.csv, first with
25 bad labels spread through it (refused: every one counted, the first 20 named), then without
(imported), then again (every row skipped: already in the collection). Written to a temporary
folder (or --folder), never into the repository.

    python -m benchmarks.bench_import [--rows 42000] [--folder DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digitnet.data.mnist import KAGGLE_TRAIN_COLUMNS, load_mnist

ROOT = Path(__file__).resolve().parents[1]
BAD_LABELS = ("10", "-1", "x", "3.5", "")  # taken in turn by the 25 bad rows
PAGE = """
import sys
import streamlit as st
from digitnet.data.collection.store import DrawingStore
from pages.drawings_page import OUTCOME, add_rows

add_rows(DrawingStore(), open(sys.argv[1], "rb").read(), "train.csv")
print(st.session_state[OUTCOME][1])
"""


def write_csvs(folder: Path, rows: int) -> tuple[Path, Path]:
    """(with 25 bad labels, without) train.csv files of the first ``rows`` MNIST digits."""
    mnist = load_mnist(download=False)
    table = np.column_stack(
        [mnist.train_labels[:rows], mnist.train_images[:rows].reshape(rows, -1)]
    )
    lines = [",".join(map(str, row)) for row in table.tolist()]
    header = ",".join(KAGGLE_TRAIN_COLUMNS)
    good, bad = folder / "train.csv", folder / "train-25-bad.csv"
    good.write_text("\n".join([header, *lines]) + "\n")
    for turn, row in enumerate(np.linspace(0, rows - 1, 27).astype(int)[1:-1]):
        lines[row] = BAD_LABELS[turn % len(BAD_LABELS)] + lines[row][lines[row].index(",") :]
    bad.write_text("\n".join([header, *lines]) + "\n")
    return bad, good


def measured(command: list[str], database: Path) -> tuple[float, float, str]:
    """(seconds, peak MB, last line it printed) of a command run against ``database``."""
    environment = os.environ | {
        "DIGITNET_DB": str(database),
        "PYTHONPATH": str(ROOT),
        "STREAMLIT_LOGGER_LEVEL": "error",  # bare mode warns on every session_state use
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read().decode()
    _, _, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    return seconds, usage.ru_maxrss / 1024, output.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=42_000)
    parser.add_argument("--folder", type=Path, help="where the CSVs go (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.folder or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        bad, good = write_csvs(folder, args.rows)
        print(f"{good.stat().st_size / 1e6:.1f} MB, {args.rows:,} rows")
        print(f"{'':<20}{'seconds':>8}{'peak MB':>9}  said")
        ways = {
            "cli": lambda csv: [sys.executable, "-m", "digitnet", "drawings", "import", str(csv)],
            "page": lambda csv: [sys.executable, "-c", PAGE, str(csv)],
        }
        for way, command in ways.items():
            database = Path(temporary) / f"{way}.sqlite"
            for what, csv in (("25 bad rows", bad), ("import", good), ("import again", good)):
                seconds, peak, said = measured(command(csv), database)
                print(f"{way + ' ' + what:<20}{seconds:>8.1f}{peak:>9.0f}  {said}")


if __name__ == "__main__":
    main()
