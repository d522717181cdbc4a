"""The one exception type users see, and the words each face gives a problem and its fix.

A problem has two parts: its `message`, what went wrong, and its `fix`, what to do about it: an action
of a closed vocabulary (ACTIONS) with a value. No face's words are in the message; each face says the
fix in its own terms. The command line names options and commands (`cli_message`: "pass --overwrite
to replace it"), a Python caller sees keyword arguments (`str()`: "pass overwrite=True to replace
it"), and the web page names its buttons and fields (distill.ui.words: "pick another Model name").
A `Hint` is the same pair for what is not an exception: a warning, a note in a log.

A message may still name the setting that is wrong as the command line spells it (`--temperature
must be between 0.05 and 2`), and a message without a fix may carry its fix in CLI words (what
plugins written before Fix do): the CLI shows such text as it is, `str()` names keyword arguments
instead (`temperature`, `audio=DIR`, `overwrite=True`) and the page its fields. Text in backticks is
a command to run and is left as written.
"""

from __future__ import annotations

import re

import attrs

# An option as messages write it: after a space, "(" or the start, never inside a path or a name.
_OPTION = re.compile(r"(?<![^\s(])--([a-z][a-z-]*)(?: ([A-Z][A-Z_]*)\b)?")
_CODE = re.compile(r"(`[^`]*`)")
_FLAGS = {"resume", "restart", "overwrite", "from-scratch", "download", "save"}

# The fixes a message can name: action -> (the command line's words, a Python caller's words). Each is
# a clause that follows the message after ": ". `{value}` is the Fix's value ({value!r} quoted),
# `{name}` the value as a Python name, and `{VALUE}` in capitals (a backend's DISTILL_<NAME>_WEIGHTS).
# The web page's words are in distill/ui/words.py, which covers every action here (tests/test_errors.py).
ACTIONS: dict[str, tuple[str, str]] = {
    # a name that is taken
    "overwrite-model": ("pick another --name, or add --overwrite to replace it",
                        "pick another name, or pass overwrite=True to replace it"),
    "overwrite-file": ("pass --overwrite to replace it, or choose another path",
                       "pass overwrite=True to replace it, or choose another path"),
    "import-as": ("pass --overwrite to replace it, or --name NAME to import under another name",
                  "pass overwrite=True to replace it, or name=NAME to import under another name"),
    "import-name": ("pass --name NAME", "pass name=NAME"),
    # a folder of recordings that is not one
    "recordings-folder": ("give the folder that holds your recordings", "give the folder that holds your recordings"),
    "match-format": ("match --output to --format", "match the output file's extension to export.format"),
    # training runs and their checkpoints (value: the command to continue, or the run: "train", "train-vocoder")
    "resume": ("resume with `{value}`", "call it again with resume=True"),
    "resume-or-restart": ("add --resume to continue it, or --restart to discard it",
                          "add resume=True to continue it, or restart=True to discard it"),
    "restart": ("start over with --restart", "start over with restart=True"),
    "drop-resume": ("drop --resume to start afresh", "drop resume=True to start afresh"),
    "from-scratch-or-restart": ("leave out --from-scratch, or start over with --restart",
                                "leave out from_scratch=True, or start over with restart=True"),
    "keep-setting": ("leave --{value} out", "leave {name} out"),  # value: the setting a resumed run keeps
    "train-further": ("train further with --resume and a larger --steps or --minutes",
                      "train further with resume=True and a larger steps or minutes"),
    "train-more": ("train further with `distill train-vocoder MODEL --resume --steps {value}`",
                   "train further with train_vocoder(MODEL, resume=True, steps={value})"),
    # a model's recordings
    "audio": ("pass --audio DIR", "pass audio=DIR"),
    "audio-moved": ("pass --audio DIR with their new location", "pass audio=DIR with their new location"),
    "other-audio": ("compare with other recordings (--audio DIR)", "compare with other recordings (audio=DIR)"),
    # models
    "retrain": ("retrain it with this version: `distill train DIR --name NAME`",
                "retrain it with this version: train(DIR, NAME)"),
    "train-or-import": ("train one with `distill train DIR --name NAME` or import a file with "
                        "`distill model import PATH`",
                        "train one with train(DIR, NAME) or import a file with import_model(PATH)"),
    "gaussian-prior": ("generate with --prior gaussian, or retrain the model",
                       "generate with prior='gaussian', or retrain the model"),
    "save-preset": ("save one with `distill preset save MODEL NAME --slider …`",
                    "save one with save_preset(MODEL, NAME, {{…}})"),
    # vocoders (value: a backend's name)
    "choose-vocoder": ("choose another with --vocoder NAME (`distill vocoders` lists them)",
                       "choose another with vocoder=NAME (vocoder_list() lists them)"),
    "one-vocoder": ("choose one vocoder for all with --vocoder", "choose one vocoder for all with vocoder=NAME"),
    "backend": ("choose another with --backend NAME", "choose another with backend=NAME"),
    "train-vocoder": ("run `distill train-vocoder MODEL --backend {value}` first",
                      "train one with train_vocoder(MODEL, backend={value!r}) first"),
    "retrain-vocoder": ("retrain it with `distill train-vocoder MODEL --backend {value} --restart`",
                        "retrain it with train_vocoder(MODEL, backend={value!r}, restart=True)"),
    "install-vocoder": ('install a universal vocoder (pip install "distill[bigvgan]") or train one for this model '
                        '(pip install "distill[hifigan]", then `distill train-vocoder MODEL`)',
                        'install a universal vocoder (pip install "distill[bigvgan]") or train one for this model '
                        '(pip install "distill[hifigan]", then train_vocoder(MODEL))'),
    "compare-save": ("`distill vocoders compare MODEL --save` measures both again, and auto then picks the better",
                     "compare_vocoders(MODEL, save=True) measures both again, and auto then picks the better"),
    # a backend's weights (value: the backend's name)
    "download": ("`distill vocoders download {value}` fetches them", "download_vocoder({value!r}) fetches them"),
    "retry-download": ("run `distill vocoders download {value}` again to resume",
                       "call download_vocoder({value!r}) again to resume"),
    "download-or-copy": ("when online, run `distill vocoders download {value}`; or copy the files into a folder by "
                         "hand and set DISTILL_{VALUE}_WEIGHTS=/that/folder",
                         "when online, call download_vocoder({value!r}); or copy the files into a folder by hand "
                         "and set DISTILL_{VALUE}_WEIGHTS=/that/folder"),
    "go-online": ("HF_HUB_OFFLINE is set: unset it and run `distill vocoders download {value}`; or copy the files "
                  "into a folder by hand and set DISTILL_{VALUE}_WEIGHTS=/that/folder",
                  "HF_HUB_OFFLINE is set: unset it and call download_vocoder({value!r}); or copy the files into "
                  "a folder by hand and set DISTILL_{VALUE}_WEIGHTS=/that/folder"),
    "weights-folder": ("copy the files into the DISTILL_{VALUE}_WEIGHTS folder again, or unset DISTILL_{VALUE}_WEIGHTS "
                       "to use the Hugging Face cache",
                       "copy the files into the DISTILL_{VALUE}_WEIGHTS folder again, or unset "
                       "DISTILL_{VALUE}_WEIGHTS to use the Hugging Face cache"),
}


