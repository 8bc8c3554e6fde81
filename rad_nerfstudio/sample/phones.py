"""Phone inventory of the synthetic speaker: articulation targets and acoustic parameters.

Each phone carries the mouth shape it drives (opening in [0, 1], width factor around 1), the
formant targets the built-in synthesizer uses, and the spelling handed to real TTS engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Literal, Tuple

PhoneKind = Literal["vowel", "stop", "nasal", "fricative", "liquid"]


@dataclass(frozen=True)
class PhoneSpec:
    """Articulatory and acoustic description of one phone."""

    kind: PhoneKind
    mouth_open: float
    """Target mouth opening, 0 closed (bilabials) to 1 wide open ('a')."""
    mouth_width: float
    """Target mouth width relative to neutral (rounded vowels < 1, spread vowels > 1)."""
    formants: Tuple[float, float, float]
    """F1, F2, F3 in Hz (vowels, nasals, liquids; consonants use them as transition targets)."""
    espeak: str
    """espeak-ng phoneme mnemonic (used inside ``[[...]]``)."""
    spelling: str
    """Orthographic spelling for engines without phoneme input (festival)."""
    voiced: bool = True
    noise_band: Tuple[float, float] | None = None
    """Frication / burst noise band in Hz, if the phone has noise."""


VOWELS: Dict[str, PhoneSpec] = {
    "a": PhoneSpec("vowel", 1.00, 1.00, (730.0, 1090.0, 2440.0), "A:", "ah"),
    "e": PhoneSpec("vowel", 0.60, 1.12, (530.0, 1840.0, 2480.0), "E", "eh"),
    "i": PhoneSpec("vowel", 0.30, 1.20, (280.0, 2250.0, 2900.0), "i:", "ee"),
    "o": PhoneSpec("vowel", 0.70, 0.72, (570.0, 840.0, 2410.0), "oU", "oh"),
    "u": PhoneSpec("vowel", 0.35, 0.62, (310.0, 870.0, 2240.0), "u:", "oo"),
}

CONSONANTS: Dict[str, PhoneSpec] = {
    "b": PhoneSpec("stop", 0.00, 0.95, (250.0, 900.0, 2200.0), "b", "b", True, (300.0, 3000.0)),
    "p": PhoneSpec("stop", 0.00, 0.95, (250.0, 900.0, 2200.0), "p", "p", False, (400.0, 4000.0)),
    "m": PhoneSpec("nasal", 0.00, 0.95, (250.0, 1100.0, 2300.0), "m", "m"),
    "f": PhoneSpec("fricative", 0.10, 1.00, (400.0, 1300.0, 2400.0), "f", "f", False, (1500.0, 7000.0)),
    "t": PhoneSpec("stop", 0.22, 1.05, (400.0, 1700.0, 2600.0), "t", "t", False, (2500.0, 7000.0)),
    "d": PhoneSpec("stop", 0.22, 1.05, (400.0, 1700.0, 2600.0), "d", "d", True, (2000.0, 6000.0)),
    "n": PhoneSpec("nasal", 0.20, 1.05, (250.0, 1500.0, 2500.0), "n", "n"),
    "s": PhoneSpec("fricative", 0.18, 1.10, (400.0, 1700.0, 2600.0), "s", "s", False, (4000.0, 7500.0)),
    "l": PhoneSpec("liquid", 0.30, 1.00, (360.0, 1300.0, 2700.0), "l", "l"),
    "k": PhoneSpec("stop", 0.28, 1.00, (350.0, 1800.0, 2300.0), "k", "k", False, (1500.0, 4000.0)),
    "g": PhoneSpec("stop", 0.28, 1.00, (350.0, 1800.0, 2300.0), "g", "g", True, (1200.0, 3500.0)),
    "sh": PhoneSpec("fricative", 0.20, 0.75, (400.0, 1800.0, 2500.0), "S", "sh", False, (2000.0, 5000.0)),
}

CODAS = ("m", "n", "s", "l")
"""Consonants allowed to close a syllable."""

PHONES: Dict[str, PhoneSpec] = {**VOWELS, **CONSONANTS}

SILENCE_MOUTH_OPEN = 0.02
"""Mouth opening at rest (lips lightly together)."""
