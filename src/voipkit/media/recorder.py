"""Call recording: two legs of audio, frame by frame, into a WAV or a compressed file.

Knows: the PortSIP ``startRecord`` model — one file per call, mono or stereo
(local party left, remote party right), record modes send / receive / both,
a timestamp appended to the file name on request — and how to write it: WAV
through the stdlib ``wave`` module (exact, cheap, and readable after every
write), other containers through PyAV (``av.open(path, "w")``): Opus in Ogg
(``.ogg``, ``.opus``) or Matroska/WebM (``.mka``, ``.mkv``, ``.webm``), AAC in
MP4 (``.m4a``, ``.mp4``) or ADTS (``.aac``), MP3 (``.mp3``, when the build has
an MP3 encoder), FLAC (``.flac``). The container follows the file extension.
Must not know: sessions, RTP, codecs of the call, sockets, threads or the
clock. The caller writes one frame per ptime for each leg and passes in the
time for the file name (``timestamped_path``); nothing here reads a clock.

Durations are exact: every ``write`` adds exactly as many sample frames to
the file as the longer of its two frames holds (the other leg, or a missing
one, is padded with silence), so a 30 s call gives 30 s of audio.

Finalising: WAV headers are patched and the file flushed after every write,
so even a process that dies mid-call leaves a valid file up to its last
frame. Compressed containers need ``close()`` to flush the encoder and write
the trailer; the owner of a call closes its recorder on stopRecord, on hangup
and on unInitialize. ``close()`` is idempotent and the recorder is a context
manager.
"""

from __future__ import annotations

import datetime
import os
import wave
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import av
import numpy as np
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import OutputContainer

from voipkit.media.frames import Pcm, StreamingResampler, mix, silence
from voipkit.media.player import MediaFileError

__all__ = [
    "CONTAINERS",
    "ContainerSpec",
    "MediaFileError",
    "RecordMode",
    "Recorder",
    "timestamped_path",
]


class RecordMode(Enum):
    """Which audio a recording holds (PortSIP ``RECORD_MODE``)."""

    SEND = "send"
    "What we send: the local party (microphone, or a file played to the remote)."
    RECV = "recv"
    "What we receive: the remote party."
    BOTH = "both"
    "Both parties: mixed in mono, left/right in stereo."


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """How a file extension is written through PyAV.

    Attributes:
        format: the FFmpeg muxer name.
        codecs: encoder names, first available wins.
    """

    format: str
    codecs: tuple[str, ...]


CONTAINERS: dict[str, ContainerSpec] = {
    ".ogg": ContainerSpec("ogg", ("libopus",)),
    ".opus": ContainerSpec("opus", ("libopus",)),
    ".mka": ContainerSpec("matroska", ("libopus",)),
    ".mkv": ContainerSpec("matroska", ("libopus",)),
    ".webm": ContainerSpec("webm", ("libopus",)),
    ".m4a": ContainerSpec("ipod", ("aac",)),
    ".mp4": ContainerSpec("mp4", ("aac",)),
    ".aac": ContainerSpec("adts", ("aac",)),
    ".mp3": ContainerSpec("mp3", ("libmp3lame", "mp3")),
    ".flac": ContainerSpec("flac", ("flac",)),
}
"""Extensions written through PyAV (``.wav`` is written by the stdlib ``wave``)."""


def timestamped_path(path: str | os.PathLike[str], when: datetime.datetime) -> Path:
    """``path`` with ``_YYYYMMDD-HHMMSS`` of ``when`` inserted before the extension.

    ``calls/alice.wav`` at 2024-03-05 14:07:09 becomes
    ``calls/alice_20240305-140709.wav``; a name without an extension just ends
    with the stamp. ``when`` is used as given (the caller picks local or UTC).
    """
    p = Path(path)
    return p.with_name(f"{p.stem}_{when:%Y%m%d-%H%M%S}{p.suffix}")


class _WavWriter:
    """16-bit PCM WAV whose header is right after every write (stdlib ``wave``)."""

    def __init__(self, path: str, sample_rate: int, channels: int) -> None:
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed by close())
        try:
            self._wav = wave.open(self._file, "wb")  # noqa: SIM115 (closed by close())
            self._wav.setnchannels(channels)
            self._wav.setsampwidth(2)
            self._wav.setframerate(sample_rate)
            self._wav.writeframes(b"")  # a valid, empty file from the start
            self._file.flush()
        except BaseException:
            self._file.close()
            raise

    def write(self, interleaved: Pcm) -> None:
        # wave patches the RIFF and data sizes when they change; flushing puts
        # header and samples on disk, so any reader sees a complete file.
        self._wav.writeframes(interleaved.astype("<i2", copy=False).tobytes())
        self._file.flush()

    def close(self) -> None:
        try:
            self._wav.close()
        finally:
            self._file.close()


