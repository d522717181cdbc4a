"""The page's words for problems and hints: what went wrong, and the fix in terms of the page's own
buttons and fields, never a command-line option or an environment variable. Pure Python (no Gradio).

A DistillError or a Hint carries its fix as a `Fix` (an action of a closed vocabulary, distill.errors);
`ui_message` says it the page's way ("a model named 'field' already exists (…): pick another Model
name, or delete the old model in the Library tab"), and `control_for` names the control the message
belongs beside. A message without a Fix (a plugin's, or one that names the setting that is wrong) is
rewritten where it names a fix, an option, a command or a variable this module recognises; text it
does not recognise is shown as it is.

Control keys (`control_for`), each a control of the page:

- "model-name": Train tab, Model name
- "folder": Train tab, Folder of recordings
- "start": a training tab's start button (Start training, or Start in the Vocoders tab)
- "resume": a training tab's Resume button
- "steps": a training tab's Steps (and Minutes)
- "backend": Vocoders tab, Backend
- "weights": Vocoders tab, Weights to download and Download
- "model": the tab's Model picker
- "import-name": Library tab, Import as
- "output": the button that writes a file (Generate, Export)
- "vocoder": Generate tab, Vocoder menu
- "prior": Generate tab, Prior
- "preset": Generate tab, Preset (and Save preset)
- "export": Generate tab, Export settings (Format, Sample rate, Bit depth, Normalise)
- "duration", "clips", "seed", "evolution", "temperature", "sliders", "variation", "morph", "blend":
  the Generate tab's field of that name

A tab that does not have the control (a warning about a vocoder's steps shown in the Generate tab)
shows the message in its own message area.
"""

from __future__ import annotations

import functools
import re

from .. import DistillError, Fix, Hint

CONTROLS = ("model-name", "folder", "start", "resume", "steps", "backend", "weights", "model", "import-name", "output",
            "vocoder", "prior", "preset", "export", "duration", "clips", "seed", "evolution", "temperature", "sliders",
            "variation", "morph", "blend")  # every key control_for gives (the module's docstring says which is which)

# action -> (the page's words for the fix, the control it belongs beside). `{value}` is the Fix's
# value; `{start}` the start button of the run it names ("train": Start training; "train-vocoder": Start);
# `{backend}` the steps to train the backend the value names ("Backend hifigan, then Start").
PAGE: dict[str, tuple[str, str]] = {
    "overwrite-model": ("pick another Model name, or delete the old model in the Library tab", "model-name"),
    "overwrite-file": ("try again (the page writes each file under a new name)", "output"),
    "import-as": ("give another name in Import as, or delete the old model first (Delete)", "import-name"),
    "import-name": ("give it a name in Import as", "import-name"),
    "recordings-folder": ("type the folder that holds your recordings in Folder of recordings (or upload them)",
                          "folder"),
    "match-format": ("pick the Format that matches the file name", "export"),
    "resume": ("press Resume", "resume"),
    "resume-or-restart": ("press Resume to continue it, or tick Start over and press {start} to start again from "
                          "step 0", "resume"),
    "restart": ("tick Start over and press {start} (it starts again from step 0)", "start"),
    "drop-resume": ("press {start} instead of Resume", "start"),
    "from-scratch-or-restart": ("tick Start over and press {start} (it starts again from step 0)", "start"),
    "keep-setting": ("press Resume without changing the run's settings", "resume"),
    "train-further": ("raise Steps (or Minutes) and press Resume", "steps"),
    "train-more": ("set Steps to {value} in the Vocoders tab and press Resume", "steps"),
    "audio": ("retrain it in the Train tab from the folder of its recordings (this page cannot point a model at "
              "its recordings)", "model"),
    "audio-moved": ("put them back where the model was trained from (this page cannot point a model at another "
                    "folder)", "model"),
    "other-audio": ("this page measures the model's own held-out recordings only; try another model", "model"),
    "retrain": ("retrain it with this version in the Train tab", "model"),
    "train-or-import": ("train one in the Train tab, or import a .distill file in the Library tab", "model"),
    "gaussian-prior": ("set Prior to gaussian, or retrain the model in the Train tab", "prior"),
    "save-preset": ("save one with Save preset in the Generate tab", "preset"),
    "choose-vocoder": ("pick another in the Vocoder menu", "vocoder"),
    "one-vocoder": ("pick one vocoder for all of them in the Vocoder menu", "vocoder"),
    "backend": ("pick another in the Backend menu", "backend"),
    "train-vocoder": ("train one in the Vocoders tab first ({backend}), or pick another in the Vocoder menu",
                      "vocoder"),
    "retrain-vocoder": ("retrain it in the Vocoders tab ({backend})", "vocoder"),
    "install-vocoder": ('install a vocoder where distill runs (pip install "distill[bigvgan]", or "distill[hifigan]" '
                        "and then train one in the Vocoders tab), then restart distill", "vocoder"),
    "compare-save": ("Compare in the Compare vocoders tab, with Store the figures ticked, measures both again, and "
                     "auto then picks the better", "vocoder"),
    "download": ("download them in the Vocoders tab (Download)", "weights"),
    "retry-download": ("press Download in the Vocoders tab again (it resumes)", "weights"),
    "download-or-copy": ("download them in the Vocoders tab (Download) once this machine is online", "weights"),
    "go-online": ("download them in the Vocoders tab (Download) once distill may go online (ask whoever started "
                  "it)", "weights"),
    "weights-folder": ("whoever started distill must copy the files into its weights folder again", "weights"),
}

