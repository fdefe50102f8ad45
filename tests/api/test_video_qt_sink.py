"""The Qt video window paints frames given from another thread (offscreen Qt).

Proves (PySide6, from the test extra, with QT_QPA_PLATFORM=offscreen: no display): a ``QtVideoSink``
on a 160x120 ``QLabel`` called from a worker thread shows the frame in the label's
thread - the label's pixmap is the frame scaled to the label, in its colour (red
within 3 per channel) - and counts it; a second frame replaces the first.
"""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtWidgets

from voipkit.api.video_sinks import QtVideoSink
from voipkit.media.video.compose import solid_frame


def _pump(app: object, until: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()  # type: ignore[attr-defined]
        if until():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return False


def test_qt_sink_paints_from_a_worker_thread() -> None:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    label = QtWidgets.QLabel()
    label.resize(160, 120)
    sink = QtVideoSink(label)
    worker = threading.Thread(target=sink, args=(solid_frame(320, 240, (82, 90, 240)),))
    worker.start()
    worker.join()
    assert _pump(app, lambda: sink.shown == 1)
    image = label.pixmap().toImage()
    assert (image.width(), image.height()) == (160, 120)
    colour = image.pixelColor(80, 60)
    assert abs(colour.red() - 255) <= 3 and colour.green() <= 3 and colour.blue() <= 3
    sink(solid_frame(320, 240, (41, 240, 110)))  # blue, from this thread
    assert _pump(app, lambda: sink.shown == 2)
    colour = label.pixmap().toImage().pixelColor(80, 60)
    assert colour.blue() >= 250 and colour.red() <= 3
