"""Built-in source-filter (formant) speech synthesizer: no system packages, fully deterministic.

A glottal pulse train with a wandering pitch drives a cascade of three time-varying formant
resonators; band-limited noise adds frication and stop bursts. Control tracks are laid on a
1 ms grid from the phone timeline and smoothed, which gives formant transitions between phones.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from jaxtyping import Float
from scipy import signal

from rad_nerfstudio.sample.phones import PHONES
from rad_nerfstudio.sample.timeline import PhoneInterval

_NEUTRAL_FORMANTS = (500.0, 1500.0, 2500.0)
_BANDWIDTHS = (80.0, 110.0, 160.0)
_VOICE_AMPLITUDE = {"vowel": 1.0, "liquid": 0.7, "nasal": 0.45}
_BURST_S = 0.018


def _gaussian_smooth(track: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(4 * sigma) + 1
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(track, radius, mode="edge"), kernel, mode="valid")


def _resonator(freq: float, bandwidth: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Klatt second-order resonator with unit gain at DC."""
    c = -np.exp(-2.0 * np.pi * bandwidth / sample_rate)
    b = 2.0 * np.exp(-np.pi * bandwidth / sample_rate) * np.cos(2.0 * np.pi * freq / sample_rate)
    return np.array([1.0 - b - c]), np.array([1.0, -b, -c])


def _glottal_source(num_samples: int, sample_rate: int, rng: np.random.Generator) -> Float[np.ndarray, " samples"]:
    """Differentiated raised-sine glottal pulses under a slowly wandering pitch (about 100-140 Hz)."""
    t = np.arange(num_samples) / sample_rate
    phases = rng.uniform(0, 2 * np.pi, size=3)
    f0 = 120.0 + 10.0 * np.sin(2 * np.pi * 0.6 * t + phases[0]) + 5.0 * np.sin(2 * np.pi * 1.9 * t + phases[1])
    f0 *= 1.0 + 0.01 * np.sin(2 * np.pi * 5.5 * t + phases[2])
    phase = np.cumsum(f0 / sample_rate) % 1.0
    open_quotient = 0.6
    pulse = np.where(phase < open_quotient, np.sin(np.pi * phase / open_quotient) ** 2, 0.0)
    source = np.diff(pulse, prepend=0.0) * 20.0
    return source + 0.02 * rng.standard_normal(num_samples)


def synthesize_formant_speech(
    phones: Sequence[PhoneInterval], num_samples: int, sample_rate: int, rng: np.random.Generator
) -> Float[np.ndarray, " samples"]:
    """Render the phone timeline as speech-like audio in [-1, 1]."""
    step = 1e-3
    n_ms = int(np.ceil(num_samples / sample_rate / step)) + 1
    voice = np.zeros(n_ms)
    formants = np.tile(np.asarray(_NEUTRAL_FORMANTS), (n_ms, 1))
    noise_env = {}
    for p in phones:
        spec = PHONES[p.phone]
        a, b = int(round(p.start / step)), max(int(round(p.end / step)), int(round(p.start / step)) + 1)
        formants[a:b] = spec.formants
        if spec.kind in _VOICE_AMPLITUDE:
            voice[a:b] = _VOICE_AMPLITUDE[spec.kind]
        elif spec.kind == "stop" and spec.voiced:
            voice[a:b] = 0.12  # voice bar during the closure
        if spec.noise_band is not None:
            env = noise_env.setdefault(spec.noise_band, np.zeros(n_ms))
            if spec.kind == "stop":
                burst = max(a, b - int(round(_BURST_S / step)))
                env[burst:b] = 0.5
            else:
                env[a:b] = 0.35 if spec.noise_band[0] >= 2000.0 else 0.12  # sibilants are loud
    voice = _gaussian_smooth(voice, 6.0)
    formants = np.stack([_gaussian_smooth(formants[:, k], 15.0) for k in range(3)], axis=1)

    ms_index = np.minimum((np.arange(num_samples) / sample_rate / step).astype(np.int64), n_ms - 1)
    source = _glottal_source(num_samples, sample_rate, rng) * voice[ms_index]

    block = int(round(0.005 * sample_rate))
    output = np.zeros(num_samples)
    states = [np.zeros(2) for _ in range(3)]
    for start in range(0, num_samples, block):
        chunk = source[start : start + block]
        centre = min(int((start + block // 2) / sample_rate / step), n_ms - 1)
        for k in range(3):
            b_coef, a_coef = _resonator(float(formants[centre, k]), _BANDWIDTHS[k], sample_rate)
            chunk, states[k] = signal.lfilter(b_coef, a_coef, chunk, zi=states[k])
        output[start : start + block] = chunk
    for freq in (3500.0, 4500.0):  # fixed higher formants give the voice some brightness
        b_coef, a_coef = _resonator(freq, 250.0, sample_rate)
        output = 0.7 * output + 0.3 * np.asarray(signal.lfilter(b_coef, a_coef, output))

    voiced_peak = float(np.max(np.abs(output))) or 1.0
    output /= voiced_peak
    nyquist = sample_rate / 2
    for (low, high), env in sorted(noise_env.items()):
        sos = signal.butter(4, [low / nyquist, min(high, 0.95 * nyquist) / nyquist], btype="band", output="sos")
        noise = np.asarray(signal.sosfilt(sos, rng.standard_normal(num_samples)))
        noise /= float(np.max(np.abs(noise))) or 1.0
        output += noise * _gaussian_smooth(env, 3.0)[ms_index]
    output += 1e-4 * rng.standard_normal(num_samples)
    return (0.8 * output / max(float(np.max(np.abs(output))), 1e-6)).astype(np.float32)
