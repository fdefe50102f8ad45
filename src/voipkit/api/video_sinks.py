"""Ready-made video "windows": frame sinks that write a video file or paint a Qt widget.

Knows: the window protocol of the video functions (a callable taking each
``VideoFrame``, I420; the facade calls it on its callback thread, the api on the
loop), ``media.video_recorder.AvRecorder`` for files, and PySide6 for a widget (only
imported when a ``QtVideoSink`` is made). Must not know: calls, SIP or sockets.

- ``FileSink(path)``: every frame it is given goes into ``path`` (``.mp4``, ``.mkv``
  or ``.avi``, video only) at the size of the first frame, stamped with the
  monotonic clock since that frame; ``close()`` (or the ``with`` block, or interpreter
  exit) finalises the file.
- ``QtVideoSink(label)``: shows each frame in a ``QLabel`` (scaled to the label),
  converting I420 to RGB and handing the picture to the widget's thread through a
  queued signal; needs PySide6 (``ImportError`` otherwise) and a ``QApplication``.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from voipkit.media.video import VideoFrame
from voipkit.media.video_recorder import AvRecorder

__all__ = ["FileSink", "QtVideoSink"]


class FileSink:
    """A window that records what it is shown.

    Args:
        path: the file (its extension picks the container).
        frame_rate: the file's frame rate; frames closer together share a slot and the
            later ones are dropped.
        clock: seconds, monotonic (``time.monotonic`` by default).

    Attributes:
        frames: frames written; ``dropped``: frames that fell in a written slot.
    """

    def __init__(self, path: str | os.PathLike[str], *, frame_rate: int = 30,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 1 <= frame_rate <= 60:
            raise ValueError(f"frame rate {frame_rate} is outside 1-60")
        self.path = os.fspath(path)
        self.frame_rate = frame_rate
        self._clock = clock
        self._lock = threading.Lock()
        self._recorder: AvRecorder | None = None
        self._start = 0.0
        self._closed = False
        self._finalizer: weakref.finalize[Any, FileSink] | None = None

    @property
    def frames(self) -> int:
        return self._recorder.video_frames if self._recorder is not None else 0

    @property
    def dropped(self) -> int:
        return self._recorder.dropped if self._recorder is not None else 0

    @property
    def closed(self) -> bool:
        return self._closed

    def __call__(self, frame: VideoFrame) -> None:
        with self._lock:
            if self._closed:
                return
            if self._recorder is None:  # MediaFileError for a bad path surfaces here
                self._recorder = AvRecorder(self.path, width=frame.width, height=frame.height,
                                            frame_rate=self.frame_rate, audio_mode=None)
                self._finalizer = weakref.finalize(self, self._recorder.close)
                self._start = self._clock()
            self._recorder.write_video(frame, at=self._clock() - self._start)

    def close(self) -> None:
        """Finalise the file (idempotent); no file is made if no frame came."""
        with self._lock:
            self._closed = True
            if self._recorder is not None:
                self._recorder.close()
            if self._finalizer is not None:
                self._finalizer.detach()

    def __enter__(self) -> FileSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def i420_to_rgb(frame: VideoFrame) -> bytes:
    """The frame as packed RGB24 (BT.601 video range, chroma upsampled by repetition)."""
    import numpy as np

    y, u, v = frame.planes()
    yf = y.astype(np.float32) - 16.0
    uf = np.repeat(np.repeat(u, 2, axis=0), 2, axis=1).astype(np.float32) - 128.0
    vf = np.repeat(np.repeat(v, 2, axis=0), 2, axis=1).astype(np.float32) - 128.0
    r = 1.164 * yf + 1.596 * vf
    g = 1.164 * yf - 0.392 * uf - 0.813 * vf
    b = 1.164 * yf + 2.017 * uf
    rgb = np.stack([r, g, b], axis=-1)
    return bytes(np.clip(rgb + 0.5, 0, 255).astype(np.uint8).tobytes())


class QtVideoSink:
    """A window that paints each frame into a PySide6 ``QLabel``.

    Callable from any thread: the RGB picture is built in the caller's thread and
    set on the label in the label's thread (a queued signal). ``shown`` counts the
    frames the label has displayed.

    Raises:
        ImportError: PySide6 is not installed.
    """

    def __init__(self, label: Any) -> None:
        from PySide6.QtCore import QObject, Qt, Signal
        from PySide6.QtGui import QImage, QPixmap

        class _Bridge(QObject):
            picture = Signal(bytes, int, int)

        self.label = label
        self.shown = 0
        self._qimage, self._qpixmap, self._keep_aspect = (
            QImage, QPixmap, Qt.AspectRatioMode.KeepAspectRatio)
        self._bridge = _Bridge()
        self._bridge.moveToThread(label.thread())
        self._bridge.picture.connect(self._paint, Qt.ConnectionType.QueuedConnection)

    def __call__(self, frame: VideoFrame) -> None:
        self._bridge.picture.emit(i420_to_rgb(frame), frame.width, frame.height)

    def _paint(self, rgb: bytes, width: int, height: int) -> None:
        image = self._qimage(rgb, width, height, 3 * width, self._qimage.Format.Format_RGB888)
        pixmap = self._qpixmap.fromImage(image.copy())
        size = self.label.size()
        if size.width() > 1 and size.height() > 1:
            pixmap = pixmap.scaled(size, self._keep_aspect)
        self.label.setPixmap(pixmap)
        self.shown += 1
