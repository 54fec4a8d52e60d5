"""What the pages share: what each server keeps once for every session, data and models
(caches), the sidebar's model chooser (models), the data sets and splits (data), the saved
drawings (collection), the example grid and which examples to show (examples), pictures and
charts (pictures), the Draw page's inside view (inside), the Train page's fine-tuning
(finetune), the per-process set-up (server).

A package of its own, not modules next to the page files: the router (streamlit_app.py) lists
the page files of pages/ by hand, and a sub-folder keeps what the pages share apart from the
pages, so a newcomer sees at a glance which files are pages."""
