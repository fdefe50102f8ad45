"""Screen capture: the X11 screens of a display, grabbed through PyAV's ``x11grab``.

Knows: FFmpeg's ``x11grab`` input device as PyAV opens it (``av.open(":N.S",
format="x11grab")``, a display ``:N`` and a screen ``S``), how to list the screens
of a display by opening them in turn, and one capture thread per grab that keeps
the latest frame, converted to I420 at the size the call sends. Must not know: calls,
RTP or SIP; ``api.screen_share`` decides what is captured and where it goes.

The grab runs on a thread (``aio.video_capture.GrabbedSource``: x11grab blocks in
each read until the next frame is due); the video session's own clock takes the
latest frame on its tick, the way ``PushedFrames`` works.

Where there is no X display (no ``DISPLAY``, nothing listening) there are no screen
sources, and capture is refused with ``ScreenCaptureError``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import av

from voipkit.aio.video_capture import CaptureError, GrabbedSource

logger = logging.getLogger(__name__)

MAX_SCREENS = 16
"Screens probed per display (X11 numbers them 0, 1, 2 ... without gaps)."

_FAST_OPEN = {"probesize": "32", "analyzeduration": "0", "fpsprobesize": "0"}
"Without these, opening x11grab spends ~1.7 s analysing frames it then drops."


class ScreenCaptureError(CaptureError):
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


class ScreenCapture(GrabbedSource):
    """Grabs one screen on a thread and offers the latest frame as a video source.

    Args:
        source: the screen.
        width, height: the I420 size ``read_frame`` gives (even).
        frame_rate: grabs per second (x11grab's ``framerate``), 1-60.
        stop_when: polled after each grab; true ends the capture (e.g. the call closed).

    Raises:
        ScreenCaptureError: the screen cannot be opened.
    """

    def __init__(self, source: ScreenSource, *, width: int, height: int, frame_rate: int,
                 stop_when: Callable[[], bool] | None = None) -> None:
        if not 1 <= frame_rate <= 60:
            raise ValueError(f"screen frame rate {frame_rate} is outside 1-60")
        self.source = source
        self.frame_rate = frame_rate
        try:
            super().__init__(source.url, "x11grab", {"framerate": str(frame_rate),
                                                     "draw_mouse": "0", **_FAST_OPEN},
                             width=width, height=height, stop_when=stop_when,
                             name=f"screen {source.url}")
        except CaptureError as exc:
            raise ScreenCaptureError(f"cannot capture {source.title}: {exc}") from exc


__all__ = ["ScreenCapture", "ScreenCaptureError", "ScreenSource", "default_display",
           "list_screens"]
