"""A video file's picture as a frame source: the video track of an MP4, MKV, AVI,
WebM ... decoded through PyAV, at the pace of whoever reads it.

Knows: PyAV demuxing and decoding, frame timestamps, rescaling to I420 of a given
size, looping by seeking back to the start. Must not know: calls, RTP, sockets,
threads or the clock: each ``read_frame()`` advances the file by one period of the
reader's frame rate (``frame_rate``), so a reader ticking at that rate plays the
file at its own speed whatever the file's frame rate is (frames are repeated or
skipped to match).

Errors: a missing file, or one without a video track or whose first picture cannot
be decoded, raises ``MediaFileError`` at construction; a decoding error later ends
the playback (``finished``, the reason in ``error``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import av
import numpy as np
from av.container import InputContainer

from voipkit.media.player import MediaFileError
from voipkit.media.video.frames import VideoFrame

__all__ = ["VideoFileSource", "has_audio", "has_video", "video_size"]


def _tracks(path: str | os.PathLike[str]) -> tuple[int, int, tuple[int, int] | None]:
    """(audio tracks, video tracks, the first video track's size) of ``path``; (0, 0,
    None) when PyAV cannot open it."""
    try:
        with av.open(os.fspath(path)) as container:
            video = container.streams.video
            size = (video[0].codec_context.width, video[0].codec_context.height) \
                if video else None
            return len(container.streams.audio), len(video), size
    except (av.FFmpegError, OSError):
        return 0, 0, None


def has_video(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` opens with PyAV and has a video track."""
    return _tracks(path)[1] > 0


def has_audio(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` opens with PyAV and has an audio track."""
    return _tracks(path)[0] > 0


def video_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """The size of ``path``'s first video track, rounded down to even numbers (I420);
    None without one."""
    size = _tracks(path)[2]
    if size is None or size[0] < 2 or size[1] < 2:
        return None
    return size[0] - size[0] % 2, size[1] - size[1] % 2


class VideoFileSource:
    """The pictures of a file's first video track, one per ``read_frame``.

    Args:
        path: the file.
        width, height: the I420 size frames are scaled to (even).
        frame_rate: how often ``read_frame`` is called per second of file time.
        loop: start again at the end instead of finishing.

    Attributes:
        finished: the end was reached (never with ``loop``) or decoding failed.
        frames_read: ``read_frame`` calls that returned a picture.
    """

    def __init__(self, path: str | os.PathLike[str], *, width: int, height: int,
                 frame_rate: int, loop: bool = False) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"video playback needs even dimensions, not {width}x{height}")
        if frame_rate <= 0:
            raise ValueError(f"frame rate must be positive, not {frame_rate}")
        self.path = os.fspath(path)
        self.width, self.height, self.frame_rate = width, height, frame_rate
        self.loop = loop
        self.finished = False
        self.error: BaseException | None = None
        self.frames_read = 0
        self._ticks = 0
        self._offset = 0.0
        "Reader time at which the current loop of the file started."
        try:
            self._container: InputContainer = av.open(self.path)
        except (av.FFmpegError, OSError) as exc:
            raise MediaFileError(self.path, f"cannot be opened ({exc})") from exc
        if not self._container.streams.video:
            self._container.close()
            raise MediaFileError(self.path, "has no video track")
        rate = self._container.streams.video[0].average_rate
        self._period = 1.0 / float(rate) if rate else 1.0 / frame_rate
        "How long the last picture lasts: the file's frame period."
        self._frames = self._decode()
        self._next = self._pull()
        if self._next is None:
            self._container.close()
            raise MediaFileError(self.path, "has no picture that decodes"
                                 + (f" ({self.error})" if self.error else ""))
        self._current: tuple[float, VideoFrame] | None = None

    def _decode(self) -> Iterator[tuple[float, VideoFrame]]:
        stream = self._container.streams.video[0]
        start: float | None = None
        for frame in self._container.decode(stream):
            when = float(frame.time) if frame.time is not None else 0.0
            if start is None:
                start = when
            picture = frame.reformat(width=self.width, height=self.height, format="yuv420p")
            yield when - start, VideoFrame(np.asarray(picture.to_ndarray(), dtype=np.uint8))

    def _pull(self) -> tuple[float, VideoFrame] | None:
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except (av.FFmpegError, ValueError) as exc:
            self.error = exc
            return None

    def _rewind(self) -> bool:
        """Back to the first picture (looping); False when that fails."""
        try:
            self._container.seek(0)
        except (av.FFmpegError, OSError) as exc:
            self.error = exc
            return False
        self._frames = self._decode()
        self._next = self._pull()
        self._current = None
        return self._next is not None

    def _exhausted(self, due: float) -> bool:
        """No picture is left and the last one has been shown for its period."""
        return (self._next is None and self._current is not None
                and due >= self._current[0] + max(self._period, 1.0 / self.frame_rate) - 1e-6)

    def read_frame(self) -> VideoFrame | None:
        """The picture due at this tick (the last one again when the file's frame rate
        is lower than ``frame_rate``); None once finished."""
        if self.finished:
            return None
        due = self._ticks / self.frame_rate - self._offset
        if self._exhausted(due) or (self._next is None and self._current is None):
            if not (self.loop and self.error is None and self._rewind()):
                self.finished = True
                self.close()
                return None
            self._offset = self._ticks / self.frame_rate
            due = 0.0
        self._ticks += 1
        while self._next is not None and self._next[0] <= due + 1e-6:
            self._current, self._next = self._next, self._pull()
        if self._current is None:
            return None
        self.frames_read += 1
        return self._current[1]

    def close(self) -> None:
        """Release the file (idempotent)."""
        self._container.close()
