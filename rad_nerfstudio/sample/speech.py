"""Speech for the synthetic speaker: a random syllable script, its audio and its phone timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Literal, Sequence, Tuple

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.sample.formant_synth import synthesize_formant_speech
from rad_nerfstudio.sample.phones import PHONES
from rad_nerfstudio.sample.timeline import PhoneInterval, Syllable, random_script
from rad_nerfstudio.sample.tts import TtsUnits, available_tts_engine

SpeechEngine = Literal["auto", "espeak-ng", "festival", "formant"]

LEAD_IN_S = 0.4
"""Silence before the first syllable."""
TAIL_S = 0.3
"""Silence kept after the last syllable."""

_FORMANT_DURATIONS = {
    "vowel": (0.11, 0.20),
    "stop": (0.065, 0.085),
    "fricative": (0.08, 0.11),
    "nasal": (0.06, 0.08),
    "liquid": (0.05, 0.07),
}


@dataclass
class Speech:
    """Synthesised speech and the phone timeline it follows."""

    audio: Float[np.ndarray, " samples"]
    """Mono float32 audio in [-1, 1]."""
    sample_rate: int
    phones: List[PhoneInterval]
    engine: str
    """The engine actually used (``auto`` resolved)."""


def _formant_phone_durations(rng: np.random.Generator) -> Callable[[Syllable], List[float]]:
    def durations(syllable: Syllable) -> List[float]:
        return [float(rng.uniform(*_FORMANT_DURATIONS[PHONES[p].kind])) for p in syllable.phones]

    return durations


def _split_unit(syllable: Syllable, seconds: float) -> List[float]:
    """Phone durations inside a TTS syllable: short consonant edges around the vowel."""
    onset = min(0.09, 0.3 * seconds) if syllable.onset else 0.0
    coda = min(0.08, 0.25 * seconds) if syllable.coda else 0.0
    middle = [seconds - onset - coda]
    return ([onset] if syllable.onset else []) + middle + ([coda] if syllable.coda else [])


def _lay_out(
    rng: np.random.Generator, seconds: float, phone_durations: Callable[[Syllable], List[float]]
) -> Tuple[List[PhoneInterval], List[Tuple[Syllable, float]]]:
    """Place phrases of syllables with pauses until the duration is full."""
    phones: List[PhoneInterval] = []
    placed: List[Tuple[Syllable, float]] = []
    t = LEAD_IN_S
    for phrase in random_script(rng, num_syllables=int(seconds * 6) + 6):
        for syllable in phrase:
            durations = phone_durations(syllable)
            if t + sum(durations) > seconds - TAIL_S:
                return phones, placed
            placed.append((syllable, t))
            for phone, duration in zip(syllable.phones, durations, strict=False):
                phones.append(PhoneInterval(phone, t, t + duration, len(placed) - 1))
                t += duration
            t += float(rng.uniform(0.0, 0.03))
        t += float(rng.uniform(0.25, 0.7))
    return phones, placed


def _mix_units(placed: Sequence[Tuple[Syllable, float]], units: TtsUnits, num_samples: int) -> np.ndarray:
    audio = np.zeros(num_samples)
    for syllable, start in placed:
        unit = units(syllable)
        a = int(round(start * units.sample_rate))
        b = min(num_samples, a + unit.size)
        audio[a:b] += unit[: b - a]
    return audio


def synthesize_speech(seconds: float, seed: int, sample_rate: int, engine: SpeechEngine = "auto") -> Speech:
    """Random speech of exactly ``seconds`` duration (rounded to samples), deterministic per seed.

    Args:
        seconds: audio duration.
        seed: random seed of the script, durations and voice.
        sample_rate: output sample rate.
        engine: ``espeak-ng`` or ``festival`` (real TTS, must be installed), ``formant`` (built in), or
            ``auto`` (a real TTS engine when one is installed, else ``formant``).
    """
    rng = np.random.default_rng(seed)
    num_samples = int(round(seconds * sample_rate))
    resolved = (available_tts_engine() or "formant") if engine == "auto" else engine
    if resolved == "formant":
        phones, _ = _lay_out(rng, seconds, _formant_phone_durations(rng))
        audio = synthesize_formant_speech(phones, num_samples, sample_rate, rng)
        return Speech(audio, sample_rate, phones, resolved)
    units = TtsUnits(resolved, sample_rate)
    phones, placed = _lay_out(rng, seconds, lambda syl: _split_unit(syl, units(syl).size / sample_rate))
    audio = _mix_units(placed, units, num_samples)
    audio = 0.8 * audio / max(float(np.max(np.abs(audio))), 1e-6)
    return Speech(audio.astype(np.float32), sample_rate, phones, resolved)
