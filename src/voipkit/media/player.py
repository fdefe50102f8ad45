"""Audio file playback as a passive media source, and the rule that puts it on the wire.

Knows: how to decode any audio PyAV (the FFmpeg in the ``av`` wheel) can read
— WAV, MP3, MP4/M4A (AAC), Ogg (Opus, Vorbis), FLAC, Matroska — frame by
frame; how to fold its channels to mono int16; how to bring it to the rate it
is read at through one streaming ``Resampler`` (soxr) and a FIFO so that every
``read_frame`` returns exactly the samples asked for; looping; and the
PortSIP ``startPlayingFileToRemote`` ``playAudio`` rule (0 none, 1 replace the
microphone, 2 mix with it).
Must not know: sessions, calls, RTP, sockets, threads or the clock. Who reads
the player and when (``MediaClock`` in ``voipkit.aio``, or a test) and who
reports ``onPlayFileFinished`` when ``finished`` turns true is the caller's
business.

Errors: a file that is missing, is not media, has no audio stream, or whose
first audio cannot be decoded raises ``MediaFileError`` at construction, with
the file name and the reason. A decoding error later in the file ends the
playback there (``finished``; the reason is kept in ``error``) rather than
breaking the media tick of a live call.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from enum import IntEnum
from types import TracebackType

import av
import numpy as np
from av.audio.frame import AudioFrame as AvAudioFrame
from av.container import InputContainer

from voipkit.base.errors import VoipkitError
from voipkit.media.frames import Pcm, clip_to_int16, mix, silence
from voipkit.media.resample import Quality, Resampler

__all__ = ["FilePlayer", "MediaFileError", "PlayMode", "decode_to_mono", "mix_into"]


class MediaFileError(VoipkitError, OSError):
    """A media file cannot be played or recorded: missing, unreadable, unsupported.

    Attributes:
        path: the file concerned (also in ``filename``, as for any ``OSError``).
        reason: what is wrong with it, in words.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.filename = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class PlayMode(IntEnum):
    """What file audio does to the microphone (PortSIP ``playAudio`` 0/1/2)."""

    NONE = 0
    "The file's audio is not played; the microphone goes out unchanged."
    REPLACE = 1
    "The file's audio replaces the microphone."
    MIX = 2
    "The file's audio is mixed with the microphone."


def mix_into(mic_frame: Pcm, file_frame: Pcm, mode: PlayMode | int) -> Pcm:
    """The frame to send when a file plays to the remote party.

    Args:
        mic_frame: this ptime's microphone frame.
        file_frame: the same number of samples from the file (``FilePlayer``).
        mode: ``PlayMode`` or its PortSIP number (0 none, 1 replace, 2 mix).

    Returns:
        A new int16 frame: the microphone (0), the file (1), or both summed in
        int32 and clipped once (2), so loud material saturates instead of wrapping.

    Raises:
        ValueError: the frames differ in length, or the mode is not 0, 1 or 2.
    """
    play = PlayMode(mode)
    if len(mic_frame) != len(file_frame):
        raise ValueError(f"frames differ in length: mic {len(mic_frame)}, file {len(file_frame)}")
    if play is PlayMode.NONE:
        return mic_frame.astype(np.int16, copy=True)
    if play is PlayMode.REPLACE:
        return file_frame.astype(np.int16, copy=True)
    return mix((mic_frame, file_frame))


def decode_to_mono(frame: AvAudioFrame) -> Pcm:
    """One decoded PyAV frame as mono int16 at the frame's own rate.

    Channels are averaged (a stereo file's left and right count equally);
    float formats are scaled by 32768 and clipped; 32-bit integers keep their
    top 16 bits; 8-bit unsigned is re-centred.
    """
    data = frame.to_ndarray()
    channels = frame.layout.nb_channels
    planes = data if frame.format.is_planar else data.reshape(-1, channels).T
    kind = planes.dtype.kind
    if kind == "f":
        values = planes.astype(np.float64) * 32768.0
    elif planes.dtype == np.uint8:
        values = (planes.astype(np.float64) - 128.0) * 256.0
    elif planes.dtype.itemsize == 4:
        values = planes.astype(np.float64) / 65536.0
    else:
        values = planes.astype(np.float64)
    mono = values.mean(axis=0) if channels > 1 else values.reshape(-1)
    return clip_to_int16(mono)


