"""The auto-selector ranks the installed backends (real plugins) against what a model carries."""

import attrs
import numpy as np
import pytest
import soundfile
import torch
from distill import DISTILL_MEL, DistillError, MelSpec, VocoderState
from distill.plugin.contract import VocoderTrainingRun
from distill.plugin.host import PluginInfo, RegisteredVocoder, installed_vocoders
from distill.vocoders.selection import load_vocoder, select_vocoder, vocoder_options
from signals import harmonic_tone


def example_plugin() -> dict:
    """Only the example plugin's backends, so outcomes do not depend on what else is installed."""
    return {n: r for n, r in installed_vocoders().items() if r.plugin.distribution == "distill-griffinlim"}


@attrs.define
class Model:
    mel_spec: MelSpec = DISTILL_MEL
    vocoder_state: dict = attrs.field(factory=dict)


@pytest.fixture(scope="module")
def fitted_state(tmp_path_factory):
    from distill_griffinlim.vocoders import FittedGriffinLim

    path = tmp_path_factory.mktemp("corpus") / "tone.wav"
    soundfile.write(path, harmonic_tone(196, 30), 44100)
    run = VocoderTrainingRun(audio_files=(path,), mel_spec=DISTILL_MEL, checkpoint_dir=path.parent / "ckpt")
    return FittedGriffinLim.train(run)


def test_same_recipe_universal_beats_a_converted_one():
    choice = select_vocoder(Model(), installed=example_plugin())
    assert choice.backend.name == "griffinlim"
    assert "uses this model's mel recipe" in choice.reason
    assert choice.warnings == () and not choice.needs_conversion


def test_bundled_state_wins_and_is_used(fitted_state):
    choice = select_vocoder(Model(vocoder_state={"griffinlim-fitted": fitted_state}), installed=example_plugin())
    assert choice.backend.name == "griffinlim-fitted"
    assert choice.state is fitted_state
    assert "trained for this model" in choice.reason
    assert choice.warnings == ()  # 30 s of audio is enough frames


def test_under_trained_state_warns():
    state = VocoderState("griffinlim-fitted", "0.1.0", weights={"inverse": torch.zeros(1025, 128)},
                         training={"frames": 10})
    choice = select_vocoder(Model(vocoder_state={"griffinlim-fitted": state}), installed=example_plugin())
    assert any("quality may be limited" in w for w in choice.warnings)


def test_state_for_a_backend_that_is_not_installed_says_what_to_install():
    state = VocoderState("hifigan", "0.1.0")
    choice = select_vocoder(Model(vocoder_state={"hifigan": state}), installed=example_plugin())
    assert choice.backend.name == "griffinlim"
    assert any('install distill[hifigan] to use it' in w for w in choice.warnings)


def test_conversion_when_only_another_recipe_is_installed():
    installed = {"griffinlim-22k": example_plugin()["griffinlim-22k"]}
    choice = select_vocoder(Model(), installed=installed)
    assert choice.needs_conversion
    assert any("converts the model's mels" in w for w in choice.warnings)
    own = select_vocoder(Model(mel_spec=choice.backend.mel_spec), installed=example_plugin())
    assert own.backend.name == "griffinlim-22k" and not own.needs_conversion


def test_priority_breaks_ties_within_a_rank():
    # For a model on a third recipe both universal backends need conversion: priority decides.
    other = MelSpec(sample_rate=24000, n_fft=1024, win_length=1024, hop_length=256, n_mels=100)
    choice = select_vocoder(Model(mel_spec=other), installed=example_plugin())
    assert choice.backend.name == "griffinlim-22k"  # priority -50 beats -100


def test_the_menu_lists_what_can_render_best_first_with_its_state(fitted_state):
    """What the web UI's vocoder menu offers: ranked as auto ranks them, each with its state in words."""
    stepped = attrs.evolve(fitted_state, training={**fitted_state.training, "steps": 30})
    options = vocoder_options(Model(vocoder_state={"griffinlim-fitted": stepped}), installed=example_plugin())
    assert [(o.name, o.status) for o in options] == [
        ("griffinlim-fitted", "bundled, 30 steps"), ("griffinlim", "no download needed"),
        ("griffinlim-22k", "no download needed, needs a mel conversion")]
    assert all(o.description == example_plugin()[o.name].backend.description for o in options)
    unstepped = attrs.evolve(fitted_state, training={k: v for k, v in fitted_state.training.items() if k != "steps"})
    bare = vocoder_options(Model(vocoder_state={"griffinlim-fitted": unstepped}), installed=example_plugin())
    assert bare[0].status == "bundled" and vocoder_options(Model(), installed={}) == []