class _AvWriter:
    """One audio stream in a PyAV output container, fed s16 frames at ``sample_rate``."""

    def __init__(
        self,
        path: str,
        spec: ContainerSpec,
        sample_rate: int,
        channels: int,
        bit_rate: int | None,
    ) -> None:
        codec_name = next((c for c in spec.codecs if _can_encode(c)), None)
        if codec_name is None:
            raise MediaFileError(
                path, f"this FFmpeg build has no encoder for it (needs {' or '.join(spec.codecs)})"
            )
        codec = av.Codec(codec_name, "w")
        rates = codec.audio_rates
        rate = sample_rate
        if rates and sample_rate not in rates:
            higher = [r for r in rates if r >= sample_rate]
            rate = min(higher) if higher else max(rates)
        formats = [f.name for f in codec.audio_formats or ()]
        sample_format = "s16" if not formats or "s16" in formats else formats[0]
        self._layout = "mono" if channels == 1 else "stereo"
        self._channels = channels
        self._rate = sample_rate
        self._pts = 0
        try:
            self._container: OutputContainer = av.open(path, "w", format=spec.format)
        except (av.FFmpegError, OSError) as exc:
            raise MediaFileError(path, f"cannot be created ({_why(exc)})") from exc
        try:
            stream = self._container.add_stream(codec_name, rate=rate)
            if not isinstance(stream, AudioStream):  # pragma: no cover - codec rows are audio
                raise MediaFileError(path, f"{codec_name} is not an audio encoder")
            self._stream = stream
            ctx = stream.codec_context
            ctx.layout = self._layout
            ctx.format = sample_format
            if bit_rate is not None:
                ctx.bit_rate = bit_rate
            ctx.open()
            self._resampler = AudioResampler(
                format=sample_format,
                layout=self._layout,
                rate=rate,
                frame_size=ctx.frame_size or None,
            )
            # the header goes out now: the file exists (and a bad directory
            # fails here) even if the call ends before the first frame
            self._container.start_encoding()
        except (av.FFmpegError, OSError) as exc:
            self._container.close()
            raise MediaFileError(path, f"cannot be created ({_why(exc)})") from exc
        except BaseException:
            self._container.close()
            raise

    def write(self, interleaved: Pcm) -> None:
        frame = av.AudioFrame.from_ndarray(
            interleaved.astype(np.int16, copy=False).reshape(1, -1),
            format="s16",
            layout=self._layout,
        )
        frame.sample_rate = self._rate
        frame.time_base = Fraction(1, self._rate)
        frame.pts = self._pts
        self._pts += len(interleaved) // self._channels
        for converted in self._resampler.resample(frame):
            self._container.mux(self._stream.encode(converted))

    def close(self) -> None:
        try:
            for converted in self._resampler.resample(None):
                self._container.mux(self._stream.encode(converted))
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()


def _why(exc: BaseException) -> str:
    """The OS or FFmpeg reason without the errno and file name around it."""
    reason = getattr(exc, "strerror", None)
    return reason if isinstance(reason, str) and reason else str(exc)


def _can_encode(name: str) -> bool:
    try:
        av.Codec(name, "w")
    except Exception:  # UnknownCodecError (a ValueError) or an FFmpegError
        return False
    return True


