"""Passive media ports: sources that are read and sinks that are written, frame by frame.

Knows: the pjmedia port model (``port.h``: ``get_frame``/``put_frame``, here
``read_frame``/``write_frame``), tone generation, and WAV files through the
stdlib ``wave`` module (PCM 8/16/24/32-bit, any channel count, any rate).
Must not know: asyncio, sockets, threads or the clock. A port never decides
*when* it is read; a clock in ``voipkit.aio`` (``MediaClock``) or a test does.

Every frame is mono int16 (``voipkit.media.frames.Pcm``). A source is asked for
an exact number of samples at a given rate and always returns exactly that many;
it converts its own material (rate, channels, sample width) to what is asked.
"""

from __future__ import annotations

import math
import os
import wave
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from voipkit.media.frames import (
    INT16_MAX,
    Pcm,
    StreamingResampler,
    clip_to_int16,
    silence,
    to_mono,
)


@runtime_checkable
class MediaSource(Protocol):
    """A passive producer of audio: it is read, it never pushes."""

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        """Return exactly ``samples`` mono int16 samples at ``sample_rate``."""
        ...


@runtime_checkable
class MediaSink(Protocol):
    """A passive consumer of audio: it is written, it never pulls."""

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        """Consume one mono int16 frame sampled at ``sample_rate``."""
        ...


class SilenceSource:
    """Digital silence forever."""

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        return silence(samples)


class ToneSource:
    """A sine (or the sum of sines, e.g. 440+480 Hz ringback), phase-continuous.

    Args:
        frequency: Hz, or several frequencies played together.
        level_dbfs: peak level of the summed tone relative to full scale (0 dBFS
            is a sine touching +/-32767).
        sample_rate: the rate assumed when the caller does not care; each
            ``read_frame`` generates at the rate it is asked for, and the phase
            carries over between frames (and across rate changes) so there is no
            click at frame boundaries.
    """

    def __init__(
        self,
        frequency: float | Sequence[float],
        level_dbfs: float = -10.0,
        sample_rate: int = 8000,
    ) -> None:
        freqs = [float(frequency)] if isinstance(frequency, int | float) else list(frequency)
        if not freqs:
            raise ValueError("a tone needs at least one frequency")
        if level_dbfs > 0:
            raise ValueError(f"level_dbfs must be <= 0, got {level_dbfs}")
        self.frequencies = tuple(freqs)
        self.level_dbfs = level_dbfs
        self.sample_rate = sample_rate
        self._amplitude = INT16_MAX * 10.0 ** (level_dbfs / 20.0) / len(freqs)
        self._phases = np.zeros(len(freqs), dtype=np.float64)

    def read_frame(self, samples: int, sample_rate: int | None = None) -> Pcm:
        rate = self.sample_rate if sample_rate is None else sample_rate
        n = np.arange(samples, dtype=np.float64)
        total = np.zeros(samples, dtype=np.float64)
        for i, f in enumerate(self.frequencies):
            step = 2.0 * math.pi * f / rate
            total += np.sin(self._phases[i] + step * n)
            self._phases[i] = (self._phases[i] + step * samples) % (2.0 * math.pi)
        return clip_to_int16(total * self._amplitude)


class NullSink:
    """Discards what it is written; counts frames and samples."""

    def __init__(self) -> None:
        self.frames = 0
        self.samples = 0

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        self.frames += 1
        self.samples += len(frame)


def _decode_pcm(raw: bytes, width: int) -> npt.NDArray[np.int32]:
    """WAV PCM bytes to int32 values scaled to the int16 range.

    8-bit WAV is unsigned (offset 128); wider samples are little-endian signed.
    """
    if width == 1:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.int32)
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value >> 8
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int32)
    raise ValueError(f"unsupported WAV sample width: {width} bytes")


