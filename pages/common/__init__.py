"""UI shared by the pages. A folder, not a file in pages/: Streamlit 1.67 makes every pages/*.py
a page (even names starting with '_'; only dot-files and __init__.py are skipped), but it does
not look into sub-folders."""
