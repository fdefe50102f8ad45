"""Encoders and decoders over PyAV's ``av.CodecContext`` (the FFmpeg bundled in the wheel).

Knows: how to drive an FFmpeg audio codec one frame at a time — mono int16
(``s16``) frames of exactly the codec's frame size, presentation timestamps
that count samples, one packet out per frame — and what this FFmpeg build can
encode and decode (``probe``). Also a waveform-substitution concealer for
codecs whose FFmpeg decoder has no loss concealment of its own.
Must not know: RTP headers, payload formats (RFC 4867 packing lives in
``amr.py``), SDP, sockets or the clock.

FFmpeg's audio decoders treat an empty packet as "end of stream", not "a
packet was lost", and its libopus wrapper never calls ``opus_decode`` with
``decode_fec=1``; so neither packet loss concealment nor Opus in-band FEC is
reachable through PyAV. ``conceal()`` therefore repeats the last pitch period
(``WaveformConcealer``) unless a codec module supplies something better (AMR
decodes a NO_DATA frame, which makes the decoder conceal).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Literal

import av
import numpy as np
import numpy.typing as npt
from av.audio.codeccontext import AudioCodecContext

from voipkit.media.codecs.base import Pcm

__all__ = [
    "CodecUnavailableError",
    "PyAvDecoder",
    "PyAvEncoder",
    "WaveformConcealer",
    "can_decode",
    "can_encode",
]


class CodecUnavailableError(RuntimeError):
    """This FFmpeg build has no such encoder or decoder."""


@cache
def _probe(name: str, mode: Literal["r", "w"]) -> bool:
    try:
        av.Codec(name, mode)
    except Exception:  # PyAV raises UnknownCodecError (a ValueError) or FFmpegError
        return False
    return True


def can_encode(name: str) -> bool:
    """True when FFmpeg in this wheel has an encoder called ``name``."""
    return _probe(name, "w")


def can_decode(name: str) -> bool:
    """True when FFmpeg in this wheel has a decoder called ``name``."""
    return _probe(name, "r")


class PyAvEncoder:
    """One FFmpeg encoder fed mono s16 frames of exactly ``frame_samples``.

    ``encode(pcm)`` takes a whole number of codec frames (a packet of 40 ms of
    G.722 is two 20 ms frames) and returns their payloads concatenated;
    ``encode_frames(pcm)`` returns them one by one. Each frame's ``pts`` is
    the running sample count, so the encoder sees an unbroken timeline.
    """

    def __init__(
        self,
        codec: str,
        *,
        sample_rate: int,
        frame_samples: int,
        bit_rate: int | None = None,
        options: Mapping[str, str] | None = None,
        channels: int = 1,
    ) -> None:
        if not can_encode(codec):
            raise CodecUnavailableError(f"this FFmpeg cannot encode {codec!r}")
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, not {channels}")
        ctx = av.CodecContext.create(codec, "w")
        if not isinstance(ctx, AudioCodecContext):
            raise CodecUnavailableError(f"{codec!r} is not an audio codec")
        ctx.sample_rate = sample_rate
        ctx.layout = "mono" if channels == 1 else "stereo"
        ctx.format = "s16"
        if bit_rate is not None:
            ctx.bit_rate = bit_rate
        if options:
            ctx.options = dict(options)
        ctx.open()
        native = int(ctx.frame_size)
        if native and frame_samples % native:
            raise ValueError(f"{codec}: {frame_samples} samples is not a whole number of frames")
        self._ctx = ctx
        self._chunk = native or frame_samples
        self._layout = "mono" if channels == 1 else "stereo"
        self._channels = channels
        self.codec = codec
        self.sample_rate = sample_rate
        self.frame_samples = frame_samples
        self._pts = 0

    def encode(self, pcm: Pcm) -> bytes:
        """Payload bytes for a whole number of frames (concatenated)."""
        return b"".join(self.encode_frames(pcm))

    def encode_frames(self, pcm: Pcm) -> list[bytes]:
        """One payload per codec frame of ``pcm``."""
        samples = np.ascontiguousarray(pcm, dtype=np.int16)
        if samples.ndim != 1 or len(samples) == 0 or len(samples) % self.frame_samples:
            raise ValueError(
                f"{self.codec}: expected a multiple of {self.frame_samples} samples, "
                f"got {samples.shape}"
            )
        out: list[bytes] = []
        for start in range(0, len(samples), self._chunk):
            chunk = samples[start : start + self._chunk]
            if self._channels == 2:  # mono source sent on both channels
                chunk = np.repeat(chunk, 2)
            frame = av.AudioFrame.from_ndarray(
                chunk.reshape(1, -1), format="s16", layout=self._layout
            )
            frame.sample_rate = self.sample_rate
            frame.pts = self._pts
            self._pts += self._chunk
            out.extend(bytes(packet) for packet in self._ctx.encode(frame))
        return out


class PyAvDecoder:
    """One FFmpeg decoder returning mono int16 at ``sample_rate``.

    A payload holding several frames (G.722 bytes, concatenated G.723.1
    frames) decodes to all of their samples. ``conceal(n)`` uses a
    ``WaveformConcealer`` over the decoded history.
    """

    def __init__(self, codec: str, *, sample_rate: int) -> None:
        if not can_decode(codec):
            raise CodecUnavailableError(f"this FFmpeg cannot decode {codec!r}")
        ctx = av.CodecContext.create(codec, "r")
        if not isinstance(ctx, AudioCodecContext):
            raise CodecUnavailableError(f"{codec!r} is not an audio codec")
        ctx.sample_rate = sample_rate
        ctx.layout = "mono"
        self._ctx = ctx
        self.codec = codec
        self.sample_rate = sample_rate
        self._concealer = WaveformConcealer(sample_rate)

    def decode(self, payload: bytes) -> Pcm:
        """All samples in ``payload``; a corrupt payload decodes to no samples."""
        pcm = self.decode_raw(payload)
        self._concealer.remember(pcm)
        return pcm

    def decode_raw(self, payload: bytes) -> Pcm:
        """Decode without touching the concealment history (for codec wrappers)."""
        if not payload:
            return np.zeros(0, dtype=np.int16)
        try:
            frames = self._ctx.decode(av.Packet(payload))
        except av.FFmpegError:
            return np.zeros(0, dtype=np.int16)
        parts = [_frame_pcm(frame) for frame in frames]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def conceal(self, samples: int) -> Pcm:
        """``samples`` of substitute PCM for a lost packet."""
        return self._concealer.conceal(samples)


def _frame_pcm(frame: av.AudioFrame) -> Pcm:
    """A decoded frame as mono int16: packed mono s16 (what libopus, G.722 and G.711
    decode to) is copied straight out of the plane, anything else via ``to_ndarray``."""
    if frame.format.name == "s16" and frame.layout.nb_channels == 1:
        plane = memoryview(frame.planes[0])  # the plane exports the buffer protocol
        pcm: Pcm = np.frombuffer(plane, dtype=np.int16, count=frame.samples).copy()
        return pcm
    return _mono_int16(frame.to_ndarray())


def _mono_int16(array: object) -> Pcm:
    """A decoded frame's ndarray (packed ``(1, n*ch)`` or planar ``(ch, n)``) as mono int16."""
    data: npt.NDArray[np.generic] = np.asarray(array)
    if data.dtype != np.int16:
        if data.dtype.kind == "f":
            scaled = np.asarray(data, dtype=np.float64) * 32768.0
            data = np.clip(np.round(scaled), -32768, 32767)
        data = data.astype(np.int16)
    if data.ndim == 2 and data.shape[0] > 1:  # planar channels
        mono: Pcm = data.mean(axis=0).round().astype(np.int16)
        return mono
    flat: Pcm = data.reshape(-1).astype(np.int16, copy=False)
    return flat


