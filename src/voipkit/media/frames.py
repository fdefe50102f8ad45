"""Audio frames and the pure kernels that work on them: mixing, levels, resampling.

Knows: numpy int16 mono PCM, sample rates, the aumix mixing rule (libre) and a
streaming linear resampler. Must not know: files, devices, sockets, asyncio or
the clock. Every function here is a pure function over arrays, or (for
``StreamingResampler``) an object whose only state is the signal history it
needs to stay continuous across frames.

Frames are ``numpy.ndarray`` of dtype ``int16``, one dimension (mono). Sums are
taken in int32 and clipped once at the end, so mixing two full-scale frames
saturates instead of wrapping around.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]
"""One mono frame of signed 16-bit samples."""

K = TypeVar("K", bound=Hashable)

INT16_MIN = -32768
INT16_MAX = 32767


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A mono frame and the rate it is sampled at.

    Attributes:
        samples: int16 samples, one dimension.
        sample_rate: samples per second (8000, 16000, 48000 ...).
    """

    samples: Pcm
    sample_rate: int

    @property
    def duration(self) -> float:
        """Length of the frame in seconds."""
        return len(self.samples) / self.sample_rate


def silence(samples: int) -> Pcm:
    """A frame of ``samples`` zeros."""
    return np.zeros(samples, dtype=np.int16)


def clip_to_int16(values: npt.NDArray[np.integer] | npt.NDArray[np.floating]) -> Pcm:
    """Round (if float) and saturate to the int16 range."""
    if np.issubdtype(values.dtype, np.floating):
        values = np.rint(values)
    clipped: Pcm = np.clip(values, INT16_MIN, INT16_MAX).astype(np.int16)
    return clipped


def mix(frames: Iterable[Pcm]) -> Pcm:
    """Sum frames in int32 and clip once (the conference-bridge rule).

    Frames of different lengths are mixed over the longest; shorter ones count
    as silence past their end. No frames gives an empty frame.
    """
    arrays = list(frames)
    if not arrays:
        return silence(0)
    length = max(len(f) for f in arrays)
    total = np.zeros(length, dtype=np.int32)
    for f in arrays:
        total[: len(f)] += f
    return clip_to_int16(total)


def mix_minus(frames: Mapping[K, Pcm]) -> dict[K, Pcm]:
    """Each participant hears everyone but itself (the aumix rule).

    Sums once in int32 and subtracts each participant's own frame, so the cost
    is O(n) rather than O(n^2) and there is no clipping until the final step.
    All frames must have the same length.
    """
    if not frames:
        return {}
    total = np.zeros(len(next(iter(frames.values()))), dtype=np.int32)
    for f in frames.values():
        total += f
    return {k: clip_to_int16(total - f.astype(np.int32)) for k, f in frames.items()}


def level_dbfs(frame: Pcm) -> float:
    """RMS level relative to a full-scale sine (0 dBFS); ``-inf`` for digital silence."""
    if len(frame) == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(frame.astype(np.float64)))))
    if rms == 0.0:
        return -math.inf
    return 20.0 * math.log10(rms * math.sqrt(2.0) / INT16_MAX)


def dominant_frequency(frame: Pcm, sample_rate: int) -> float:
    """The frequency (Hz) of the largest FFT bin, DC excluded; resolution ``rate/len``."""
    if len(frame) < 2:
        raise ValueError("need at least two samples to find a frequency")
    window = np.hanning(len(frame))
    spectrum = np.abs(np.fft.rfft(frame.astype(np.float64) * window))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum)) * sample_rate / len(frame)