class WavFileSource:
    """Plays a PCM WAV file as mono int16 at whatever rate it is read at.

    Stereo (or more) is averaged to mono; 8-bit is re-centred; other rates go
    through one ``StreamingResampler`` kept for the life of the source (so the
    requested rate should stay the same between reads; a change restarts the
    resampler). At the end of the file, ``finished`` becomes True and reads
    return silence, unless ``loop=True``, which rewinds and plays on forever.

    Raises:
        wave.Error, ValueError: not a PCM WAV file, or an unsupported sample width.
        OSError: the file cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str], *, loop: bool = False) -> None:
        self.path = os.fspath(path)
        self.loop = loop
        self._wav = wave.open(self.path, "rb")  # noqa: SIM115 (owned; closed by close())
        self.channels = self._wav.getnchannels()
        self.sample_width = self._wav.getsampwidth()
        self.file_rate = self._wav.getframerate()
        self.total_frames = self._wav.getnframes()
        if self.sample_width not in (1, 2, 3, 4):
            self._wav.close()
            raise ValueError(f"{self.path}: unsupported WAV sample width {self.sample_width}")
        self.finished = False
        "True once the end of a non-looping file has been reached."
        self.loops = 0
        "How many times a looping file has wrapped around."
        self._resampler: StreamingResampler | None = None
        self._closed = False

    def _read_mono(self, count: int) -> Pcm:
        """Up to ``count`` mono samples at the file's rate; rewinds when looping."""
        parts: list[Pcm] = []
        remaining = count
        while remaining > 0 and not self.finished:
            raw = self._wav.readframes(remaining)
            got = len(raw) // (self.sample_width * self.channels)
            if got:
                parts.append(to_mono(_decode_pcm(raw, self.sample_width), self.channels))
                remaining -= got
            if got == 0 or remaining > 0:
                if self.loop and self.total_frames > 0:
                    self._wav.rewind()
                    self.loops += 1
                else:
                    self.finished = True
        return np.concatenate(parts) if parts else silence(0)

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        if self._closed or (self.finished and sample_rate == self.file_rate):
            return silence(samples)
        if sample_rate == self.file_rate:
            out = self._read_mono(samples)
        else:
            rs = self._resampler
            if rs is None or rs.out_rate != sample_rate:
                rs = self._resampler = StreamingResampler(self.file_rate, sample_rate)
            need = rs.input_needed(samples)
            if need:
                chunk = self._read_mono(need)
                if len(chunk) < need:  # end of file: flush the filter with zeros
                    chunk = np.concatenate((chunk, silence(need - len(chunk) + 32)))
                rs.push(chunk)
            out = rs.pull(samples)
        if len(out) < samples:
            out = np.concatenate((out, silence(samples - len(out))))
        return out

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wav.close()

    def __enter__(self) -> WavFileSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class WavFileSink:
    """Records 16-bit PCM WAV; the header is correct after every write and on close().

    The stdlib ``wave`` writer patches the RIFF and data sizes whenever they
    change on a seekable file, so the file on disk is valid even if the process
    only gets to call ``close()`` at hangup (or not at all, up to the last write).
    ``close()`` is idempotent; the sink is also a context manager.

    Args:
        path: the file to create (truncated if it exists).
        sample_rate: the rate written to the header. Frames written at another
            rate are resampled (one streaming resampler per channel).
        channels: 1, or 2 for the call-recording layout (left = local, right =
            remote) filled by ``write_stereo``.
    """

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int = 1) -> None:
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels}")
        self.path = os.fspath(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames_written = 0
        "Sample frames (one sample per channel) in the file so far."
        self.closed = False
        self._resamplers: dict[tuple[int, int], StreamingResampler] = {}
        self._wav = wave.open(self.path, "wb")  # noqa: SIM115 (owned; closed by close())
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)
        self._wav.writeframes(b"")  # header on disk from the start

    def _at_rate(self, frame: Pcm, sample_rate: int, channel: int) -> Pcm:
        if sample_rate == self.sample_rate:
            return frame.astype(np.int16, copy=False)
        key = (channel, sample_rate)
        rs = self._resamplers.get(key)
        if rs is None:
            rs = self._resamplers[key] = StreamingResampler(sample_rate, self.sample_rate)
        return rs.process(frame.astype(np.int16, copy=False))

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        """Append a mono frame; on a stereo sink it goes to both channels."""
        if self.closed:
            raise ValueError(f"{self.path}: write to a closed WAV sink")
        pcm = self._at_rate(frame, sample_rate, 0)
        data = pcm if self.channels == 1 else np.repeat(pcm, 2)
        self._wav.writeframes(data.astype("<i2").tobytes())
        self.frames_written += len(pcm)

    def write_stereo(self, left: Pcm, right: Pcm, sample_rate: int | None = None) -> None:
        """Append one frame per channel (left = local party, right = remote).

        Raises:
            ValueError: the sink is mono or closed, or the frames differ in length.
        """
        if self.channels != 2:
            raise ValueError(f"{self.path}: write_stereo on a mono WAV sink")
        if self.closed:
            raise ValueError(f"{self.path}: write to a closed WAV sink")
        if len(left) != len(right):
            raise ValueError(f"stereo frames differ in length: {len(left)} != {len(right)}")
        rate = self.sample_rate if sample_rate is None else sample_rate
        lpcm = self._at_rate(left, rate, 0)
        rpcm = self._at_rate(right, rate, 1)
        both = np.empty(2 * len(lpcm), dtype="<i2")
        both[0::2] = lpcm
        both[1::2] = rpcm
        self._wav.writeframes(both.tobytes())
        self.frames_written += len(lpcm)

    def close(self) -> None:
        """Finalise the header and close the file; safe to call twice."""
        if not self.closed:
            self.closed = True
            self._wav.close()

    def __enter__(self) -> WavFileSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = [
    "MediaSink",
    "MediaSource",
    "NullSink",
    "SilenceSource",
    "ToneSource",
    "WavFileSink",
    "WavFileSource",
]
