"""Not a page: the first run in a server process serves pages/ by file name (see
streamlit_app.py), so this file answers /<its name> then by running the router."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).parents[1] / "streamlit_app.py"))