class WaveformConcealer:
    """Pitch-period repetition for lost frames (G.711 Appendix I, at any sample rate).

    Remembers 48.75 ms of output. For a loss it finds the pitch period (lags
    of 5–15 ms, normalised cross-correlation over 20 ms), repeats it at full
    level for 10 ms, then fades linearly to silence 60 ms after the loss
    began. ``remember()`` (a decoded packet) ends the erasure.
    """

    def __init__(self, sample_rate: int) -> None:
        scale = sample_rate / 8000
        self._history_len = round(390 * scale)
        self._pitch_min = round(40 * scale)
        self._pitch_max = round(120 * scale)
        self._window = round(160 * scale)
        self._full_gain = round(80 * scale)
        self._fade = round(400 * scale)
        self._history: Pcm = np.zeros(0, dtype=np.int16)
        self._period: Pcm | None = None
        self._phase = 0
        self._erased = 0

    def remember(self, pcm: Pcm) -> None:
        """Decoded output: keep it as history and end any erasure."""
        if len(pcm):
            self._history = np.concatenate((self._history, pcm))[-self._history_len :]
        self._period = None
        self._erased = 0

    def conceal(self, samples: int) -> Pcm:
        """``samples`` of substitute PCM (silence without history)."""
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
        gain = np.clip(1.0 - (position - self._full_gain) / self._fade, 0.0, 1.0)
        self._erased += samples
        return np.round(period[index].astype(np.float64) * gain).astype(np.int16)

    def _last_period(self) -> Pcm:
        history = self._history.astype(np.float64)
        if len(history) < self._window + self._pitch_max:
            return self._history.copy()
        target = history[-self._window :]
        windows = np.lib.stride_tricks.sliding_window_view(history, self._window)
        first = len(history) - self._window
        candidates = windows[first - self._pitch_max : first - self._pitch_min + 1][::-1]
        energy = np.einsum("ij,ij->i", candidates, candidates)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(energy > 0, (candidates @ target) / np.sqrt(energy), -np.inf)
        lag = self._pitch_min + int(np.argmax(score))
        return self._history[-lag:].copy()
