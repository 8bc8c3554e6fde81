"""Speech engines: built-in formant synthesis, and real TTS engines driven per syllable."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rad_nerfstudio.sample.phones import PHONES
from rad_nerfstudio.sample.speech import LEAD_IN_S, synthesize_speech
from rad_nerfstudio.sample.timeline import PhoneInterval, articulation_curves

FAKE_ENGINE = textwrap.dedent(
    """\
    #!{python}
    # Stand-in for a TTS engine: a 22.05 kHz tone with silent padding, written as wav.
    import io, sys, numpy as np, soundfile
    args = sys.argv[1:]
    rate = 22050
    tone = 0.5 * np.sin(2 * np.pi * 200 * np.arange(int(0.3 * rate)) / rate)
    audio = np.concatenate([np.zeros(rate // 10), tone, np.zeros(rate // 10)])
    with open("{log}", "a") as log:
        log.write(" ".join(args) + "\\n")
    if "--stdout" in args:
        buffer = io.BytesIO()
        soundfile.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
        sys.stdout.buffer.write(buffer.getvalue())
    else:
        soundfile.write(args[args.index("-o") + 1], audio, rate, format="WAV", subtype="PCM_16")
    """
)


def _install_fake(bin_dir: Path, name: str, log: Path) -> None:
    import sys

    path = bin_dir / name
    path.write_text(FAKE_ENGINE.format(python=sys.executable, log=log))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def only_fake_engines(tmp_path, monkeypatch):
    """A PATH holding only the given fake engines (and nothing else named espeak-ng/text2wave)."""

    def install(*names: str) -> Path:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        log = tmp_path / "calls.log"
        for name in names:
            _install_fake(bin_dir, name, log)
        monkeypatch.setenv("PATH", str(bin_dir))
        return log

    return install


def test_formant_speech_has_exact_length_and_silent_lead_in():
    speech = synthesize_speech(5.0, seed=1, sample_rate=16000, engine="formant")
    assert speech.audio.shape == (80000,) and speech.audio.dtype == np.float32
    assert np.abs(speech.audio).max() <= 1.0
    lead = speech.audio[: int(0.9 * LEAD_IN_S * 16000)]
    assert np.abs(lead).max() < 0.01
    assert speech.phones[0].start >= LEAD_IN_S and speech.phones[-1].end <= 5.0


def test_formant_vowels_have_their_first_formant():
    """An 'a' (F1 730 Hz) carries more energy near 700 Hz than an 'i' (F1 280 Hz), and vice versa near 280."""
    speech = synthesize_speech(8.0, seed=2, sample_rate=16000, engine="formant")

    def band_ratio(vowel: str) -> float:
        segs = [p for p in speech.phones if p.phone == vowel and p.end - p.start > 0.1]
        assert segs, vowel
        ratios = []
        for p in segs:
            a, b = int((p.start + 0.03) * 16000), int((p.end - 0.03) * 16000)
            spectrum = np.abs(np.fft.rfft(speech.audio[a:b] * np.hanning(b - a)))
            freqs = np.fft.rfftfreq(b - a, 1 / 16000)
            ratios.append(spectrum[(freqs > 600) & (freqs < 850)].sum() / spectrum[(freqs > 200) & (freqs < 350)].sum())
        return float(np.median(ratios))

    assert band_ratio("a") > 2 * band_ratio("i")


def test_articulation_closes_for_bilabials_and_opens_for_a():
    phones = [PhoneInterval("m", 0.5, 0.7, 0), PhoneInterval("a", 0.7, 0.95, 0)]
    opening, width = articulation_curves(phones, np.array([0.1, 0.6, 0.83]))
    assert opening[0] < 0.05 and opening[1] < 0.1 and opening[2] > 0.9
    assert width[2] == pytest.approx(PHONES["a"].mouth_width, abs=0.05)


def test_auto_prefers_espeak_and_synthesises_each_syllable_once(only_fake_engines):
    log = only_fake_engines("espeak-ng", "text2wave")
    speech = synthesize_speech(4.0, seed=0, sample_rate=16000, engine="auto")
    assert speech.engine == "espeak-ng"
    calls = log.read_text().splitlines()
    assert all("--stdout" in c and "[[" in c for c in calls)
    assert len(calls) == len(set(calls)), "units are cached per syllable"
    syllables = {p.syllable for p in speech.phones}
    assert len(calls) <= len(syllables) + 1  # the syllable that no longer fits was measured too
    # each unit is the trimmed, resampled tone: 0.3 s long, placed where the timeline says
    first = [p for p in speech.phones if p.syllable == 0]
    assert first[-1].end - first[0].start == pytest.approx(0.3 + 0.01, abs=0.01)
    a = int(first[0].start * 16000)
    assert np.abs(speech.audio[a + 100 : a + 4000]).max() > 0.3
    assert np.abs(speech.audio[: a - 200]).max() < 1e-6


def test_festival_is_used_when_it_is_the_only_engine(only_fake_engines):
    log = only_fake_engines("text2wave")
    speech = synthesize_speech(3.0, seed=0, sample_rate=16000, engine="auto")
    assert speech.engine == "festival"
    assert all(" -o " in f" {c} " for c in log.read_text().splitlines())


def test_auto_falls_back_to_the_builtin_synthesizer(only_fake_engines):
    only_fake_engines()
    assert synthesize_speech(3.0, seed=0, sample_rate=16000, engine="auto").engine == "formant"
    assert "espeak-ng" not in os.listdir(Path(os.environ["PATH"]))
