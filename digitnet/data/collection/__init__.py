"""The drawings people save in the app: the store (the only SQL in digitnet)."""
