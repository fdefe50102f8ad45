"""A ready-made video "window" for Qt: a frame sink that paints a PySide6 widget.

Knows: the window protocol of the video functions (a callable taking each
``VideoFrame``, I420; the facade calls it on its callback thread, the api on the
loop) and PySide6 (imported only when a ``QtVideoSink`` is made). Must not know:
calls, SIP or sockets. The ready window for files is ``media.video.VideoFileSink``.

``QtVideoSink(label)`` shows each frame in a ``QLabel`` (scaled to the label, aspect
kept), converting I420 to RGB in the caller's thread and handing the picture to the
widget's thread through a queued signal; it needs PySide6 (the ``qt`` extra;
``ImportError`` otherwise) and a ``QApplication``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from voipkit.media.video import VideoFrame

__all__ = ["QtVideoSink", "i420_to_rgb"]


def i420_to_rgb(frame: VideoFrame) -> bytes:
    """The frame as packed RGB24 (BT.601 video range, chroma upsampled by repetition)."""
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
