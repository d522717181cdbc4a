"""The auto-selector ranks the installed backends (real plugins) against what a model carries."""

import attrs
import numpy as np
import pytest
import soundfile
import torch
from distill import DISTILL_MEL, DistillError, MelSpec, VocoderState
from distill.plugins import PluginInfo, RegisteredVocoder, installed_vocoders
from distill.vocoders.contract import VocoderTrainingRun
from distill.vocoders.selection import load_vocoder, select_vocoder
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


def test_explicit_vocoder_skips_ranking_and_fails_clearly(fitted_state):
    choice = select_vocoder(Model(), requested="griffinlim-22k", installed=example_plugin())
    assert choice.backend.name == "griffinlim-22k" and choice.needs_conversion
    with pytest.raises(DistillError, match=r"'bigvgan' is not installed \(installed: griffinlim, griffinlim-22k"):
        select_vocoder(Model(), requested="bigvgan", installed=example_plugin())
    with pytest.raises(DistillError, match="this model has none: run `distill train-vocoder"):
        select_vocoder(Model(), requested="griffinlim-fitted", installed=example_plugin())


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


def measured(state: VocoderState, figures: dict[str, float]) -> VocoderState:
    """A copy of `state` with stored ViSQOL figures, as `train-vocoder` leaves them."""
    rows = {name: {"visqol": value, "log_mel_l1": 0.3, "mr_stft": 1.0} for name, value in figures.items()}
    return attrs.evolve(state, training={**state.training, "figures": {"files": 3, "rows": rows}})


@pytest.mark.parametrize(("own", "rival", "chosen"), [(4.1, 3.8, "griffinlim-fitted"), (3.8, 3.8, "griffinlim"),
                                                      (3.2, 3.8, "griffinlim")])
def test_a_bundled_state_is_used_only_where_it_measured_better(fitted_state, own, rival, chosen):
    state = measured(fitted_state, {"griffinlim-fitted": own, "griffinlim": rival})
    choice = select_vocoder(Model(vocoder_state={"griffinlim-fitted": state}), installed=example_plugin())
    assert choice.backend.name == chosen
    if chosen == "griffinlim-fitted":
        assert choice.state is state
        assert choice.reason == ("'griffinlim-fitted' (bundled) measured better than 'griffinlim': "
                                 "ViSQOL 4.10 vs 3.80 on 3 held-out files")
    else:  # a tie is not better: the universal backend keeps its place
        assert choice.state is None
        assert choice.reason == (f"'griffinlim' measured better than the bundled 'griffinlim-fitted': "
                                 f"ViSQOL {rival:.2f} vs {own:.2f} on 3 held-out files")
        assert any("bundled 'griffinlim-fitted' is not used" in w for w in choice.warnings)


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
