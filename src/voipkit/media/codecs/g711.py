"""G.711 µ-law (PCMU) and A-law (PCMA), bit-exact, through numpy lookup tables.

Knows: ITU-T G.711 companding as the ITU-T G.191 reference code implements
it (16-bit linear in, one's-complement magnitude for negative samples),
RFC 3551 §4.5.14 (PCMU static payload type 0, PCMA 8, 8000 Hz), and a simple
waveform-substitution packet loss concealment in the spirit of G.711
Appendix I.
Must not know: RTP headers, SDP, sockets or the clock.

The encode tables have 65536 entries (int16 viewed as uint16 -> code) and
the decode tables 256 entries, so a frame is one fancy-indexing operation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voipkit.media.codecs.base import Pcm

__all__ = [
    "ALAW_DECODE",
    "ALAW_ENCODE",
    "ULAW_DECODE",
    "ULAW_ENCODE",
    "G711Decoder",
    "G711Encoder",
    "alaw_decode",
    "alaw_encode",
    "ulaw_decode",
    "ulaw_encode",
]

SAMPLE_RATE = 8000


def _segment(magnitude: npt.NDArray[np.int32], first: int) -> npt.NDArray[np.int32]:
    """Segment number 0–7: how many of the 7 octave thresholds ``first << k`` are reached."""
    thresholds = np.array([first << k for k in range(7)], dtype=np.int32)
    return np.searchsorted(thresholds, magnitude, side="right").astype(np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    magnitude = np.where(linear < 0, ~linear, linear) >> 2  # 14-bit magnitude
    magnitude = np.minimum(magnitude + 33, 0x1FFF)  # bias 33, clip to 13 bits
    seg = _segment(magnitude, 64)
    mantissa = (magnitude >> (seg + 1)) & 0x0F
    code = ((7 - seg) << 4) | (0x0F - mantissa)
    code = np.where(linear >= 0, code | 0x80, code)
    return np.roll(code.astype(np.uint8), -32768)  # index by the uint16 view of the sample


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32)
    inverted = ~code & 0xFF
    seg = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    # Reconstruct the biased magnitude at the middle of the quantisation step.
    magnitude = (((mantissa << 3) + 0x84) << seg) - 0x84
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    magnitude = np.where(linear < 0, ~linear, linear) >> 4  # 12-bit magnitude
    seg = _segment(magnitude, 16)
    mantissa = np.where(seg == 0, magnitude >> 0, magnitude >> np.maximum(seg - 1, 0)) & 0x0F
    code = (seg << 4) | mantissa
    code = np.where(linear >= 0, code | 0x80, code) ^ 0x55  # even bits inverted
    return np.roll(code.astype(np.uint8), -32768)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32)
    toggled = code ^ 0x55
    seg = (toggled >> 4) & 0x07
    mantissa = toggled & 0x0F
    step_base = np.where(seg == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108))
    magnitude = np.where(seg > 1, step_base << np.maximum(seg - 1, 0), step_base)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


ULAW_ENCODE = _build_ulaw_encode()
ULAW_DECODE = _build_ulaw_decode()
ALAW_ENCODE = _build_alaw_encode()
ALAW_DECODE = _build_alaw_decode()
for _table in (ULAW_ENCODE, ULAW_DECODE, ALAW_ENCODE, ALAW_DECODE):
    _table.setflags(write=False)


def ulaw_encode(pcm: Pcm) -> bytes:
    """µ-law codes for int16 samples."""
    return ULAW_ENCODE[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()


def ulaw_decode(payload: bytes) -> Pcm:
    """int16 samples for µ-law codes."""
    return ULAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]


def alaw_encode(pcm: Pcm) -> bytes:
    """A-law codes for int16 samples."""
    return ALAW_ENCODE[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()


def alaw_decode(payload: bytes) -> Pcm:
    """int16 samples for A-law codes."""
    return ALAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]


class G711Encoder:
    """Encoder for PCMU (``law="u"``) or PCMA (``law="a"``)."""

    def __init__(self, law: str) -> None:
        if law not in ("u", "a"):
            raise ValueError(f"G.711 law must be 'u' or 'a', not {law!r}")
        self._table = ULAW_ENCODE if law == "u" else ALAW_ENCODE

    def encode(self, pcm: Pcm) -> bytes:
        """One code byte per sample."""
        return self._table[np.asarray(pcm, dtype=np.int16).view(np.uint16)].tobytes()


# Concealment parameters, in samples at 8 kHz (after G.711 Appendix I).
_HISTORY = 390  # 48.75 ms of history
_PITCH_MIN = 40  # 200 Hz
_PITCH_MAX = 120  # 66.7 Hz
_CORR_WINDOW = 160
_FULL_GAIN = 80  # the first 10 ms of an erasure are played at full level
_FADE = 400  # then a linear fade to silence over 50 ms (60 ms after the loss began)


class G711Decoder:
    """Decoder for PCMU or PCMA with waveform-substitution concealment.

    ``conceal(n)`` finds the pitch period of the recent output by normalised
    autocorrelation (lags of 5–15 ms) and repeats the last period; with too
    little history it repeats the last frame. The first 10 ms of an erasure
    play at full level, then the level falls linearly to silence 60 ms after
    the loss began, as G.711 Appendix I recommends (it fades 20 % per 10 ms).
    A decoded packet ends the erasure.
    """

    def __init__(self, law: str) -> None:
        if law not in ("u", "a"):
            raise ValueError(f"G.711 law must be 'u' or 'a', not {law!r}")
        self._table = ULAW_DECODE if law == "u" else ALAW_DECODE
        self._history: Pcm = np.zeros(0, dtype=np.int16)
        self._period: Pcm | None = None  # the repeated waveform during an erasure
        self._phase = 0
        self._erased = 0  # samples concealed since the last good packet

    def decode(self, payload: bytes) -> Pcm:
        """One sample per code byte."""
        pcm = self._table[np.frombuffer(payload, dtype=np.uint8)]
        self._remember(pcm)
        self._period = None
        self._erased = 0
        return pcm

    def conceal(self, samples: int) -> Pcm:
        """``samples`` of substitute PCM for a lost frame (silence without history)."""
        if samples <= 0:
            return np.zeros(0, dtype=np.int16)
        if len(self._history) == 0:
            self._erased += samples
            return np.zeros(samples, dtype=np.int16)
        if self._period is None:
            self._period = self._last_period()
            self._phase = 0
        period = self._period
        index = (self._phase + np.arange(samples)) % len(period)
        self._phase = (self._phase + samples) % len(period)
        position = self._erased + np.arange(samples, dtype=np.float64)
        gain = np.clip(1.0 - (position - _FULL_GAIN) / _FADE, 0.0, 1.0)
        self._erased += samples
        out = np.round(period[index].astype(np.float64) * gain).astype(np.int16)
        return out

    def _remember(self, pcm: Pcm) -> None:
        self._history = np.concatenate((self._history, pcm))[-_HISTORY:]

    def _last_period(self) -> Pcm:
        history = self._history.astype(np.float64)
        if len(history) < _CORR_WINDOW + _PITCH_MAX:
            return self._history.copy()
        target = history[-_CORR_WINDOW:]
        windows = np.lib.stride_tricks.sliding_window_view(history, _CORR_WINDOW)
        first = len(history) - _CORR_WINDOW
        # Row k is the window lagging the target by _PITCH_MIN + k samples.
        candidates = windows[first - _PITCH_MAX : first - _PITCH_MIN + 1][::-1]
        energy = np.einsum("ij,ij->i", candidates, candidates)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(energy > 0, (candidates @ target) / np.sqrt(energy), -np.inf)
        best_lag = _PITCH_MIN + int(np.argmax(score))
        return self._history[-best_lag:].copy()
