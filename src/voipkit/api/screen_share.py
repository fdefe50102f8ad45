"""Screen sharing: which screen, how often, and sending it in a call's video.

Knows: ``aio.screen_capture`` (X11 screens through PyAV's x11grab, a capture thread
per share), ``Call.video`` (``api.video.CallVideo``: its session's source and frame
rate) and ``CallEnded``. Must not know: SIP, SDP, sockets or the facade's codes.

PortSIP names (the manual, "Device Manage functions" and "Send audio and video
stream functions"): ``getScreenSourceCount`` / ``getScreenSourceTitle`` are
``screen_sources(phone)``; ``selectScreenSource`` is ``select_screen_source``;
``SetScreenFrameRate`` is ``set_screen_frame_rate``;
``enableSendScreenStreamToRemote(sessionId, true/false)`` is
``ScreenShare.start(call)`` / ``stop_screen_share(call)``.

How the screen travels. The manual sends the screen "instead of camera": while a
share runs, the call's video stream carries the screen (scaled to the call's video
size) in place of its camera source, at the screen frame rate (at least 5 frames a
second on the wire, the video stream's minimum; the grab runs at the screen rate).
Stopping the share, or the call ending, closes the grab and gives the call its
camera back: the peer sees the screen as the call's video. The screen as a stream of
its own, beside the camera (``a=content:slides``, RFC 4796), is ``api.screen_stream``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from voipkit.aio.screen_capture import ScreenCapture, ScreenCaptureError, ScreenSource, list_screens
from voipkit.aio.video_session import VideoSession, VideoSource
from voipkit.api.errors import ConfigurationError, DeviceError, InvalidStateError
from voipkit.api.events import CallEnded

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

MIN_WIRE_RATE = 5
"The video stream's lowest frame rate (setVideoFrameRate's 5-30)."


@dataclass(slots=True)
class ScreenSettings:
    """A phone's screen sharing settings.

    Attributes:
        display: the X display to share from (None: ``$DISPLAY`` when a share starts).
        source: the index of the selected screen (selectScreenSource).
        frame_rate: screen grabs per second (SetScreenFrameRate), 1-30.
    """

    display: str | None = None
    source: int = 0
    frame_rate: int = 10


_settings: weakref.WeakKeyDictionary[Phone, ScreenSettings] = weakref.WeakKeyDictionary()


def screen_settings(phone: Phone) -> ScreenSettings:
    """The phone's screen sharing settings (created on first use)."""
    settings = _settings.get(phone)
    if settings is None:
        settings = _settings[phone] = ScreenSettings()
    return settings


async def screen_sources(phone: Phone) -> list[ScreenSource]:
    """The screens of the phone's display ([] without a display); probed off the loop."""
    display = screen_settings(phone).display
    return await asyncio.get_running_loop().run_in_executor(None, list_screens, display)


async def select_screen_source(phone: Phone, index: int) -> ScreenSource:
    """Share screen ``index`` from the next share on (selectScreenSource).

    Raises:
        ConfigurationError: there is no such screen.
    """
    sources = await screen_sources(phone)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(sources):
        raise ConfigurationError(f"there is no screen {index!r} (there are {len(sources)})")
    screen_settings(phone).source = index
    return sources[index]


def set_screen_frame_rate(phone: Phone, frame_rate: int) -> None:
    """Grab the screen ``frame_rate`` times a second from the next share on (1-30).

    Raises:
        ConfigurationError: outside 1-30.
    """
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, int) \
            or not 1 <= frame_rate <= 30:
        raise ConfigurationError(f"screen frame rate {frame_rate!r} is outside 1-30")
    screen_settings(phone).frame_rate = frame_rate


class ScreenShare:
    """A call sending a screen instead of its camera (enableSendScreenStreamToRemote).

    Attributes:
        call: the call.
        capture: the running ``ScreenCapture``.
    """

    _active: ClassVar[weakref.WeakKeyDictionary[Call, ScreenShare]] = \
        weakref.WeakKeyDictionary()

    def __init__(self, call: Call, capture: ScreenCapture, previous: VideoSource,
                 previous_rate: int) -> None:
        self.call = call
        self.capture = capture
        self._previous = previous
        self._previous_rate = previous_rate
        self._ended_handler = self._on_ended

    @classmethod
    async def start(cls, call: Call) -> ScreenShare:
        """Send the selected screen in ``call``'s video (a running share is kept).

        Raises:
            InvalidStateError: the call has no video.
            ConfigurationError: there is no display, or no selected screen on it.
            DeviceError: the screen cannot be grabbed.
        """
        existing = cls._active.get(call)
        if existing is not None:
            return existing
        video = call.video
        if video is None or video.session.closed:
            raise InvalidStateError(f"call {call.id} has no video (call or answer it with "
                                    "video)")
        phone: Phone = call._phone
        session = video.session
        capture = await open_screen_capture(phone, session)
        if session.closed or cls._active.get(call) is not None:
            capture.close()
            if session.closed:
                raise InvalidStateError(f"call {call.id} ended while the screen opened")
            return cls._active[call]
        share = cls(call, capture, session.source, session.settings.frame_rate)
        session.source = capture
        rate = max(MIN_WIRE_RATE, screen_settings(phone).frame_rate)
        if rate != session.settings.frame_rate:
            video.set_frame_rate(rate)
        cls._active[call] = share
        call.bus.on(CallEnded)(share._ended_handler)
        return share

    @classmethod
    def of(cls, call: Call) -> ScreenShare | None:
        return cls._active.get(call)

    def stop(self) -> None:
        """Close the grab and give the call its camera and frame rate back (idempotent)."""
        if ScreenShare._active.get(self.call) is self:
            del ScreenShare._active[self.call]
        self.call.bus.off(self._ended_handler)
        self.capture.close()
        video = self.call.video
        if video is None or video.session.closed:
            return
        if video.session.source is self.capture:
            video.session.source = self._previous
        if video.session.settings.frame_rate != self._previous_rate:
            video.set_frame_rate(self._previous_rate)

    def _on_ended(self, event: CallEnded) -> None:
        self.stop()


async def open_screen_capture(phone: Phone, session: VideoSession) -> ScreenCapture:
    """Open the phone's selected screen at ``session``'s picture size and the screen frame
    rate (off the loop: x11grab takes a moment); it stops when the session closes.

    Raises:
        ConfigurationError: no display, or the selected screen is gone.
        DeviceError: the screen cannot be grabbed.
    """
    settings = screen_settings(phone)
    sources = await screen_sources(phone)
    if not sources:
        raise ConfigurationError("there is no X display to share (DISPLAY is unset or "
                                 "nothing listens there)")
    if settings.source >= len(sources):
        raise ConfigurationError(f"screen {settings.source} is gone (there are "
                                 f"{len(sources)})")
    width, height = session.settings.width, session.settings.height
    try:
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: ScreenCapture(sources[settings.source], width=width, height=height,
                                        frame_rate=settings.frame_rate,
                                        stop_when=lambda: session.closed))
    except ScreenCaptureError as exc:
        raise DeviceError(str(exc)) from exc


def stop_screen_share(call: Call) -> bool:
    """Stop the call's screen share (enableSendScreenStreamToRemote false); False if
    none ran."""
    share = ScreenShare.of(call)
    if share is None:
        return False
    share.stop()
    return True


__all__ = ["ScreenCaptureError", "ScreenSettings", "ScreenShare", "ScreenSource",
           "screen_settings", "screen_sources", "select_screen_source",
           "set_screen_frame_rate", "stop_screen_share"]
