"""digitnet's app, and the file `streamlit run` starts: the router of its pages.

Every run it picks the page from the URL, sets the page up, applies the per-process settings
(once per server), finds who the visitor is (pages/common/people.py: on a server a class shares,
a signed-in person or a personal link), draws the one sidebar (the model chooser), then runs the
page.

Each page is a file pages/<name>_page.py whose body is a function, `render(...)`, called by the
file's last lines: Streamlit runs a page file as `__main__`, so a test (or another page) can
import the file for its functions without drawing it. Widgets the pages share are in
pages/common/. The files end in `_page`; each other page's URL also has a file pages/<url>.py that
only runs this router (not a page, never in PAGES), because until st.navigation first runs in a
process, Streamlit 1.67 serves pages/ by file name (runtime/pages_manager.py:60-63,
runtime/scriptrunner/script_runner.py:933-934) and answers a URL naming no such file with "Page
not found" (commands/navigation.py:561-563) before this router runs.

To add a page: write pages/<name>_page.py like the others (a `render` function, then
`if __name__ == "__main__": render(...)`), copy pages/train.py to pages/<name>.py, and add its
line to PAGES below: its title, icon and URL are set there and nowhere else.
"""

import streamlit as st

from digitnet import DigitnetError
from pages.common.models import sidebar
from pages.common.people import identify
from pages.common.server import server


def page(name: str, title: str, icon: str, default: bool = False) -> st.Page:
    """The page pages/<name>_page.py, at the URL /<name>, with a Material icon."""
    return st.Page(
        f"pages/{name}_page.py",
        title=title,
        icon=f":material/{icon}:",
        url_path=name,
        default=default,
    )


PAGES = [
    page("draw", "Draw", "draw", default=True),
    page("train", "Train", "model_training"),
    page("mistakes", "Mistakes", "error"),
    page("confusion", "Confusion matrix", "grid_on"),
    page("explore", "Explore", "scatter_plot"),
    page("robustness", "Robustness", "show_chart"),
    page("data", "Data", "dataset"),
    page("drawings", "My drawings", "collections_bookmark"),
]
# Laid out on the whole width; the others read better centred.
WIDE = ("Train", "Mistakes", "Robustness", "Data")

current = st.navigation(PAGES)
st.set_page_config(
    page_title=f"digitnet: {current.title}",
    page_icon=current.icon,
    layout="wide" if current.title in WIDE else "centered",
)
try:
    server()  # once per process: one BLAS thread, the limit on trainings at once
except DigitnetError as error:
    st.error(str(error))
    st.stop()
identify()  # or the sign-in screen, and the run stops
sidebar()
current.run()
