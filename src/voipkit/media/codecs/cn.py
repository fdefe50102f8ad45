"""Comfort noise (RFC 3389): a noise level sent in silence, and noise played at that level.

Knows: RFC 3389 §3 — payload type 13 at 8000 Hz (RFC 3551 table 4); the
first octet is the noise level in -dBov (0–127, bit 7 zero), where 0 dBov is
a full-scale square wave (§3.1: for 16-bit linear PCM, an RMS of 32767);
octets after it are optional spectral (reflection) coefficients. We send the
level only (model order 0, §3.2 allows it) and, receiving, play white
noise at the level and ignore any coefficients. Noise comes from a numpy
generator seeded by the caller, so output is reproducible.
Must not know: RTP headers, SDP text, sockets or the clock.
"""

from __future__ import annotations

import math

import numpy as np

from voipkit.media.codecs.base import Pcm
from voipkit.media.codecs.registry import CodecSpec

__all__ = ["CN", "CnDecoder", "CnEncoder", "level_of", "rms_of_level"]

FULL_SCALE = 32767.0  # RMS of a full-scale square wave: 0 dBov
MAX_LEVEL = 127
FRAME_SAMPLES = 160  # 20 ms at 8000 Hz: how much noise one CN packet decodes to


def level_of(pcm: Pcm) -> int:
    """The RFC 3389 level (-dBov, 0–127) of a frame; digital silence is 127."""
    samples = np.asarray(pcm, dtype=np.float64)
    rms = math.sqrt(float(np.mean(samples * samples))) if len(samples) else 0.0
    if rms <= 0.0:
        return MAX_LEVEL
    return max(0, min(MAX_LEVEL, round(-20.0 * math.log10(rms / FULL_SCALE))))


def rms_of_level(level: int) -> float:
    """The RMS amplitude an RFC 3389 level stands for."""
    return float(FULL_SCALE * 10.0 ** (-level / 20.0))


class CnEncoder:
    """A silence frame to a one-octet comfort-noise payload (its level)."""

    def encode(self, pcm: Pcm) -> bytes:
        """``bytes([level])``: RFC 3389 §3.1, no spectral information."""
        return bytes([level_of(pcm)])


class CnDecoder:
    """Comfort-noise payloads to white noise at the announced level.

    ``decode`` gives ``frame_samples`` of noise; ``conceal`` keeps the noise
    going at the last level (that is what comfort noise means between updates).
    """

    def __init__(self, *, seed: int = 3389, frame_samples: int = FRAME_SAMPLES) -> None:
        self._rng = np.random.default_rng(seed)
        self._frame_samples = frame_samples
        self.level: int | None = None

    def decode(self, payload: bytes) -> Pcm:
        """Noise at the payload's level; an empty payload keeps the last level."""
        if payload:
            self.level = payload[0] & 0x7F  # §3.1: bit 7 is reserved, zero
        return self._noise(self._frame_samples)

    def conceal(self, samples: int) -> Pcm:
        """More noise at the last level (silence before any CN packet)."""
        return self._noise(max(0, samples))

    def _noise(self, samples: int) -> Pcm:
        if self.level is None or samples == 0:
            return np.zeros(samples, dtype=np.int16)
        noise = self._rng.standard_normal(samples) * rms_of_level(self.level)
        return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


CN = CodecSpec(
    name="CN",
    clock_rate=8000,
    sample_rate=8000,
    static_payload_type=13,  # RFC 3551 table 4
    make_encoder=CnEncoder,
    make_decoder=CnDecoder,
)
