"""The one exception type users see: its message says what went wrong and how to fix it."""


class DistillError(Exception):
    """A problem the user can act on; the CLI prints the message alone, without a traceback."""