def test_explicit_vocoder_skips_ranking_and_fails_clearly(fitted_state):
    choice = select_vocoder(Model(), requested="griffinlim-22k", installed=example_plugin())
    assert choice.backend.name == "griffinlim-22k" and choice.needs_conversion
    with pytest.raises(DistillError, match=r"'bigvgan' is not installed \(installed: griffinlim, griffinlim-22k"):
        select_vocoder(Model(), requested="bigvgan", installed=example_plugin())
    with pytest.raises(DistillError, match=r"this model has none: train one with train_vocoder\(MODEL, "
                                           r"backend='griffinlim-fitted'\) first") as caught:
        select_vocoder(Model(), requested="griffinlim-fitted", installed=example_plugin())
    assert caught.value.cli_message.endswith("this model has none: run `distill train-vocoder MODEL --backend "
                                             "griffinlim-fitted` first")


def test_nothing_installed_says_what_to_install():
    with pytest.raises(DistillError, match=r'pip install "distill\[bigvgan\]"'):
        select_vocoder(Model(), installed={})


def test_rendering_through_a_conversion_keeps_duration_and_pitch():
    wave = harmonic_tone(440, 2, top=2000)
    mel = DISTILL_MEL.mel(torch.from_numpy(wave))[None]
    choice = select_vocoder(Model(), requested="griffinlim-22k", installed=example_plugin())
    vocoder = load_vocoder(choice, DISTILL_MEL)
    assert vocoder is load_vocoder(choice, DISTILL_MEL)  # built once per process
    audio = vocoder.render(mel)[0].numpy()
    assert vocoder.sample_rate == 22050
    assert abs(len(audio) / 22050 - len(wave) / 44100) < 0.03
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    assert abs(np.argmax(spectrum) * 22050 / len(audio) - 440) < 5


def test_griffinlim_resynthesis_is_close(fitted_state):
    wave = harmonic_tone(196, 2)
    mel = DISTILL_MEL.mel(torch.from_numpy(wave))[None]
    for name, state in [("griffinlim", None), ("griffinlim-fitted", fitted_state)]:
        backend = installed_vocoders()[name].backend
        audio = backend.load(state).render(mel)
        assert audio.shape == (1, mel.shape[-1] * 512)
        error = (DISTILL_MEL.mel(audio[0]) - mel[0])[:, 4:-4].abs().mean().item()
        assert error < 0.5, (name, error)


def measured(state: VocoderState, figures: dict[str, float | dict]) -> VocoderState:
    """A copy of `state` with stored figures, as `train-vocoder` leaves them: a ViSQOL alone (as models
    measured before per-segment scores have), or a row with segments and tonal artefacts."""
    rows = {name: {"visqol": value, "log_mel_l1": 0.3, "mr_stft": 1.0} if isinstance(value, float)
            else {"visqol": sum(value["segments"]) / len(value["segments"]), "log_mel_l1": 0.3, "mr_stft": 1.0,
                  "visqol_segments": value["segments"], "lines_db": value.get("lines", 3.0),
                  "ripple_db": value.get("ripple", 3.5)}
            for name, value in figures.items()}
    return attrs.evolve(state, training={**state.training, "figures": {"files": 3, "rows": rows}})


RIVAL = [4.60, 4.70, 4.55, 4.65, 4.62, 4.68]  # six held-out segments of 2 s


def _choose(fitted_state, differences: list[float], **own):
    own_segments = [r + d for r, d in zip(RIVAL, differences, strict=True)]
    state = measured(fitted_state, {"griffinlim-fitted": {"segments": own_segments, **own},
                                    "griffinlim": {"segments": RIVAL}})
    return select_vocoder(Model(vocoder_state={"griffinlim-fitted": state}), installed=example_plugin())


