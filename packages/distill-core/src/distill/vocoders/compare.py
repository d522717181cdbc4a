"""Did a vocoder pay off? Resynthesise a model's held-out recordings from their mels with every
installed backend that can render the model now, and measure each against the original audio with the
measures in audio_metrics (log-mel L1, MR-STFT, ViSQOL, pitch, SNR) and its speed (× real time).
A Griffin-Lim row (32 iterations, computed here, not a registered vocoder) is the baseline.

Backends that cannot render without a download are listed as skipped, with the command that makes
them usable: a comparison never starts a download unless asked to (`download=True`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import torch

from ..audio import read_audio, resample
from ..audio_metrics import (
    log_mel_l1,
    mr_stft_distance,
    pitch_error,
    pitch_track,
    snr_db,
    tonal_artefacts,
    visqol,
)
from ..errors import DistillError, Fix
from ..griffinlim import griffin_lim
from ..melspec import MelSpec
from ..pipeline import vocode_stream
from ..progress import Reporter
from ..threads import fit_threads
from .selection import SEGMENT_SECONDS, load_vocoder, select_vocoder

if TYPE_CHECKING:
    from ..model import DistillModel
    from ..plugin.host import RegisteredVocoder
    from ..progress import DownloadProgress, ProgressCallback

MAX_SECONDS = 60.0  # of held-out audio measured: enough for stable numbers, quick to render
GAP_SECONDS = 0.25  # of silence between held-out clips joined for ViSQOL and the pitch tracker
BASELINE = "griffin-lim 32 it (baseline)"


@attrs.frozen
class Row:
    name: str
    kind: str  # "bundled", "universal", "converted" or "baseline"
    log_mel_l1: float
    mr_stft: float
    visqol: float
    pitch_cents: float | None  # None when not measured; NaN when nothing was voiced in both
    voicing_error: float | None
    snr_db: float
    speed: float  # × real time
    warnings: tuple[str, ...] = ()
    visqol_segments: tuple[float, ...] = ()  # ViSQOL of each SEGMENT_SECONDS of the joined audio
    lines_db: float = 0.0  # tonal artefacts (audio_metrics.tonal_artefacts)
    ripple_db: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        record = {**attrs.asdict(self), "warnings": list(self.warnings), "visqol_segments": list(self.visqol_segments)}
        return {key: None if isinstance(value, float) and math.isnan(value) else value
                for key, value in record.items()}


@attrs.frozen
class Skipped:
    name: str
    reason: str
    fix: str  # the command that makes it usable
    action: Fix | None = None  # the same, as a Fix: the web page's words for it (distill.ui.words)


@attrs.frozen
class Comparison:
    rows: list[Row]  # best ViSQOL first
    skipped: list[Skipped]
    note: str  # what was measured
    files: int
    # With `renderings`: held-out file -> {"original" or a row's name -> its WAV}, in measuring order.
    renderings: dict[str, dict[str, Path]] = attrs.field(factory=dict)

    def figures(self) -> dict[str, Any]:
        """What a bundled state stores so auto-selection can rank it (baseline excluded)."""
        return {"files": self.files, "measured_on": self.note,
                "rows": {row.name: {"kind": row.kind, "visqol": round(row.visqol, 4),
                                    "log_mel_l1": round(row.log_mel_l1, 4), "mr_stft": round(row.mr_stft, 4),
                                    "visqol_segments": [round(x, 4) for x in row.visqol_segments],
                                    "lines_db": round(row.lines_db, 2), "ripple_db": round(row.ripple_db, 2)}
                         for row in self.rows if row.kind != "baseline"}}


# -- what to measure --------------------------------------------------------------------------------
def held_out_audio(model: DistillModel, audio: Path | None = None) -> tuple[list[tuple[str, np.ndarray]], str]:
    """(relative name, waveform) of the model's held-out recordings, at most MAX_SECONDS in all, and a note."""
    from ..library import recordings

    folder = recordings(model, audio)
    # Names come from the model file: only plain relative paths inside the folder are followed.
    names = [n for n in model.training.get("validation_files") or []
             if isinstance(n, str) and not Path(n).is_absolute() and ".." not in Path(n).parts]
    note = f"{len(names)} held-out recording{'s' if len(names) != 1 else ''} of {folder}"
    if not names:  # fewer than 4 files: nothing was held out
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        note = f"the model held out no recordings (too few files), so its training recordings in {folder}"
    clips, total = [], 0.0
    for name in names:
        path = folder / name
        if not path.is_file():
            raise DistillError(f"held-out recording {path} is missing (have the recordings moved?)",
                               Fix("audio-moved"))
        try:
            wave = read_audio(path, model.mel_spec.sample_rate).audio
        except DistillError:
            continue  # a file training skipped as unreadable
        wave = wave[: int((MAX_SECONDS - total) * model.mel_spec.sample_rate)]
        if len(wave) < model.mel_spec.n_fft:
            continue
        clips.append((name, wave))
        total += len(wave) / model.mel_spec.sample_rate
        if total >= MAX_SECONDS:
            break
    if not clips:
        raise DistillError(f"no usable recordings to compare with in {folder}")
    return clips, note


