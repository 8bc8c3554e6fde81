"""Real text-to-speech engines (espeak-ng, festival) used one syllable at a time.

Synthesising each syllable separately gives exact syllable boundaries, so the mouth timeline
is known without forced alignment. Units are cached per syllable within one run.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from math import gcd
from pathlib import Path
from typing import Callable, Dict, Literal

import numpy as np
import soundfile
from jaxtyping import Float
from scipy import signal

from rad_nerfstudio.sample.timeline import Syllable

TtsEngine = Literal["espeak-ng", "festival"]


def available_tts_engine() -> TtsEngine | None:
    """The first real TTS engine found on PATH, if any."""
    if shutil.which("espeak-ng"):
        return "espeak-ng"
    if shutil.which("text2wave"):
        return "festival"
    return None


def _espeak_wav(syllable: Syllable) -> bytes:
    cmd = ["espeak-ng", "-v", "en-us", "-s", "170", "-p", "40", "--stdout", f"[[{syllable.espeak}]]"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


def _festival_wav(syllable: Syllable) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        text, wav = Path(tmp) / "in.txt", Path(tmp) / "out.wav"
        text.write_text(syllable.spelling + "\n")
        subprocess.run(["text2wave", str(text), "-o", str(wav)], capture_output=True, check=True)
        return wav.read_bytes()


def _trim_silence(audio: np.ndarray, sample_rate: int, rel_threshold: float = 0.02) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > rel_threshold * (np.max(np.abs(audio)) or 1.0))
    if loud.size == 0:
        raise RuntimeError("the TTS engine produced silence")
    margin = int(0.005 * sample_rate)
    return audio[max(0, loud[0] - margin) : loud[-1] + margin]


class TtsUnits:
    """Syllable audio from a TTS engine, trimmed, resampled and RMS-normalised."""

    def __init__(self, engine: TtsEngine, sample_rate: int) -> None:
        self.engine = engine
        self.sample_rate = sample_rate
        self._synth: Callable[[Syllable], bytes] = _espeak_wav if engine == "espeak-ng" else _festival_wav
        self._cache: Dict[Syllable, np.ndarray] = {}

    def __call__(self, syllable: Syllable) -> Float[np.ndarray, " samples"]:
        if syllable not in self._cache:
            data, rate = soundfile.read(io.BytesIO(self._synth(syllable)), dtype="float64", always_2d=True)
            audio = data.mean(axis=1)
            if rate != self.sample_rate:
                g = gcd(int(rate), self.sample_rate)
                audio = signal.resample_poly(audio, self.sample_rate // g, int(rate) // g)
            audio = _trim_silence(audio, self.sample_rate)
            self._cache[syllable] = 0.1 * audio / (np.sqrt(np.mean(audio**2)) + 1e-9)
        return self._cache[syllable]
