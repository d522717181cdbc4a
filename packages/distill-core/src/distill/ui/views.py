"""What the web UI shows, as HTML and images made from the API's results: no Gradio, no state. Every
text that comes from a file or a user is escaped (a model name is data, never markup)."""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import human_size
from .jobs import NOT_LOSSES
from .words import ui_message

if TYPE_CHECKING:
    from PIL import Image

    from .. import ModelInfo
    from .jobs import Job

# A dark-to-bright ramp for spectrograms (black, violet, red, orange, pale yellow).
_RAMP = [(0, 0, 4), (80, 18, 123), (183, 55, 121), (252, 137, 97), (252, 253, 191)]


def file_url(path: Path) -> str:
    """Where the page fetches a file the server may hand out (one under the UI's allowed folders)."""
    return "/gradio_api/file=" + quote(str(path))


def previews_html(paths: list[Path], keep: int = 4) -> str:
    """Players for the latest training previews, newest first."""
    items = "".join(f'<li>{html.escape(p.stem)} <audio controls preload="none" src="{html.escape(file_url(p))}">'
                    "</audio></li>" for p in reversed(paths[-keep:]))
    return f'<ul class="distill-previews">{items}</ul>' if items else ""


def error_html(message: str) -> str:
    return f'<div class="distill-error" role="alert">{html.escape(message)}</div>'


def note_html(message: str) -> str:
    return f'<div class="distill-note">{html.escape(message)}</div>'


def clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    whole = round(seconds)
    if whole >= 3600:
        return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return f"{whole // 60}:{whole % 60:02d}"


def job_html(job: Job | None, kinds: tuple[str, ...]) -> str:
    """The state of the running (or last) job of one of `kinds`: a bar, step, metrics, ETA, the outcome."""
    if job is None or (job.kind not in kinds and not job.running):
        return note_html("No job running.")
    if job.kind not in kinds:  # another tab's job: one long job at a time
        return note_html(f"Nothing of this kind is running; {job.label} is (one long job at a time).")
    parts = [f"<b>{html.escape(job.label)}</b> — {job.state}"]
    event = job.last
    if event is not None:
        fraction = event.step / event.total if event.total else 0.0
        parts.append(f'<progress class="distill-bar" max="1" value="{fraction:.4f}"></progress>')
        metrics = ", ".join(f"{html.escape(name)} {value:.4g}" for name, value in event.metrics.items()
                            if name not in NOT_LOSSES and isinstance(value, int | float))
        if "adversarial" in event.metrics:  # a vocoder's phase: with its discriminators, or the generator alone
            metrics += "; phase: " + ("adversarial" if event.metrics["adversarial"] else "generator-only")
        eta = f", ETA {clock(event.eta)}" if job.running and event.eta is not None else ""
        rate = event.step / event.elapsed if event.elapsed > 0 else 0.0
        parts.append(f'<span class="distill-step">{html.escape(event.phase)} step {event.step}'
                     f'{f" / {event.total}" if event.total else ""}</span> · {rate:.2f} steps/s · elapsed '
                     f"{clock(event.elapsed)}{eta}" + (f"<br>{metrics}" if metrics else ""))
    if job.curve:  # a resumed run's curve goes on from the first run's first step
        parts.append(f'<span class="distill-curve">loss curve from step {job.curve[0]["step"]}</span>')
    if job.error:
        css = "distill-note" if job.state == "cancelled" else "distill-error"
        parts.append(f'<div class="{css}">{html.escape(job.error)}</div>')
    return "<br>".join(parts)


def field_note(job: Job | None, kinds: tuple[str, ...], controls: tuple[str, ...]) -> str:
    """The failure of the last job of `kinds`, when it is about one of `controls`: shown beside them."""
    if job is None or job.kind not in kinds or job.state != "failed" or job.control not in controls:
        return ""
    return error_html(job.error or "")


def download_html(job: Job | None) -> str:
    """Bytes, speed and ETA of a weights download, file by file."""
    if job is None or job.kind != "download":
        return ""
    elapsed = max((job.ended or time.monotonic()) - job.started, 1e-6)
    done = sum(d for d, _ in job.downloads.values())
    total = sum(t for _, t in job.downloads.values())
    speed = done / elapsed
    eta = (total - done) / speed if speed > 0 and total > done else None
    rows = [f"<b>{html.escape(job.label)}</b> — {job.state}"]
    for name, (file_done, file_total) in job.downloads.items():
        fraction = file_done / file_total if file_total else 0.0
        rows.append(f'{html.escape(name)} <progress class="distill-bar" max="1" value="{fraction:.4f}"></progress> '
                    f'<span class="distill-bytes">{human_size(file_done)} / {human_size(file_total)}</span>')
    if job.downloads:
        rows.append(f"{human_size(speed)}/s" + (f", ETA {clock(eta)}" if job.running and eta is not None else ""))
    if job.error:
        rows.append(error_html(job.error))
    return "<br>".join(rows)


