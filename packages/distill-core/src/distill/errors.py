"""The one exception type users see: its message says what went wrong and how to fix it."""

from __future__ import annotations

import re

# An option as messages write it: after a space, "(" or the start, never inside a path or a name.
_OPTION = re.compile(r"(?<![^\s(])--([a-z][a-z-]*)(?: ([A-Z][A-Z_]*)\b)?")
_CODE = re.compile(r"(`[^`]*`)")
_FLAGS = {"resume", "restart", "overwrite", "from-scratch", "download", "save"}


class DistillError(Exception):
    """A problem the user can act on. Messages name the fix as the command line spells it (`--audio
    DIR`, `--restart`); the CLI shows that text (`cli_message`) without a traceback, while `str()`
    (what a Python caller sees) names the API's keyword arguments instead (`audio=DIR`, `restart=True`).
    Text in backticks is a command to run and is left as written."""

    def __init__(self, message: str) -> None:
        super().__init__(_as_python(message))
        self.cli_message = message


def _as_python(message: str) -> str:
    def keyword(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        argument = name.replace("-", "_")
        if value:
            return f"{argument}={value}"
        return f"{argument}=True" if name in _FLAGS else argument

    return "".join(part if part.startswith("`") else _OPTION.sub(keyword, part) for part in _CODE.split(message))