def _candidates(model: DistillModel, installed: dict[str, RegisteredVocoder], download: bool,
                progress: DownloadProgress | None) -> tuple[list[str], list[Skipped]]:
    """The backends that can render `model` now (downloading first when asked) and those skipped."""
    names, skipped = [], []
    for name, registered in installed.items():
        backend = registered.backend
        if name not in model.vocoder_state and backend.kind != "universal":
            continue  # trained per model, and this model has no state for it
        if name not in model.vocoder_state and backend.weights_present() is False:
            if not download:
                skipped.append(Skipped(name, "its weights are not on this machine",
                                       f"distill vocoders compare {model.name} --download (or `distill vocoders "
                                       f"download {name}`)", Fix("download", name)))
                continue
            backend.download(progress=progress)
        names.append(name)
    return names, skipped


def joined(waves: list[np.ndarray], rate: int) -> np.ndarray:
    """Clips joined with short gaps: ViSQOL and the pitch tracker need seconds of audio, not 0.5 s effects."""
    gap = np.zeros(int(GAP_SECONDS * rate), np.float32)
    return np.concatenate([part for wave in waves for part in (wave, gap)])


def whole_frames(wave: np.ndarray, spec: MelSpec) -> np.ndarray:
    """`wave` cut to the samples its mel frames cover: what a vocoder renders back, and what is measured."""
    return wave[: spec.num_samples(spec.num_frames(len(wave)))]


def reference_pitch(clips: list[tuple[str, np.ndarray]], spec: MelSpec) -> Any:
    """The pitch track of the joined references as `measure` joins them (each cut to whole frames)."""
    return pitch_track(joined([whole_frames(wave, spec) for _, wave in clips], spec.sample_rate), spec.sample_rate)


def measure(render: Callable[[torch.Tensor], torch.Tensor], clips: list[tuple[str, np.ndarray]], spec: MelSpec,
            pitch: Any | None = None, keep: list[np.ndarray] | None = None) -> Row:
    """Resynthesise each clip from its true mels with `render` and measure the result (an unnamed Row);
    the pitch columns need `reference_pitch(clips, spec)` as `pitch` (None: not measured). `keep`
    receives each clip's rendering."""
    mel_l1 = stft = snr = seconds = wall = 0.0
    references, outputs = [], []
    for _, wave in clips:
        fit_threads()
        mel = spec.mel(torch.from_numpy(wave))
        reference = torch.from_numpy(whole_frames(wave, spec))
        started = time.perf_counter()
        output = render(mel)
        wall += time.perf_counter() - started
        output = torch.nn.functional.pad(output, (0, max(0, len(reference) - len(output))))[: len(reference)]
        weight = len(reference) / spec.sample_rate
        mel_l1 += weight * log_mel_l1(reference, output, spec)
        stft += weight * mr_stft_distance(reference, output)
        snr += weight * snr_db(reference, output)
        seconds += weight
        references.append(reference.numpy())
        outputs.append(output.numpy())
    if keep is not None:
        keep.extend(outputs)
    joined_reference, joined_output = joined(references, spec.sample_rate), joined(outputs, spec.sample_rate)
    cents = voicing = None
    if pitch is not None:
        cents, voicing = pitch_error(pitch, pitch_track(joined_output, spec.sample_rate))
    rate = spec.sample_rate
    segments = tuple(visqol(joined_reference[piece], joined_output[piece], rate)
                     for piece in segment_slices(len(joined_reference), rate))
    artefacts = tonal_artefacts(joined_reference, joined_output, rate)
    return Row("", "", mel_l1 / seconds, stft / seconds, visqol(joined_reference, joined_output, rate),
               cents, voicing, snr / seconds, seconds / max(wall, 1e-9), (), segments, artefacts["lines_db"],
               artefacts["ripple_db"])


