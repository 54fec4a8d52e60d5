"""The router's pages (PAGES in streamlit_app.py) and the router-only files beside them: every
page but the default one has a file pages/<url>.py that only runs the router (see the router's
docstring for why), and no such file exists without its page."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

ROUTER = ROOT / "streamlit_app.py"


def routed_pages() -> list[tuple[str, str, bool]]:
    """PAGES as the router lists them: (url, title, default) for each `page(...)` call."""
    tree = ast.parse(ROUTER.read_text())
    assigned = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["PAGES"]
    )
    pages = []
    for call in assigned.elts:
        name, title = (ast.literal_eval(argument) for argument in call.args[:2])
        default = any(k.arg == "default" and ast.literal_eval(k.value) for k in call.keywords)
        pages.append((name, title, default))
    return pages


def router_only_files() -> set[str]:
    """The URLs answered by a file pages/<url>.py (the pages themselves end in _page)."""
    return {path.stem for path in (ROOT / "pages").glob("*.py") if not path.stem.endswith("_page")}


def test_every_page_but_the_default_has_its_router_file_and_no_file_lacks_a_page():
    pages = routed_pages()
    assert sum(default for *_, default in pages) == 1
    assert router_only_files() == {name for name, _, default in pages if not default}


def test_every_page_has_its_page_file():
    for name, _, _ in routed_pages():
        assert (ROOT / "pages" / f"{name}_page.py").is_file(), name


def test_the_router_files_only_run_the_router():
    for name in router_only_files():
        source = (ROOT / "pages" / f"{name}.py").read_text()
        assert 'runpy.run_path(str(Path(__file__).parents[1] / "streamlit_app.py"))' in source
        assert "import streamlit" not in source, name