class FilePlayer:
    """Plays an audio file as mono int16 frames at the rate it is read at.

    A passive ``MediaSource``: each ``read_frame(samples, rate)`` returns
    exactly ``samples`` samples. The file is decoded a frame at a time and
    goes through one soxr ``Resampler`` kept for the life of the player (soxr
    holds back some 40 ms at "LQ" and releases it in blocks; the FIFO after it
    absorbs that, and at the end of the file the filter is flushed so no audio
    is lost). Reading at another rate than before restarts the resampler.

    With ``loop=True`` the file starts again when it ends, through the same
    resampler (no click, no gap), forever; ``loops`` counts the wraps. Without
    it, the last read that contains file audio is padded with silence,
    ``finished`` becomes True, and later reads return silence.

    Args:
        path: the file; anything FFmpeg demuxes with an audio stream.
        sample_rate: the rate the player will be read at (the resampler is
            built for it up front).
        loop: play forever.
        quality: soxr quality (``voipkit.media.resample.Quality``).

    Raises:
        MediaFileError: the file is missing, not media, has no audio stream,
            or its audio cannot be decoded.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sample_rate: int,
        loop: bool = False,
        quality: Quality = "LQ",
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.path = os.fspath(path)
        self.sample_rate = sample_rate
        self.loop = loop
        self.quality: Quality = quality
        self.finished = False
        "True once a non-looping file has been played to its last sample."
        self.loops = 0
        "How many times a looping file has wrapped around."
        self.error: str | None = None
        "Why decoding stopped early, if it did (the playback then just ends)."
        self.closed = False
        self._container: InputContainer | None = None
        self._frames: Iterator[AvAudioFrame] | None = None
        self._pending: AvAudioFrame | None = None
        self._file_rate = 0
        self._eof = False
        self._fifo: deque[Pcm] = deque()
        self._buffered = 0
        self._pass_samples = 0  # file samples decoded since the last (re)start
        self._open()
        first = self._next_decoded()
        if first is None:
            self._close_container()
            raise MediaFileError(self.path, self.error or "contains no audio")
        self._pending = first
        self._file_rate = first.sample_rate
        self.file_sample_rate = first.sample_rate
        "The rate of the file's audio (of its first frame)."
        self.file_channels = first.layout.nb_channels
        "The number of channels in the file (folded to one on output)."
        self._resampler = Resampler(self._file_rate, sample_rate, quality=quality)

    def _open(self) -> None:
        try:
            container = av.open(self.path, "r")
        except FileNotFoundError as exc:
            raise MediaFileError(self.path, "no such file") from exc
        except IsADirectoryError as exc:
            raise MediaFileError(self.path, "is a directory") from exc
        except PermissionError as exc:
            raise MediaFileError(self.path, "permission denied") from exc
        except (av.FFmpegError, OSError) as exc:
            why = exc.strerror if isinstance(exc.strerror, str) and exc.strerror else str(exc)
            raise MediaFileError(self.path, f"not a readable media file ({why})") from exc
        if not container.streams.audio:
            container.close()
            raise MediaFileError(self.path, "has no audio stream")
        self._container = container
        self._frames = container.decode(container.streams.audio[0])

    def _next_decoded(self) -> AvAudioFrame | None:
        """The next decoded frame of the current pass, or None at its end."""
        if self._frames is None:
            return None
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except (av.FFmpegError, OSError, ValueError) as exc:
            self.error = f"decoding failed ({exc})"
            return None

    def _close_container(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._frames = None

    def _push(self, pcm: Pcm) -> None:
        if len(pcm):
            self._fifo.append(pcm)
            self._buffered += len(pcm)

    def _pump(self) -> None:
        """Decode one frame into the FIFO, or handle the end of the file."""
        frame = self._pending if self._pending is not None else self._next_decoded()
        self._pending = None
        if frame is not None:
            if frame.sample_rate != self._file_rate:  # a chained stream changed rate
                self._push(self._resampler.flush())
                self._file_rate = frame.sample_rate
                self._resampler = Resampler(
                    self._file_rate, self._resampler.out_rate, quality=self.quality
                )
            pcm = decode_to_mono(frame)
            self._pass_samples += len(pcm)
            self._push(self._resampler.process(pcm))
            return
        self._close_container()
        if self.loop and self._pass_samples > 0 and self.error is None:
            self.loops += 1
            self._pass_samples = 0
            self._open()
            return
        self._push(self._resampler.flush())
        self._eof = True

    def _take(self, samples: int) -> Pcm:
        parts: list[Pcm] = []
        need = samples
        while need > 0 and self._fifo:
            head = self._fifo[0]
            if len(head) <= need:
                parts.append(self._fifo.popleft())
                need -= len(head)
            else:
                parts.append(head[:need])
                self._fifo[0] = head[need:]
                need = 0
        self._buffered -= samples - need
        if need:
            parts.append(silence(need))
        return np.concatenate(parts) if len(parts) > 1 else parts[0].astype(np.int16, copy=True)

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        """Exactly ``samples`` mono int16 samples of the file at ``sample_rate``."""
        if samples <= 0:
            return silence(0)
        if self.closed or self.finished:
            return silence(samples)
        if sample_rate != self._resampler.out_rate:
            # a new rate: what is buffered is at the old rate; restart the filter
            self._fifo.clear()
            self._buffered = 0
            self._resampler = Resampler(self._file_rate, sample_rate, quality=self.quality)
        while self._buffered < samples and not self._eof:
            self._pump()
        out = self._take(samples)
        while self._buffered == 0 and not self._eof:  # learn now if that was the end
            self._pump()
        if self._eof and self._buffered == 0:
            self.finished = True
            self._close_container()
        return out

    def close(self) -> None:
        """Release the file; later reads return silence. Safe to call twice."""
        if not self.closed:
            self.closed = True
            self._pending = None
            self._close_container()
            self._fifo.clear()
            self._buffered = 0

    def __enter__(self) -> FilePlayer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