def segment_slices(samples: int, rate: int) -> list[slice]:
    """Consecutive SEGMENT_SECONDS pieces of `samples`; a shorter rest joins the last piece (none when the
    audio is shorter than one piece)."""
    size = round(SEGMENT_SECONDS * rate)
    starts = list(range(0, samples - size + 1, size))
    return [slice(start, start + size if i < len(starts) - 1 else samples) for i, start in enumerate(starts)]


def compare(model: DistillModel, audio: Path | None = None, device: str = "cpu", *, download: bool = False,
            progress: DownloadProgress | None = None, pitch: bool = True, baseline: bool = True,
            renderings: Path | None = None, steps: ProgressCallback | None = None) -> Comparison:
    """Measure every backend that can render `model` (and the Griffin-Lim baseline) on its held-out audio;
    with `renderings`, write each held-out file and each backend's rendering of it there as WAV. `steps`
    hears each stage as it starts (the reference pitch, then one backend after another)."""
    from ..plugin.host import installed_vocoders

    clips, note = held_out_audio(model, audio)
    spec = model.mel_spec
    installed = installed_vocoders()
    names, skipped = _candidates(model, installed, download, progress)
    report, total = Reporter(steps), len(names) + baseline + pitch
    report.step("pitch of the held-out recordings", 0, total)
    references = reference_pitch(clips, spec) if pitch else None
    rows = []
    rendered: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode():
        for done, name in enumerate(names, start=pitch):
            report.step(f"render and measure {name}", done, total)
            choice = select_vocoder(model, name, installed)
            vocoder = load_vocoder(choice, spec, device)

            def render(mel: torch.Tensor, vocoder: Any = vocoder) -> torch.Tensor:
                audio_out = np.concatenate(list(vocode_stream(vocoder, mel)))
                if vocoder.sample_rate != spec.sample_rate:
                    audio_out = resample(audio_out, vocoder.sample_rate, spec.sample_rate)
                return torch.from_numpy(np.ascontiguousarray(audio_out, dtype=np.float32))

            render(spec.mel(torch.from_numpy(clips[0][1][: 64 * spec.hop_length])))  # warm up, untimed
            kind = "bundled" if choice.state is not None else "converted" if choice.needs_conversion else "universal"
            row = measure(render, clips, spec, references, rendered.setdefault(name, []))
            rows.append(attrs.evolve(row, name=name, kind=kind, warnings=choice.warnings))
        if baseline:
            report.step(f"render and measure {BASELINE}", total - 1, total)
            row = measure(lambda mel: griffin_lim(mel, spec), clips, spec, references,
                          rendered.setdefault(BASELINE, []))
            rows.append(attrs.evolve(row, name=BASELINE, kind="baseline"))
    report.step("measured", total, total)
    originals = [(name, whole_frames(wave, spec)) for name, wave in clips]  # as measured
    written = _write_renderings(renderings, originals, rendered, spec.sample_rate) if renderings else {}
    return Comparison(sorted(rows, key=lambda row: -row.visqol), skipped, note, len(clips), written)


def _write_renderings(folder: Path, clips: list[tuple[str, np.ndarray]], rendered: dict[str, list[np.ndarray]],
                      rate: int) -> dict[str, dict[str, Path]]:
    """Each held-out clip and its renderings as `folder/<clip>/<backend>.wav` (names made safe)."""
    import soundfile

    from ..atomic import atomic_output
    from ..names import safe_stem

    written: dict[str, dict[str, Path]] = {}
    for index, (clip, wave) in enumerate(clips):
        versions = {"original": wave, **{name: outputs[index] for name, outputs in rendered.items()}}
        place = folder / f"{index + 1:02d}-{safe_stem(Path(clip).stem)}"
        written[clip] = {}
        for name, audio in versions.items():
            path = place / f"{safe_stem(name, 'vocoder')}.wav"
            with atomic_output(path) as temp:
                soundfile.write(temp, np.clip(audio, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
            written[clip][name] = path
    return written