# Each margin from both sides: the minimum win, the noise of the paired differences, tonal artefacts.
@pytest.mark.parametrize(("differences", "own", "chosen"), [
    ([0.06] * 6, {}, True),  # above the minimum margin (0.05), no spread
    ([0.04] * 6, {}, False),  # below it
    ([0.20, 0.25, 0.15, 0.20, 0.22, 0.18], {}, True),  # a clear win, little spread
    ([0.60, -0.20, 0.50, -0.10, 0.40, -0.30], {}, False),  # the same mean win within the noise
    ([0.2] * 6, {"lines": 8.9}, True),  # steady lines 5.9 dB above the rival's: within the margin
    ([0.2] * 6, {"lines": 14.2}, False),  # 11.2 dB above: a line a listener hears
    ([0.2] * 6, {"ripple": 9.4}, True),
    ([0.2] * 6, {"ripple": 22.0}, False),
])
def test_a_bundled_state_is_used_only_where_it_measured_better_beyond_the_noise(fitted_state, differences, own,
                                                                               chosen):
    choice = _choose(fitted_state, differences, **own)
    assert (choice.backend.name == "griffinlim-fitted") is chosen, choice.reason
    assert (choice.state is not None) is chosen
    if not chosen:
        assert choice.reason.startswith("'griffinlim' is used: the bundled 'griffinlim-fitted' ")
        assert any("re-measure it: `distill vocoders compare MODEL --save`" in w for w in choice.warnings)


def test_the_reason_gives_the_figures_and_the_noise(fitted_state):
    assert _choose(fitted_state, [0.20, 0.25, 0.15, 0.20, 0.22, 0.18]).reason == (
        "'griffinlim-fitted' (bundled) measured better than 'griffinlim': ViSQOL 4.83 vs 4.63, +0.20 ± 0.01 "
        "over 6 held-out segments")
    assert _choose(fitted_state, [0.02, 0.0, 0.01, -0.01, 0.02, 0.0]).reason == (
        "'griffinlim' is used: the bundled 'griffinlim-fitted' is not better than 'griffinlim' beyond the noise: "
        "ViSQOL 4.64 vs 4.63 ± 0.00 over 6 held-out segments (it must win by more than 0.05)")
    assert _choose(fitted_state, [0.2] * 6, lines=14.2).reason == (
        "'griffinlim' is used: the bundled 'griffinlim-fitted' adds steady lines that 'griffinlim' does not: "
        "14.2 dB against the held-out recordings, vs 3.0 dB")


@pytest.mark.parametrize("segments", [2, 1])
def test_too_little_held_out_audio_keeps_the_universal_vocoder(fitted_state, segments):
    state = measured(fitted_state, {"griffinlim-fitted": {"segments": [4.5] * segments},
                                    "griffinlim": {"segments": [3.5] * segments}})
    choice = select_vocoder(Model(vocoder_state={"griffinlim-fitted": state}), installed=example_plugin())
    assert choice.backend.name == "griffinlim" and "too little held-out audio" in choice.reason


def test_figures_from_before_segments_keep_the_universal_vocoder_and_say_how_to_remeasure(fitted_state):
    state = measured(fitted_state, {"griffinlim-fitted": 4.1, "griffinlim": 3.8})
    choice = select_vocoder(Model(vocoder_state={"griffinlim-fitted": state}), installed=example_plugin())
    assert choice.backend.name == "griffinlim" and "measured before distill compared vocoders" in choice.reason
    assert any("`distill vocoders compare MODEL --save`" in w for w in choice.warnings)


def test_a_state_measured_without_the_usable_rival_is_used_with_a_note(fitted_state):
    state = measured(fitted_state, {"griffinlim-fitted": 3.0, "bigvgan": 4.5})  # measured before; now gone
    choice = select_vocoder(Model(vocoder_state={"griffinlim-fitted": state}), installed=example_plugin())
    assert choice.backend.name == "griffinlim-fitted"
    assert any("not measured against 'griffinlim'" in w and "--save" in w for w in choice.warnings)


# -- the ranking rules, each separated from the others by stub backends whose priorities disagree ----
def _stub(base: type, name: str, priority: int, weights: bool | None = None, mel_spec: MelSpec | None = None):
    attributes = {"name": name, "priority": priority, "weights_present": classmethod(lambda cls: weights)}
    if mel_spec is not None:
        attributes["mel_spec"] = mel_spec
    backend = type(f"Stub_{name.replace('-', '_')}", (base,), attributes)
    return name, RegisteredVocoder(backend, PluginInfo(name="stubs", distribution="stubs", version="0"))


