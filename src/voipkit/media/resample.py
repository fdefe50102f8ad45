"""One streaming sample-rate converter per leg, over ``soxr.ResampleStream``.

Knows: mono int16 PCM in and out, two sample rates, and that a stream
resampler keeps filter state between chunks (a one-shot call rebuilds the
filter each time, ~90 µs, DESIGN.md). Internally the samples travel as
float32 and are rounded back to int16 here: soxr's own int16 output is
dithered per chunk, so it would differ by a few LSB with the chunk size,
while the float32 path gives the same samples however the input is cut.
Must not know: codecs, RTP, sockets or the clock.

Latency: soxr filters in blocks, so output comes in bursts. Measured with
20 ms chunks: "HQ" holds back ~160 ms (8k->48k) before its first output and
then releases ~150 ms at a time; "MQ" ~60 ms; "LQ" (the default here, a
linear-phase filter keeping 96 % of the band, ample for telephony) ~40 ms
at 8k<->48k and one chunk at 16k<->48k; "QQ" (cubic, no anti-alias filter)
returns every chunk at once. A caller that must emit fixed frames keeps a
small FIFO after the resampler.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import soxr  # type: ignore[import-untyped]

from voipkit.media.codecs.base import Pcm

__all__ = ["Quality", "Resampler"]

Quality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]
_SCALE = 32768.0


def _to_int16(samples: object) -> Pcm:
    data = np.asarray(samples, dtype=np.float32).reshape(-1)
    return np.clip(np.round(data * _SCALE), -32768, 32767).astype(np.int16)


class Resampler:
    """Converts a stream of mono int16 PCM from ``in_rate`` to ``out_rate``.

    ``process(pcm)`` returns whatever output is ready (possibly none);
    ``flush()`` returns the rest at the end of the stream, after which the
    resampler starts afresh. With equal rates it passes samples through.
    """

    def __init__(self, in_rate: int, out_rate: int, *, quality: Quality = "LQ") -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, not {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(
                in_rate, out_rate, 1, dtype="float32", quality=quality
            )

    @property
    def delay(self) -> float:
        """The filter's delay now, in output samples (0 when passing through)."""
        return 0.0 if self._stream is None else float(self._stream.delay())

    def process(self, pcm: Pcm) -> Pcm:
        """Output for ``pcm`` as far as the filter can produce it yet."""
        samples = np.asarray(pcm, dtype=np.int16).reshape(-1)
        if self._stream is None:
            return samples.copy()
        floats = samples.astype(np.float32) / np.float32(_SCALE)
        return _to_int16(self._stream.resample_chunk(floats))

    def flush(self) -> Pcm:
        """The output still held in the filter; the stream then starts over."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out = _to_int16(self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
        self._stream.clear()
        return out
