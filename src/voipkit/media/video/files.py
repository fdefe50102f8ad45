"""Video files: a frame sink that writes what it is given to MP4, MKV, AVI or Y4M.

Knows: PyAV containers and encoders (H.264 through libx264 in MP4 and MKV, MPEG-4 Part 2
in AVI, raw I420 in Y4M), I420 frames, and a fixed frame rate for timestamps (a sink is
passive: frame ``n`` is at ``n / frame_rate`` seconds).
Must not know: RTP, calls, sockets or the clock.

``VideoFileSink`` is one of the ready "windows" of the manual's video functions: pass it
wherever a frame sink is taken (``setRemoteVideoWindow``, ``CallVideo.add_sink``,
``displayLocalVideo``). The size of the first frame is the file's; later frames of
another size are scaled to it. ``close()`` (or leaving ``with``) flushes the encoder
and finalises the container; frames after it are refused.
"""

from __future__ import annotations

import os
from fractions import Fraction
from types import TracebackType

import av
from av.container import OutputContainer
from av.video.stream import VideoStream as AvVideoStream

from voipkit.media.video.frames import VideoFrame

__all__ = ["VIDEO_FILE_FORMATS", "VideoFileSink"]

#: file extension -> (PyAV container format, encoder, encoder options)
VIDEO_FILE_FORMATS: dict[str, tuple[str, str, dict[str, str]]] = {
    ".mp4": ("mp4", "libx264", {"preset": "ultrafast", "crf": "18"}),
    ".mkv": ("matroska", "libx264", {"preset": "ultrafast", "crf": "18"}),
    ".avi": ("avi", "mpeg4", {"qscale": "2"}),
    ".y4m": ("yuv4mpegpipe", "rawvideo", {}),
}


class VideoFileSink:
    """Writes every frame it is called with into ``path`` (the extension picks the
    format: .mp4, .mkv, .avi, .y4m).

    Raises:
        ValueError: an unknown extension or a frame rate outside 1-120.
    """

    def __init__(self, path: str | os.PathLike[str], *, frame_rate: int = 30) -> None:
        self.path = os.fspath(path)
        extension = os.path.splitext(self.path)[1].lower()
        if extension not in VIDEO_FILE_FORMATS:
            raise ValueError(f"cannot write video to {extension or 'a file without extension'}"
                             f" (one of {', '.join(VIDEO_FILE_FORMATS)})")
        if not 1 <= frame_rate <= 120:
            raise ValueError(f"frame rate {frame_rate} is outside 1-120")
        self.frame_rate = frame_rate
        self._format, self._codec, self._options = VIDEO_FILE_FORMATS[extension]
        self._container: OutputContainer | None = None
        self._stream: AvVideoStream | None = None
        self.frames = 0
        self.closed = False

    def _open(self, width: int, height: int) -> AvVideoStream:
        container = av.open(self.path, mode="w", format=self._format)
        stream = container.add_stream(self._codec, rate=self.frame_rate)
        assert isinstance(stream, AvVideoStream)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, self.frame_rate)
        stream.codec_context.options = dict(self._options)
        stream.codec_context.thread_count = 1
        self._container, self._stream = container, stream
        return stream

    def __call__(self, frame: VideoFrame) -> None:
        """Append ``frame`` (scaled to the first frame's size if it differs).

        Raises:
            ValueError: the sink is closed.
        """
        if self.closed:
            raise ValueError(f"the video file {self.path} is closed")
        stream = self._stream or self._open(frame.width, frame.height)
        picture = av.VideoFrame.from_ndarray(frame.data, format="yuv420p")
        if (frame.width, frame.height) != (stream.width, stream.height):
            picture = picture.reformat(width=stream.width, height=stream.height)
        picture.pts = self.frames
        picture.time_base = Fraction(1, self.frame_rate)
        assert self._container is not None
        self._container.mux(stream.encode(picture))
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finalise the file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self._container is not None and self._stream is not None:
            try:
                self._container.mux(self._stream.encode(None))
            finally:
                self._container.close()

    def __enter__(self) -> VideoFileSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