START = {"train": "Start training", "train-vocoder": "Start"}  # a run's start button; others: "Start"

# Options as the command line spells them -> (the page's word for them, their control key or None).
OPTIONS: dict[str, tuple[str, str | None]] = {
    "name": ("Model name", "model-name"),
    "overwrite": ("deleting the old one in the Library tab", "model"),
    "resume": ("Resume", "resume"),
    "restart": ("Start over", "start"),
    "steps": ("Steps", "steps"),
    "minutes": ("Minutes", "steps"),
    "epochs": ("Steps", "steps"),
    "backend": ("Backend", "backend"),
    "vocoder": ("the Vocoder menu", "vocoder"),
    "download": ("Download in the Vocoders tab", "weights"),
    "save": ("Store the figures", "model"),
    "audio": ("the model's recordings folder", "model"),
    "prior": ("Prior", "prior"),
    "temperature": ("Temperature", "temperature"),
    "evolution": ("Evolution", "evolution"),
    "variation": ("Variation", "variation"),
    "from-audio": ("the Variation sound", "variation"),
    "morph": ("Morph", "morph"),
    "blend": ("Blend", "blend"),
    "seed": ("Seed", "seed"),
    "duration": ("Duration (s)", "duration"),
    "count": ("Clips", "clips"),
    "preset": ("Preset", "preset"),
    "slider": ("the sliders", "sliders"),
    "format": ("Format", "export"),
    "sample-rate": ("Sample rate", "export"),
    "bit-depth": ("Bit depth", "export"),
    "normalize": ("Normalise", "export"),
    "output": ("the file name", "output"),
    "output-dir": ("the output folder", "output"),
}

# Environment variables -> what the page calls them (set where distill runs, never on the page).
VARIABLES: dict[str, tuple[str, str | None]] = {
    "DISTILL_BIGVGAN_WEIGHTS": ("the BigVGAN weights folder distill was started with", "weights"),
    "DISTILL_BIGVGAN_PRECISION": ("the BigVGAN precision distill was started with", "vocoder"),
    "DISTILL_BIGVGAN_PIN": ("the BigVGAN pin file distill was started with", "weights"),
    "HF_HUB_OFFLINE": ("the offline setting distill was started with", "weights"),
    "DISTILL_HOME": ("the library folder distill was started with", None),
    "DISTILL_THREADS": ("the thread count distill was started with", None),
    "DISTILL_LOAD_PLUGINS": ("the plugins distill was started with", None),
}

# Commands in backticks -> where the page does the same, and its control key.
COMMANDS: list[tuple[re.Pattern[str], str, str | None]] = [
    (re.compile(r"distill train-vocoder\b[^`]*"), "the Vocoders tab (Start)", "backend"),
    (re.compile(r"distill vocoders download\b[^`]*"), "Download in the Vocoders tab", "weights"),
    (re.compile(r"distill vocoders compare\b[^`]*"), "the Compare vocoders tab", "model"),
    (re.compile(r"distill vocoders\s*"), "the Vocoders tab", "vocoder"),
    (re.compile(r"distill train\b[^`]*"), "the Train tab", "folder"),
    (re.compile(r"distill model import\b[^`]*"), "Import in the Library tab", "import-name"),
    (re.compile(r"distill model (list|export|rename|delete|analyze)\b[^`]*"), "the Library tab", "model"),
    (re.compile(r"distill preset save\b[^`]*"), "Save preset in the Generate tab", "preset"),
    (re.compile(r"distill generate\b[^`]*"), "the Generate tab", None),
]

