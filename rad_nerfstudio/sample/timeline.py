"""Random syllable scripts and the phone timeline that drives both the audio and the mouth."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List, Sequence, Tuple

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.sample.phones import CODAS, CONSONANTS, PHONES, SILENCE_MOUTH_OPEN, VOWELS


@dataclass(frozen=True)
class Syllable:
    """A consonant-vowel(-consonant) syllable."""

    onset: str | None
    vowel: str
    coda: str | None

    @property
    def phones(self) -> Tuple[str, ...]:
        return tuple(p for p in (self.onset, self.vowel, self.coda) if p is not None)

    @property
    def espeak(self) -> str:
        """espeak-ng phoneme string with primary stress on the vowel."""
        parts = [PHONES[p].espeak for p in self.phones]
        vowel_at = self.phones.index(self.vowel)
        parts[vowel_at] = "'" + parts[vowel_at]
        return "".join(parts)

    @property
    def spelling(self) -> str:
        return "".join(PHONES[p].spelling for p in self.phones)


@dataclass(frozen=True)
class PhoneInterval:
    """One phone of the timeline, in seconds from the start of the audio."""

    phone: str
    start: float
    end: float
    syllable: int
    """Index of the syllable this phone belongs to."""

    def to_dict(self) -> dict:
        return asdict(self)


def random_script(rng: np.random.Generator, num_syllables: int) -> List[List[Syllable]]:
    """Phrases of 2-6 random syllables; the caller decides how many fit into the duration."""
    vowels = sorted(VOWELS)
    onsets = sorted(CONSONANTS)
    phrases: List[List[Syllable]] = []
    remaining = num_syllables
    while remaining > 0:
        length = min(remaining, int(rng.integers(2, 7)))
        phrase = []
        for _ in range(length):
            onset = None if rng.random() < 0.12 else onsets[int(rng.integers(len(onsets)))]
            coda = CODAS[int(rng.integers(len(CODAS)))] if rng.random() < 0.2 else None
            phrase.append(Syllable(onset, vowels[int(rng.integers(len(vowels)))], coda))
        phrases.append(phrase)
        remaining -= length
    return phrases


def articulation_curves(
    phones: Sequence[PhoneInterval], times: Float[np.ndarray, " n"], coarticulation_s: float = 0.03
) -> Tuple[Float[np.ndarray, " n"], Float[np.ndarray, " n"]]:
    """Mouth opening and width at ``times`` (seconds), from the phone timeline.

    Phone targets are laid on a 1 ms grid (rest shape in silences) and smoothed with a Gaussian of
    ``coarticulation_s`` standard deviation, so neighbouring phones blend as in real speech.
    """
    step = 1e-3
    end = max(float(times.max(initial=0.0)), max((p.end for p in phones), default=0.0)) + 4 * coarticulation_s
    grid_len = int(np.ceil(end / step)) + 1
    opening = np.full(grid_len, SILENCE_MOUTH_OPEN)
    width = np.ones(grid_len)
    for p in phones:
        a, b = int(round(p.start / step)), int(round(p.end / step))
        opening[a:b] = PHONES[p.phone].mouth_open
        width[a:b] = PHONES[p.phone].mouth_width
    radius = int(4 * coarticulation_s / step)
    x = np.arange(-radius, radius + 1) * step
    kernel = np.exp(-0.5 * (x / coarticulation_s) ** 2)
    kernel /= kernel.sum()
    grid_t = np.arange(grid_len) * step
    smooth_open = np.convolve(np.pad(opening, radius, mode="edge"), kernel, mode="valid")
    smooth_width = np.convolve(np.pad(width, radius, mode="edge"), kernel, mode="valid")
    return np.interp(times, grid_t, smooth_open), np.interp(times, grid_t, smooth_width)
