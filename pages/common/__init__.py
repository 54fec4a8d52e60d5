"""What the pages share: the sidebar's model chooser and its caches (models), the data
(data), the example grid and which examples to show (examples), pictures and charts (pictures),
the per-process set-up (server).

A package of its own, not modules next to the page files: the router (streamlit_app.py) lists
the page files of pages/ by hand, and a sub-folder keeps what the pages share apart from the
pages, so a newcomer sees at a glance which files are pages."""
