"""Does `digitnet.data.strokes` draw what the browser's canvas draws? Strokes drawn with the mouse
in headless Chromium on the real `st_canvas` (the app's settings: 280 x 280, brush 20, black ink),
then compared: the canvas's own PNG against `render(read_canvas_json(json_data))`, and both through
`canvas_to_mnist`.

python -m benchmarks.canvas_match # needs /usr/bin/chromium and playwright

A bare page holding only the canvas writes what `st_canvas` returns (json_data and the image) to a
folder after every stroke; this script starts it with `streamlit run`, draws a 0, a 7 with a
crossbar (two strokes) and a 2, on white and on the canvas's transparent background, and prints the
differences (ink levels as shares of full ink; 28x28 pixels in [0, 1]).
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

from digitnet.data.preprocess import canvas_to_mnist
from digitnet.data.strokes import read_canvas_json, render, to_mnist

CHROMIUM = "/usr/bin/chromium"
PAGE = """
import json, os
import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

folder = os.environ["CANVAS_MATCH_OUT"]
result = st_canvas(stroke_width=20, stroke_color="#000000",
                   background_color=os.environ["CANVAS_MATCH_BACKGROUND"], width=280, height=280,
                   drawing_mode="freedraw", update_streamlit=True, return_image_data=True,
                   key="canvas")
if result.json_data and result.json_data.get("objects"):
    count = len(result.json_data["objects"])
    np.save(f"{folder}/{count}.npy", result.image_data)
    with open(f"{folder}/{count}.json", "w") as handle:
        json.dump(result.json_data, handle)
    st.write(f"saved {count}")
"""


def digits(x: float, y: float) -> dict[str, list[list[tuple[float, float]]]]:
    """Mouse strokes in page coordinates, the canvas's corner at (x, y)."""
    turn = [i / 40 * 2 * math.pi for i in range(41)]
    arc = [i / 12 * math.pi for i in range(13)]
    return {
        "0": [[(x + 140 + 65 * math.sin(t), y + 140 - 95 * math.cos(t)) for t in turn]],
        "7": [
            [(x + 70, y + 60), (x + 120, y + 58), (x + 210, y + 60), (x + 170, y + 130)]
            + [(x + 130, y + 230)],
            [(x + 110, y + 140), (x + 200, y + 140)],
        ],
        "2": [
            [(x + 80 + 60 * (1 - math.cos(a)), y + 110 - 60 * math.sin(a)) for a in arc]
            + [(x + 80, y + 230), (x + 210, y + 230)]
        ],
    }


def start_page(folder: Path, background: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (folder / "page.py").write_text(PAGE)
    environment = {
        **os.environ,
        "CANVAS_MATCH_OUT": str(folder),
        "CANVAS_MATCH_BACKGROUND": background,
    }
    command = [sys.executable, "-m", "streamlit", "run", str(folder / "page.py")]
    command += ["--server.headless", "true", "--server.address", "127.0.0.1"]
    command += ["--server.port", str(port)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("streamlit did not start")


def compare(folder: Path, count: int) -> tuple[float, float, float, float]:
    """Mean and largest ink difference on the canvas, then on the 28x28 image."""
    browser = np.load(folder / f"{count}.npy")
    drawing = read_canvas_json(json.loads((folder / f"{count}.json").read_text()), 280, 280)
    ours = render(drawing)
    if drawing.background == "transparent":
        ink_browser, ink_ours = browser[..., 3], ours[..., 3]
    else:
        ink_browser, ink_ours = 255 - browser[..., 0], 255 - ours[..., 0]
    canvas = np.abs(ink_browser.astype(int) - ink_ours) / 255
    small = np.abs(canvas_to_mnist(browser) - to_mnist(drawing))
    return canvas.mean(), canvas.max(), small.mean(), small.max()


def main() -> None:
    print("background   digit  canvas mean / max   28x28 mean / max")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        for background in ("#FFFFFF", ""):
            with tempfile.TemporaryDirectory() as name:
                folder = Path(name)
                process, url = start_page(folder, background)
                try:
                    for label in ("0", "7", "2"):
                        page = chromium.new_context(viewport={"width": 1000, "height": 800})
                        page = page.new_page()
                        page.set_default_timeout(60_000)
                        page.goto(url)
                        canvas = page.locator("canvas").last  # fabric's upper canvas
                        canvas.wait_for()
                        page.wait_for_timeout(1000)
                        box = canvas.bounding_box()
                        strokes = digits(box["x"], box["y"])[label]
                        for number, points in enumerate(strokes, start=1):
                            page.mouse.move(*points[0])
                            page.mouse.down()
                            for point in points[1:]:
                                page.mouse.move(*point, steps=4)
                            page.mouse.up()
                            page.get_by_text(f"saved {number}").wait_for()
                        figures = compare(folder, len(strokes))
                        print(
                            f"{background or 'transparent':12} {label:5}  "
                            "{:.4f} / {:.3f}      {:.4f} / {:.3f}".format(*figures)
                        )
                        page.close()
                finally:
                    process.terminate()
                    process.wait(timeout=15)
        chromium.close()


if __name__ == "__main__":
    main()
