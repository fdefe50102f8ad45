"""Screen capture: the X11 screens of a display, grabbed through PyAV's ``x11grab``.

Knows: FFmpeg's ``x11grab`` input device as PyAV opens it (``av.open(":N.S",
format="x11grab")``, a display ``:N`` and a screen ``S``), how to list the screens
of a display by opening them in turn, and one capture thread per grab that keeps
the latest frame, converted to I420 at the size the call sends. Must not know: calls,
RTP or SIP; ``api.screen_share`` decides what is captured and where it goes.

Why a thread: ``x11grab`` blocks in each read until the next frame is due (it paces
itself at ``framerate``), so reading it on the event loop would stall every call.
The thread only reads, converts and stores ``latest``; the video session's own clock
takes ``latest`` on its tick (``read_frame``), the way ``PushedFrames`` works. The
thread ends on ``close()`` (it wakes within one frame period) or by itself when
``stop_when()`` turns true or the grab fails (the error is kept in ``error``).

Where there is no X display (no ``DISPLAY``, nothing listening) there are no screen
sources, and capture is refused with ``ScreenCaptureError``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from voipkit.base.errors import VoipkitError
from voipkit.media.video import VideoFrame

logger = logging.getLogger(__name__)

MAX_SCREENS = 16
"Screens probed per display (X11 numbers them 0, 1, 2 ... without gaps)."

_FAST_OPEN = {"probesize": "32", "analyzeduration": "0", "fpsprobesize": "0"}
"Without these, opening x11grab spends ~1.7 s analysing frames it then drops."


class ScreenCaptureError(VoipkitError, OSError):
    """A screen cannot be captured (no display, no such screen, x11grab failed)."""


@dataclass(frozen=True, slots=True)
class ScreenSource:
    """One X11 screen that can be shared.

    Attributes:
        display: the X display (``":99"``).
        screen: the screen number on it.
        width, height: its size in pixels.
    """

    display: str
    screen: int
    width: int
    height: int

    @property
    def url(self) -> str:
        """What x11grab opens: ``display.screen``."""
        return f"{self.display}.{self.screen}"

    @property
    def title(self) -> str:
        """The name getScreenSourceTitle gives: ``Screen 0 (1024x768) on :99``."""
        return f"Screen {self.screen} ({self.width}x{self.height}) on {self.display}"


def default_display() -> str | None:
    """``$DISPLAY`` without a screen suffix (``:0.1`` -> ``:0``), or None."""
    display = os.environ.get("DISPLAY", "").strip()
    if not display:
        return None
    host, _, number = display.rpartition(":")
    return f"{host}:{number.split('.')[0]}"


def list_screens(display: str | None = None) -> list[ScreenSource]:
    """The screens of ``display`` (default ``$DISPLAY``); [] when there is no display.

    Opens each screen with x11grab in turn (about 0.1 s each) until one fails.
    """
    display = display if display is not None else default_display()
    if not display:
        return []
    found: list[ScreenSource] = []
    for screen in range(MAX_SCREENS):
        try:
            container = av.open(f"{display}.{screen}", format="x11grab",
                                options={"draw_mouse": "0", **_FAST_OPEN})
        except (OSError, av.FFmpegError):
            break
        try:
            context = container.streams.video[0].codec_context
            found.append(ScreenSource(display, screen, context.width, context.height))
        finally:
            container.close()
    return found


class ScreenCapture:
    """Grabs one screen on a thread and offers the latest frame as a video source.

    Args:
        source: the screen.
        width, height: the I420 size ``read_frame`` gives (even).
        frame_rate: grabs per second (x11grab's ``framerate``).
        stop_when: polled after each grab; true ends the capture (e.g. the call closed).

    Raises:
        ScreenCaptureError: the screen cannot be opened.
    """

    def __init__(self, source: ScreenSource, *, width: int, height: int, frame_rate: int,
                 stop_when: Callable[[], bool] | None = None) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"screen capture needs even dimensions, not {width}x{height}")
        if not 1 <= frame_rate <= 60:
            raise ValueError(f"screen frame rate {frame_rate} is outside 1-60")
        self.source = source
        self.width = width
        self.height = height
        self.frame_rate = frame_rate
        self.latest: VideoFrame | None = None
        self.grabbed = 0
        "Frames grabbed so far."
        self.error: BaseException | None = None
        self._stop_when = stop_when
        self._stopping = threading.Event()
        self._first = threading.Event()
        try:
            self._container = av.open(source.url, format="x11grab", options={
                "framerate": str(frame_rate), "draw_mouse": "0", **_FAST_OPEN})
        except (OSError, av.FFmpegError) as exc:
            raise ScreenCaptureError(f"cannot capture {source.title}: {exc}") from exc
        self._thread = threading.Thread(target=self._run, name=f"screen {source.url}",
                                        daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def read_frame(self) -> VideoFrame | None:
        """The latest grabbed frame (None before the first): a ``VideoSource``."""
        return self.latest

    def wait_first(self, timeout: float) -> bool:
        """Block until a frame was grabbed (for callers off the loop, e.g. tests)."""
        return self._first.wait(timeout)

    def _run(self) -> None:
        container = self._container
        try:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                for frame in packet.decode():
                    i420 = frame.reformat(width=self.width, height=self.height,
                                          format="yuv420p")
                    self.latest = VideoFrame(np.asarray(i420.to_ndarray(), dtype=np.uint8))
                    self.grabbed += 1
                    self._first.set()
                if self._stopping.is_set() or (self._stop_when is not None
                                               and self._stop_when()):
                    break
        except Exception as exc:  # a closed display ends the capture, not the call
            self.error = exc
            logger.info("screen capture of %s ended: %s", self.source.url, exc)
        finally:
            container.close()

    def close(self, timeout: float = 2.0) -> None:
        """Stop grabbing and wait for the thread (idempotent)."""
        self._stopping.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


__all__ = ["ScreenCapture", "ScreenCaptureError", "ScreenSource", "default_display",
           "list_screens"]