def _known(_: object, __: object, action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown fix action {action!r}; known: {', '.join(ACTIONS)}")


@attrs.frozen
class Fix:
    """What fixes a problem: an action of ACTIONS, and the value it acts on (a backend's name, the
    command that resumes a run), "" when it needs none."""

    action: str = attrs.field(validator=_known)
    value: str = ""

    def words(self, face: str = "cli") -> str:
        """The fix in the words of "cli" or "python" (the web page's are in distill.ui.words)."""
        template = ACTIONS[self.action][0 if face == "cli" else 1]
        name = self.value.replace("-", "_")
        return template.format(value=self.value, name=name, VALUE=name.upper())


def join(message: str, fix_words: str) -> str:
    """What went wrong, then what to do about it."""
    return f"{message}: {fix_words}" if fix_words else message


@attrs.frozen
class Hint:
    """A message that is not an exception (a warning, a note) with the fix it names, if any. Its CLI
    words are `cli_message`, a Python caller's `str()`; the web page's come from distill.ui.words."""

    message: str
    fix: Fix | None = None

    @classmethod
    def of(cls, text: str | Hint) -> Hint:
        return text if isinstance(text, Hint) else cls(text)

    @property
    def cli_message(self) -> str:
        return join(self.message, self.fix.words("cli") if self.fix else "")

    def __str__(self) -> str:
        return join(as_python(self.message), self.fix.words("python") if self.fix else "")


class DistillError(Exception):
    """A problem the user can act on: `message` says what went wrong and `fix` (a Fix, or None) what
    to do. The CLI shows `cli_message` without a traceback; `str()`, what a Python caller sees, says
    the fix in keyword arguments; the web page says it with its own controls (distill.ui.words).

    A message with no fix may name the fix itself in CLI words (`--audio DIR`, `--restart`), as
    plugins written before Fix do: the CLI shows it as it is and `str()` translates the options."""

    def __init__(self, message: str, fix: Fix | None = None) -> None:
        self.message, self.fix = message, fix
        hint = Hint(message, fix)
        super().__init__(str(hint))
        self.cli_message = hint.cli_message

    @property
    def hint(self) -> Hint:
        return Hint(self.message, self.fix)


def as_python(message: str) -> str:
    """`message` with the options it names (`--audio DIR`, `--restart`) as the API's keyword arguments."""
    def keyword(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        argument = name.replace("-", "_")
        if value:
            return f"{argument}={value}"
        return f"{argument}=True" if name in _FLAGS else argument

    return "".join(part if part.startswith("`") else _OPTION.sub(keyword, part) for part in _CODE.split(message))


_as_python = as_python  # the name it had
