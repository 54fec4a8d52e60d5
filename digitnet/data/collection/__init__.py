"""The drawings people save in the app, in three modules by job: ``store`` (the SQLite file: the
only SQL in digitnet, its schema and migrations; add, get, list, count, split, delete),
``checks`` (what a drawing may hold: strokes, canvas, photo, image, label, session; the store
checks every drawing with it, drawn or imported) and ``transfer`` (a Kaggle train.csv in and out
through the store: an import reads the file once, counts every bad row and names the first)."""