# Fixes as messages wrote them before Fix (plugins still may): regex -> action (a `value` group, if any).
OLD_PHRASES: list[tuple[str, str]] = [
    (r"Resume with: `(?P<value>[^`]+)`", "resume"),
    (r"choose another name or add --overwrite", "overwrite-file"),
    (r"choose another --output, or add --overwrite", "overwrite-file"),
    (r"drop --resume to start training", "drop-resume"),
    (r"\(?choose another with --backend NAME\)?", "backend"),
    (r"see `distill vocoders`", "choose-vocoder"),
    (r"run `distill train-vocoder MODEL(?: --backend (?P<value>[\w.-]+))?` first", "train-vocoder"),
    (r"discard it and start over with --restart", "restart"),
    (r"to train further, give a larger --steps or --minutes with --resume", "train-further"),
    (r"generate with --prior gaussian, or retrain it to get one", "gaussian-prior"),
    (r"or generate with --prior gaussian", "gaussian-prior"),
    (r"pass --audio DIR if the recordings moved", "audio-moved"),
    (r"replace it in the DISTILL_[A-Z]+_WEIGHTS folder", "weights-folder"),
]

_OPTION = re.compile(r"(?<![^\s(])--([a-z][a-z-]*)(?: ([A-Z][A-Z_]*)\b)?")
_CODE = re.compile(r"`([^`]*)`")
_VARIABLE = re.compile(r"\b(" + "|".join(VARIABLES) + r")\b(?:=(\S+?)(?=[:;,.]?(?:\s|$)))?")


def fix_words(fix: Fix) -> str:
    """The page's words for one fix."""
    if fix.action not in PAGE:  # an action newer than this page: its CLI words, rewritten
        return _rewritten(fix.words("cli"))
    template = PAGE[fix.action][0]
    backend = f"Backend {fix.value}, then Start" if fix.value else "Start"
    return template.format(value=fix.value, start=START.get(fix.value, "Start"), backend=backend)


def ui_message(problem: DistillError | Hint | str) -> str:
    """What went wrong and what to do, in the page's words."""
    message, fix = _parts(problem)
    text = _rewritten(message)
    return f"{text}: {fix_words(fix)}" if fix is not None else text


def control_for(problem: DistillError | Hint | str) -> str | None:
    """The key of the control the message belongs beside (see the module's docstring), or None."""
    message, fix = _parts(problem)
    if fix is not None and fix.action in PAGE:
        return PAGE[fix.action][1]
    found = _legacy_fix(message)
    if found is not None:
        return PAGE[found.action][1]
    for code in _CODE.findall(message):
        for pattern, _, key in COMMANDS:
            if pattern.fullmatch(code.strip()) and key:
                return key
    for match in _OPTION.finditer(_CODE.sub("", message)):
        key = OPTIONS.get(match.group(1), ("", None))[1]
        if key:
            return key
    for match in _VARIABLE.finditer(message):
        key = VARIABLES[match.group(1)][1]
        if key:
            return key
    return None


def _parts(problem: DistillError | Hint | str) -> tuple[str, Fix | None]:
    if isinstance(problem, DistillError):
        return problem.message, problem.fix
    if isinstance(problem, Hint):
        return problem.message, problem.fix
    return str(problem), None


def _phrases() -> list[tuple[re.Pattern[str], str]]:
    """Every action's CLI words as a pattern (its value a group), then the older phrasings."""
    sentinel = "zzvaluezz"
    found = []
    for action in PAGE:
        words = Fix(action, sentinel).words("cli")
        pattern = re.escape(words).replace(sentinel.upper(), r"[A-Z0-9_]+")
        pattern = pattern.replace(sentinel, r"(?P<value>.+?)", 1).replace(sentinel, r"(?P=value)")
        found.append((re.compile(pattern), action))
    found.sort(key=lambda item: -len(item[0].pattern))  # the longest first: "…, or --restart to discard it"
    return found + [(re.compile(pattern), action) for pattern, action in OLD_PHRASES]


_PHRASES = _phrases()


def _legacy_fix(message: str) -> Fix | None:
    for pattern, action in _PHRASES:
        match = pattern.search(message)
        if match:
            return Fix(action, match.groupdict().get("value") or "")
    return None


def _rewritten(message: str) -> str:
    """`message` with the fixes, commands, options and variables it names in the page's words."""
    for pattern, action in _PHRASES:
        message = pattern.sub(functools.partial(_phrase, action), message)

    def command(match: re.Match[str]) -> str:
        for pattern, words, _ in COMMANDS:
            if pattern.fullmatch(match.group(1).strip()):
                return words
        return match.group(0)

    message = _CODE.sub(command, message)
    parts = re.split(r"(`[^`]*`)", message)
    message = "".join(part if part.startswith("`") else _OPTION.sub(_option, part) for part in parts)
    return _VARIABLE.sub(_variable, message)


def _phrase(action: str, match: re.Match[str]) -> str:
    return fix_words(Fix(action, match.groupdict().get("value") or ""))


def _option(match: re.Match[str]) -> str:
    name = match.group(1)
    return OPTIONS[name][0] if name in OPTIONS else match.group(0)


def _variable(match: re.Match[str]) -> str:
    words = VARIABLES[match.group(1)][0]
    return f"{words} ({match.group(2)})" if match.group(2) else words
