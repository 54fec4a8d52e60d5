"""The folders are the architecture: each wing of digitnet imports only the wings below it, and
reading a drawing with a shipped model loads only the network and the preprocessing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "digitnet"
FOUNDATION = {"errors", "images", "files"}
# What each wing may import, besides itself and the foundation. The network knows images only
# by their shape; the data knows nothing of networks; reading runs a network on a drawing;
# analysis looks at trained networks on data; training uses them all; the command line sits on
# top.
MAY_IMPORT = {
    "foundation": set(),
    "network": set(),
    "data": set(),
    "reading": {"network", "data"},
    "analysis": {"network", "data", "reading"},
    "training": {"network", "data", "reading", "analysis", "top"},  # top: the version, for the card
    "cli": {"network", "data", "reading", "analysis", "training", "top"},
}
NEVER_IN_DIGITNET = ("streamlit", "torch", "tensorflow", "jax", "sklearn")


def wing(module: str) -> str:
    """The wing of a dotted module name under digitnet ("digitnet.data.mnist" -> "data")."""
    parts = module.split(".")
    if len(parts) == 1:
        return "top"
    if parts[1] in FOUNDATION:
        return "foundation"
    return "cli" if parts[1] in ("cli", "__main__") else parts[1]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    named = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named.add(node.module)
            named.update(f"{node.module}.{alias.name}" for alias in node.names)
    return named


def test_every_module_belongs_to_a_known_wing():
    wings = {wing(name) for name in modules()}
    assert wings <= {"top", *MAY_IMPORT}, wings - {"top", *MAY_IMPORT}


def test_each_wing_imports_only_the_wings_below_it():
    known = modules()
    wrong = []
    for name, path in known.items():
        if wing(name) == "top":
            continue
        allowed = {"foundation", wing(name), *MAY_IMPORT[wing(name)]}
        for imported in imports(path):
            if imported in known and wing(imported) not in allowed:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_the_library_never_imports_the_app_or_another_framework():
    found = [
        f"{name} imports {imported}"
        for name, path in modules().items()
        for imported in imports(path)
        if imported.split(".")[0] in (*NEVER_IN_DIGITNET, "pages")
    ]
    assert not found, found


def test_reading_a_drawing_loads_only_the_network_and_the_preprocessing():
    script = """
import sys
import numpy as np
import digitnet

canvas = np.zeros((280, 280, 4), np.uint8)
canvas[60:220, 130:150] = (0, 0, 0, 255)  # a "1"
reading = digitnet.read_canvas(canvas)
assert reading.digit == 1, reading
print("\\n".join(sorted(sys.modules)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    ours = {name for name in loaded if name.startswith("digitnet")}
    assert ours == {
        "digitnet",
        "digitnet.data",
        "digitnet.data.preprocess",
        "digitnet.errors",
        "digitnet.files",
        "digitnet.images",
        "digitnet.network",
        "digitnet.network.conv",
        "digitnet.network.layers",
        "digitnet.network.model",
        "digitnet.network.spec",
        "digitnet.network.weights",
        "digitnet.reading",
    }
    # Not the download (pooch, requests), the CSV reader (pandas), nor any of digitnet's own
    # download, collection, pen data, training or command line.
    assert not {"pooch", "requests", "pandas", "sqlite3"} & loaded


def test_the_mnist_reader_pays_for_no_download_and_no_csv_until_asked():
    """download.py knows mirrors and fetching, mnist.py files and parsing: mnist imports
    download, never the reverse, and importing it loads neither HTTP nor pandas."""
    assert "digitnet.data.mnist" not in imports(PACKAGE / "data" / "download.py")
    script = (
        "import sys, digitnet.data.mnist; "
        "assert not {'pooch', 'requests', 'pandas'} & set(sys.modules), sys.modules.keys()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