def log_text(job: Job | None, kinds: tuple[str, ...], lines: int = 40) -> str:
    if job is None or job.kind not in kinds:
        return ""
    return "\n".join(job.log[-lines:])


def facts_html(model: ModelInfo, size: int) -> str:
    """A model's facts from its header: recordings, training, sliders, bundled vocoders."""
    header, path = model.header, model.path
    training = header.get("training") or {}
    rows = [("file", f"{path} ({human_size(size)})"), ("id", header.get("id")), ("created", header.get("created")),
            ("recordings", f"{training.get('files', '?')} files, {clock(_number(training.get('seconds')))} of audio "
                           f"from {training.get('corpus_path', '?')}"),
            ("training", f"{training.get('steps', '?')} steps, preset {training.get('preset', '?')}")]
    for slider in model.sliders():
        unit = f" {slider['unit']}" if slider.get("unit") else ""
        rows.append((f"slider {slider['name']}", slider.get("info") or f"{slider['low']:.3g} … {slider['high']:.3g}"
                     f"{unit} (default {slider['default']:.3g})"))
    rows += model.not_offered()
    for backend, state in (header.get("vocoder_state") or {}).items():
        trained = state.get("training", {}) if isinstance(state, dict) else {}
        amount = [f"{trained['steps']} steps" if "steps" in trained else "",
                  f"{_number(trained.get('seconds')) / 60:.1f} min" if _number(trained.get("seconds")) else "",
                  f"from {trained['from']}" if trained.get("from") else ""]
        rows.append((f"vocoder {backend}", "bundled, " + ", ".join(a for a in amount if a)))
    if not header.get("vocoder_state"):
        rows.append(("vocoders", "none bundled (any installed universal vocoder renders it)"))
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="distill-facts"><caption>{html.escape(str(header.get("name")))}</caption>{body}</table>'


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def comparison_html(result: Any, url: Callable[[Path], str] = file_url) -> str:
    """`distill.compare_vocoders`' result as the measurement table, then one row per held-out
    recording: the original and each backend's rendering side by side as players."""
    head = ("<tr><th>vocoder</th><th>kind</th><th>ViSQOL ↑</th><th>log-mel L1 ↓</th><th>MR-STFT ↓</th>"
            "<th>pitch err (cents) ↓</th><th>speed</th></tr>")
    def cents(value: float | None) -> str:
        return "–" if value is None or math.isnan(value) else str(round(value))

    rows = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{r.kind}</td><td>{r.visqol:.2f}</td><td>{r.log_mel_l1:.3f}</td>"
        f"<td>{r.mr_stft:.3f}</td><td>{cents(r.pitch_cents)}</td><td>{r.speed:.1f}×</td></tr>" for r in result.rows)
    parts = [f"<p>Resynthesis of {html.escape(result.note)}.</p>",
             f'<table class="distill-compare">{head}{rows}</table>']
    parts += [f"<p>skipped {html.escape(s.name)}: {html.escape(ui_message(s.reason))}; to include it: "
              f"{html.escape(ui_message(s.fix))}</p>" for s in result.skipped]
    if result.renderings:
        names = list(next(iter(result.renderings.values())))
        header = "".join(f"<th>{html.escape(n)}</th>" for n in names)
        players = "".join(
            f"<tr><td>{html.escape(clip)}</td>" + "".join(
                f'<td><audio controls preload="none" src="{html.escape(url(files[n]))}"></audio></td>'
                for n in names) + "</tr>"
            for clip, files in result.renderings.items())
        parts.append(f'<table class="distill-listen"><tr><th>held-out file</th>{header}</tr>{players}</table>')
    return "".join(parts)


def spectrogram(path: Path, height: int = 128, width: int = 640) -> Image.Image:
    """A log-mel picture of an audio file (low frequencies at the bottom), for the result cards."""
    import numpy as np
    from PIL import Image

    from .. import clip_log_mel

    mel = clip_log_mel(path)
    top = mel.max() if mel.size else 0.0
    level = np.clip((mel - (top - 8.0)) / 8.0, 0.0, 1.0)[::-1]  # 8 nats (~70 dB) of range
    ramp = np.array(_RAMP, dtype=np.float32)
    stops = np.linspace(0.0, 1.0, len(ramp))
    rgb = np.stack([np.interp(level, stops, ramp[:, c]) for c in range(3)], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR)
