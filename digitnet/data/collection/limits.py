"""What one person may put in the collection: drawings kept, rows in one import, saves a
minute. Defaults here, each overridden by its environment variable (``SETTINGS``); the store
checks them before it writes, counting in the database, so they hold across app servers."""

from __future__ import annotations

import os
from dataclasses import dataclass

from digitnet.errors import DigitnetError

# field name: (environment variable, default)
SETTINGS = {
    "drawings_per_person": ("DIGITNET_MAX_DRAWINGS_PER_PERSON", 100_000),
    "import_rows": ("DIGITNET_MAX_IMPORT_ROWS", 60_000),  # Kaggle's train.csv has 42,000
    "saves_per_minute": ("DIGITNET_MAX_SAVES_PER_MINUTE", 60),
}


@dataclass(frozen=True)
class Limits:
    drawings_per_person: int = SETTINGS["drawings_per_person"][1]
    import_rows: int = SETTINGS["import_rows"][1]
    saves_per_minute: int = SETTINGS["saves_per_minute"][1]

    @classmethod
    def from_environment(cls) -> Limits:
        """The defaults, but for those set in the environment (a whole number above 0)."""
        values = {}
        for name, (variable, _) in SETTINGS.items():
            text = os.environ.get(variable, "").strip()
            if text:
                if not text.isdigit() or int(text) < 1:
                    raise DigitnetError(f"{variable} must be a whole number above 0, got {text!r}")
                values[name] = int(text)
        return cls(**values)