def _universal(name: str, priority: int, **kwargs):
    from distill_griffinlim.vocoders import GriffinLim

    return _stub(GriffinLim, name, priority, **kwargs)


def test_a_bundled_state_beats_a_universal_backend_of_higher_priority(fitted_state):
    from distill_griffinlim.vocoders import FittedGriffinLim

    installed = dict([_stub(FittedGriffinLim, "humble", -1000), _universal("mighty", 1000)])
    state = attrs.evolve(fitted_state, backend="humble")
    choice = select_vocoder(Model(vocoder_state={"humble": state}), installed=installed)
    assert choice.backend.name == "humble" and "trained for this model" in choice.reason


def test_the_name_breaks_a_tie_of_rank_and_priority():
    installed = dict([_universal("beta", 5), _universal("alpha", 5)])
    assert select_vocoder(Model(), installed=installed).backend.name == "alpha"


def test_weights_here_beat_a_higher_priority_that_must_download_and_the_note_says_how():
    installed = dict([_universal("big", 100, weights=False), _universal("small", 0, weights=True)])
    choice = select_vocoder(Model(), installed=installed)
    assert choice.backend.name == "small"
    assert ("vocoder 'big' would be preferred but its weights are not on this machine: "
            "`distill vocoders download big` fetches them") in choice.warnings
    assert select_vocoder(Model(), installed=dict([_universal("big", 100, weights=True),
                                                   _universal("small", 0, weights=True)])).backend.name == "big"


def test_a_conversion_ranks_below_the_same_recipe_whatever_the_priorities():
    other = MelSpec(sample_rate=24000, n_fft=1024, win_length=1024, hop_length=256, n_mels=100)
    installed = dict([_universal("foreign", 1000, mel_spec=other), _universal("native", -1000)])
    choice = select_vocoder(Model(), installed=installed)
    assert choice.backend.name == "native" and not choice.needs_conversion


def test_a_bundled_state_is_used_when_no_universal_backend_is_usable(fitted_state):
    installed = {"griffinlim-fitted": example_plugin()["griffinlim-fitted"]}
    choice = select_vocoder(Model(vocoder_state={"griffinlim-fitted": fitted_state}), installed=installed)
    assert choice.backend.name == "griffinlim-fitted" and choice.reason.endswith("is bundled in it")


def test_built_vocoders_are_cached_per_state_device_and_recipe(fitted_state):
    model = Model(vocoder_state={"griffinlim-fitted": fitted_state})
    choice = select_vocoder(model, installed=example_plugin())
    vocoder = load_vocoder(choice, DISTILL_MEL, "cpu")
    assert torch.equal(vocoder.inverse, fitted_state.weights["inverse"]) and vocoder.device == "cpu"
    assert load_vocoder(choice, DISTILL_MEL, "cpu") is vocoder  # built once
    twin = attrs.evolve(fitted_state, weights={"inverse": fitted_state.weights["inverse"] * 2})
    other = load_vocoder(select_vocoder(Model(vocoder_state={"griffinlim-fitted": twin}), installed=example_plugin()),
                         DISTILL_MEL, "cpu")
    assert other is not vocoder and torch.equal(other.inverse, twin.weights["inverse"])  # keyed by the state itself
    assert load_vocoder(choice, DISTILL_MEL, "meta") is not vocoder

    # A converting vocoder is built per source recipe: each converts from its own model's mels.
    installed = {"griffinlim-22k": example_plugin()["griffinlim-22k"]}
    first, second = DISTILL_MEL, MelSpec(fmin=30.0)
    a = load_vocoder(select_vocoder(Model(mel_spec=first), installed=installed), first, "cpu")
    b = load_vocoder(select_vocoder(Model(mel_spec=second), installed=installed), second, "cpu")
    assert a is not b and a.mel_spec == first and b.mel_spec == second
    plain = load_vocoder(select_vocoder(Model(mel_spec=a.inner.mel_spec), installed=installed), first, "cpu")
    assert plain is not a and plain.mel_spec == a.inner.mel_spec