class Recorder:
    """Records a call's two legs into one file, a frame per ptime.

    ``write(local, remote)`` takes this ptime's frame of each leg: ``local``
    is what we send (microphone or played file), ``remote`` what we received
    and decoded. Either may be None (nothing this tick: muted, on hold, lost);
    it is then silence, so the two legs never drift apart. In mono, SEND
    records the local leg, RECV the remote one, BOTH their int32 sum clipped
    once. In stereo the local leg is always on the left and the remote on the
    right; a leg the mode leaves out is silent.

    Args:
        path: the file to create (replaced if it exists). Its extension picks
            the container: ``.wav`` (stdlib, 16-bit PCM) or one of ``CONTAINERS``.
        mode: ``RecordMode``.
        stereo: two channels, local left and remote right.
        sample_rate: the rate of the file and, by default, of the frames.
        append_timestamp: insert ``_YYYYMMDD-HHMMSS`` of ``timestamp`` before
            the extension (``timestamped_path``); the final name is ``path``.
        timestamp: the time for that name (required with ``append_timestamp``;
            the caller reads its clock, this module does not).
        bit_rate: encoder bit rate for compressed containers (codec default if None).

    Raises:
        MediaFileError: the extension is not supported, this FFmpeg cannot
            encode it, or the file cannot be created (no such directory,
            permission denied ...).
        ValueError: a bad sample rate, or ``append_timestamp`` without ``timestamp``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        mode: RecordMode = RecordMode.BOTH,
        stereo: bool = False,
        sample_rate: int = 8000,
        append_timestamp: bool = False,
        timestamp: datetime.datetime | None = None,
        bit_rate: int | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if append_timestamp:
            if timestamp is None:
                raise ValueError("append_timestamp needs the timestamp to append")
            path = timestamped_path(path, timestamp)
        self.path = os.fspath(path)
        self.mode = RecordMode(mode)
        self.stereo = stereo
        self.channels = 2 if stereo else 1
        self.sample_rate = sample_rate
        self.frames = 0
        "How many times ``write`` has been called."
        self.samples = 0
        "Sample frames (one sample per channel) in the file so far, at ``sample_rate``."
        self.closed = False
        self._resamplers: dict[tuple[int, int], StreamingResampler] = {}
        extension = Path(self.path).suffix.lower()
        self.container = "wav" if extension == ".wav" else ""
        "The FFmpeg muxer name (``wav`` for the stdlib writer)."
        self._writer: _WavWriter | _AvWriter
        if extension == ".wav":
            try:
                self._writer = _WavWriter(self.path, sample_rate, self.channels)
            except OSError as exc:
                reason = f"cannot be created ({_why(exc)})"
                raise MediaFileError(self.path, reason) from exc
        else:
            spec = CONTAINERS.get(extension)
            if spec is None:
                known = ", ".join([".wav", *CONTAINERS])
                raise MediaFileError(
                    self.path, f"unsupported recording format {extension or '(none)'}; use {known}"
                )
            self.container = spec.format
            self._writer = _AvWriter(self.path, spec, sample_rate, self.channels, bit_rate)

    @property
    def seconds(self) -> float:
        """The length of the recording so far."""
        return self.samples / self.sample_rate

    def _at_rate(self, frame: Pcm, rate: int, channel: int) -> Pcm:
        if rate == self.sample_rate:
            return frame
        key = (channel, rate)
        rs = self._resamplers.get(key)
        if rs is None:
            rs = self._resamplers[key] = StreamingResampler(rate, self.sample_rate)
        return rs.process(frame)

    def write(
        self,
        local: Pcm | None,
        remote: Pcm | None,
        *,
        sample_rate: int | None = None,
    ) -> None:
        """Append one ptime of both legs.

        Args:
            local: the frame we sent, or None for silence.
            remote: the frame we received, or None for silence.
            sample_rate: the frames' rate if not the file's; they are then
                resampled (one streaming resampler per channel, no drift).

        Raises:
            ValueError: the recorder is closed, or both legs are None (the
                length of the tick would be unknown).
        """
        if self.closed:
            raise ValueError(f"{self.path}: write to a closed recorder")
        if local is None and remote is None:
            raise ValueError("write needs at least one leg to know the frame length")
        length = max(len(f) for f in (local, remote) if f is not None)
        loc = _padded(local, length)
        rem = _padded(remote, length)
        rate = self.sample_rate if sample_rate is None else sample_rate
        if self.stereo:
            left = loc if self.mode is not RecordMode.RECV else silence(length)
            right = rem if self.mode is not RecordMode.SEND else silence(length)
            left = self._at_rate(left, rate, 0)
            right = self._at_rate(right, rate, 1)
            data = np.empty(2 * len(left), dtype=np.int16)
            data[0::2] = left
            data[1::2] = right
            count = len(left)
        else:
            if self.mode is RecordMode.SEND:
                mono = loc
            elif self.mode is RecordMode.RECV:
                mono = rem
            else:
                mono = mix((loc, rem))
            data = self._at_rate(mono, rate, 0)
            count = len(data)
        self.frames += 1
        if count:
            self._writer.write(data)
            self.samples += count

    def close(self) -> None:
        """Finalise the file (WAV header, encoder flush, container trailer). Idempotent."""
        if not self.closed:
            self.closed = True
            self._writer.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _padded(frame: Pcm | None, length: int) -> Pcm:
    if frame is None:
        return silence(length)
    pcm = np.asarray(frame, dtype=np.int16).reshape(-1)
    if len(pcm) < length:
        return np.concatenate((pcm, silence(length - len(pcm))))
    return pcm
