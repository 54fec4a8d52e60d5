"""The one exception type digitnet raises for anything a user can fix."""


class DigitnetError(ValueError):
    """Bad input (a file, an upload, a flag, a weights file): the message is one line that
    says what is wrong and, where it applies, which file and row."""