def to_mono(interleaved: npt.NDArray[np.int32] | Pcm, channels: int) -> Pcm:
    """Average interleaved channels into one (``channels == 1`` returns int16 as is)."""
    if channels == 1:
        return interleaved.astype(np.int16, copy=False)
    usable = len(interleaved) - len(interleaved) % channels
    shaped = interleaved[:usable].reshape(-1, channels).astype(np.int32)
    return clip_to_int16(shaped.sum(axis=1) // channels)


def _lowpass_taps(cutoff: float, taps: int) -> npt.NDArray[np.float64]:
    """A Hamming-windowed sinc low-pass; ``cutoff`` is a fraction of the input rate."""
    n = np.arange(taps) - (taps - 1) / 2.0
    h = 2.0 * cutoff * np.sinc(2.0 * cutoff * n) * np.hamming(taps)
    result: npt.NDArray[np.float64] = h / np.sum(h)
    return result


class StreamingResampler:
    """Converts a mono stream between two rates, continuous across frames.

    Linear interpolation between input samples, with positions computed in
    exact integer arithmetic (output ``k`` sits at input ``k * in_rate /
    out_rate``), so there is no drift however long the stream runs. When the
    output rate is lower, the input first goes through a windowed-sinc low-pass
    at 0.45 x the output rate so that downsampling does not alias. Keep one
    resampler per stream: its state is the filter history and the pending input.

    Two ways to drive it: ``process(x)`` (push input, get every output it
    allows) for sinks, and ``input_needed(n)`` / ``push`` / ``pull(n)`` for
    passive sources that must produce exactly ``n`` samples.
    """

    def __init__(self, in_rate: int, out_rate: int, *, taps: int = 31) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        g = math.gcd(in_rate, out_rate)
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._up = in_rate // g  # input step per output sample is _up / _down
        self._down = out_rate // g
        self._buf = np.zeros(0, dtype=np.float64)
        self._base = 0  # absolute input index of _buf[0]
        self._produced = 0  # absolute index of the next output sample
        self._taps: npt.NDArray[np.float64] | None = None
        self._history = np.zeros(0, dtype=np.float64)
        self._patterns: dict[tuple[int, int], tuple[npt.NDArray[np.int64],
                                                    npt.NDArray[np.float64],
                                                    npt.NDArray[np.float64]]] = {}
        if out_rate < in_rate:
            self._taps = _lowpass_taps(0.45 * out_rate / in_rate, taps)
            self._history = np.zeros(taps - 1, dtype=np.float64)

    def _position(self, k: int) -> tuple[int, int]:
        """Input index and fractional numerator (over ``_down``) of output ``k``."""
        return divmod(k * self._up, self._down)

    def input_needed(self, n: int) -> int:
        """How many more input samples ``pull(n)`` needs to return ``n`` samples."""
        if n <= 0:
            return 0
        index, _ = self._position(self._produced + n - 1)
        return max(0, index + 2 - (self._base + len(self._buf)))

    def push(self, samples: npt.NDArray[np.int16] | npt.NDArray[np.float64]) -> None:
        """Append input samples (filtered on the way in when downsampling)."""
        if not len(samples):  # (np.convolve would swap a too-short input with the taps)
            return
        x = samples.astype(np.float64)
        if self._taps is not None:
            joined = np.concatenate((self._history, x))
            x = np.convolve(joined, self._taps, mode="valid")
            self._history = joined[len(joined) - (len(self._taps) - 1):]
        self._buf = np.concatenate((self._buf, x))

    def _pattern(self, phase: int, n: int) -> tuple[npt.NDArray[np.int64],
                                                     npt.NDArray[np.float64],
                                                     npt.NDArray[np.float64]]:
        """Input offsets and weights of ``n`` outputs starting at numerator phase ``phase``
        (the positions repeat with the phase, so each pattern is computed once)."""
        key = (phase, n)
        found = self._patterns.get(key)
        if found is None:
            num = phase + np.arange(n, dtype=np.int64) * self._up
            frac = (num % self._down) / self._down
            found = (num // self._down, frac, 1.0 - frac)
            if len(self._patterns) < 16:
                self._patterns[key] = found
        return found

    def pull(self, n: int) -> Pcm:
        """Up to ``n`` output samples from the input pushed so far."""
        if n <= 0:
            return silence(0)
        available = self._base + len(self._buf)
        first, phase = divmod(self._produced * self._up, self._down)
        offsets, frac, rest = self._pattern(phase, n)
        # output j uses inputs first + offsets[j] and the next one; both must be in
        count = int(np.searchsorted(offsets, available - 1 - first, side="left"))
        if count < n:
            offsets, frac, rest = offsets[:count], frac[:count], rest[:count]
        local = offsets + (first - self._base)
        buf = self._buf
        out = buf[local] * rest + buf[local + 1] * frac
        self._produced += count
        keep_from, _ = self._position(self._produced)
        drop = min(max(0, keep_from - self._base), len(self._buf))
        self._buf = self._buf[drop:]
        self._base += drop
        return clip_to_int16(out)

    def process(self, samples: npt.NDArray[np.int16]) -> Pcm:
        """Push ``samples`` and return every output sample now computable."""
        self.push(samples)
        available = self._base + len(self._buf)
        # the largest k with index(k) + 1 < available
        limit = ((available - 1) * self._down - 1) // self._up + 1 if available > 1 else 0
        return self.pull(max(0, limit - self._produced))


class Decimator:
    """``StreamingResampler`` for an integer ratio down (48 -> 16 kHz), at a third of the cost.

    When ``in_rate`` is a whole multiple of ``out_rate``, every output sample of
    ``StreamingResampler`` falls exactly on a filtered input sample (the
    interpolation weight of the next one is 0), so only one filtered sample in
    ``factor`` is ever used. This computes just those, as one matrix-vector
    product over strided windows of the input, instead of low-passing every
    input sample. Same taps, same delay, same number of samples out per call:
    the output equals ``StreamingResampler``'s except where floating-point
    summation order moves a value across a rounding boundary (at most 1 LSB).
    """

    def __init__(self, in_rate: int, out_rate: int, *, taps: int = 31) -> None:
        if out_rate <= 0 or in_rate <= out_rate or in_rate % out_rate:
            raise ValueError(f"{in_rate} -> {out_rate} is not an integer ratio down")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._factor = in_rate // out_rate
        self._width = taps
        reversed_taps = _lowpass_taps(0.45 * out_rate / in_rate, taps)[::-1]
        self._taps: npt.NDArray[np.float64] = np.ascontiguousarray(reversed_taps)
        self._buf = np.zeros(taps - 1, dtype=np.float64)  # input from index _start on
        self._start = 1 - taps  # the filter starts from silence
        self._total = 0  # input samples pushed
        self._produced = 0  # output samples returned

    def process(self, samples: npt.NDArray[np.int16]) -> Pcm:
        """Push ``samples`` and return every output sample now computable.

        Output ``k`` is the low-passed input at index ``factor * k``; like
        ``StreamingResampler`` it is released once input ``factor * k + 1`` is in.
        """
        buf = self._buf = np.concatenate((self._buf, samples.astype(np.float64)))
        self._total += len(samples)
        factor = self._factor
        limit = (self._total - 2) // factor + 1 if self._total >= 2 else 0
        count = limit - self._produced
        if count <= 0:
            return silence(0)
        # the window of output k covers inputs factor*k - (taps-1) .. factor*k: a strided
        # view of the (fresh, contiguous) buffer, one row per output sample
        first = factor * self._produced + 1 - self._width - self._start
        step = buf.itemsize
        windows: npt.NDArray[np.float64] = np.ndarray(
            (count, self._width), dtype=np.float64, buffer=buf, offset=first * step,
            strides=(factor * step, step))
        out = np.dot(windows, self._taps)
        self._produced = limit
        keep = factor * limit + 1 - self._width - self._start
        self._buf = self._buf[keep:]
        self._start += keep
        return clip_to_int16(out)


__all__ = [
    "INT16_MAX",
    "INT16_MIN",
    "AudioFrame",
    "Decimator",
    "Pcm",
    "StreamingResampler",
    "clip_to_int16",
    "dominant_frequency",
    "level_dbfs",
    "mix",
    "mix_minus",
    "silence",
    "to_mono",
]
