"""The manual's screen sharing functions of ``PortSIPLib``.

Knows: ``voipkit.api.screen_share`` (X11 screens through PyAV's x11grab, the share
that replaces a call's camera), ``Call.video`` sinks, and the facade's plumbing.
Must not know: anything below ``api``.

- ``getScreenSourceCount`` / ``getScreenSourceTitle`` list the screens of the X
  display (``$DISPLAY``; none without one); ``selectScreenSource`` and
  ``SetScreenFrameRate`` (1-30) apply to the next share;
- ``enableSendScreenStreamToRemote(sessionId, true)`` sends the selected screen
  "instead of camera" (the manual) in the call's video stream, false gives the
  camera back;
- ``enableScreenStreamCallback(sessionId, direction)`` raises ``onVideoRawCallback``
  with each screen frame sent (DIRECTION_SEND: on the screen stream, and on the
  call's video while a share replaces the camera) and/or each frame received
  (DIRECTION_RECV: where setScreenVideoWindow's frames come from); DIRECTION_NONE
  stops it;
- ``setScreenVideoWindow(sessionId, window)`` shows the peer's shared screen: the
  call's screen stream (``updateCall(..., enableScreen=true)`` on either side: a
  second video m= line with ``a=content:slides``, ``api.screen_stream``) while it has
  one, else what the call's video stream receives (a screen sent "instead of
  camera"); the window is a frame sink called on the callback thread, as for
  ``setRemoteVideoWindow``;
- ``onInviteUpdated``'s ``existsScreen`` says the screen stream is negotiated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from voipkit.api import Call, Phone
from voipkit.api.errors import InvalidStateError
from voipkit.api.screen_share import (
    ScreenShare,
    screen_sources,
    select_screen_source,
    set_screen_frame_rate,
    stop_screen_share,
)
from voipkit.api.screen_stream import exists as screen_stream_exists
from voipkit.api.screen_stream import set_screen_taps, set_screen_window
from voipkit.api.video import CallVideo, VideoFrame
from voipkit.compat.portsip.codes import ErrorCode
from voipkit.compat.portsip.enums import DIRECTION_MODE

if TYPE_CHECKING:
    from voipkit.compat.portsip.callbacks import SIPCallbackEvents

logger = logging.getLogger(__name__)

Sink = Callable[[VideoFrame], None]
_SEND = int(DIRECTION_MODE.DIRECTION_SEND)
_RECV = int(DIRECTION_MODE.DIRECTION_RECV)
_DIRECTIONS = {DIRECTION_MODE.DIRECTION_NONE: (False, False),
               DIRECTION_MODE.DIRECTION_INACTIVE: (False, False),
               DIRECTION_MODE.DIRECTION_SEND: (True, False),
               DIRECTION_MODE.DIRECTION_RECV: (False, True),
               DIRECTION_MODE.DIRECTION_SEND_RECV: (True, True)}


class _Buffer(Protocol):
    value: str


def _video(call: Call) -> CallVideo:
    if call.video is None:
        raise InvalidStateError(f"call {call.id} has no video (call or answer it with "
                                "videoCall=True)")
    return call.video


class ScreenFunctions:
    """Screen sharing functions of the manual, mixed into ``PortSIPLib``."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        _callbacks: SIPCallbackEvents

        def _call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
                  timeout: float = 30.0) -> int: ...
        def _require_phone(self) -> Phone: ...
        def _on_phone(self, action: Callable[[Phone], object]) -> int: ...
        def _with_call(self, session_id: int, action: Callable[[Call], Any]) -> int: ...
        def _post(self, callback: Callable[..., Any], *args: Any) -> None: ...
        def _window_sink(self, window: Callable[[VideoFrame], object]) -> Sink: ...
        def _raw_sink(self, session_id: int, kind: int, stream: str = ...) -> Sink: ...

    # --- sources ---------------------------------------------------------------------------

    def getScreenSourceCount(self) -> int:
        """How many screens the X display has (0 without a display)."""
        return self._call(self._screen_count)

    async def _screen_count(self) -> int:
        return len(await screen_sources(self._require_phone()))

    def getScreenSourceTitle(self, deviceIndex: int, nameUTF8: _Buffer,
                             nameUTF8Length: int) -> int:
        """The title of screen ``deviceIndex``, e.g. ``Screen 0 (1024x768) on :0``."""
        return self._call(self._screen_title, deviceIndex, nameUTF8, nameUTF8Length)

    async def _screen_title(self, index: int, buffer: _Buffer, size: int) -> int:
        sources = await screen_sources(self._require_phone())
        if isinstance(index, bool) or not isinstance(index, int) \
                or not 0 <= index < len(sources):
            logger.info("getScreenSourceTitle: no screen %r (there are %d)", index,
                        len(sources))
            return ErrorCode.INVALID_ARGUMENT
        title = sources[index].title
        if isinstance(size, bool) or not isinstance(size, int) \
                or len(title.encode("utf-8")) + 1 > size:
            logger.info("getScreenSourceTitle: %r does not fit %r bytes", title, size)
            return ErrorCode.BUFFER_TOO_SMALL
        buffer.value = title
        return 0

    def selectScreenSource(self, nDeviceIndex: int) -> int:
        """Share screen ``nDeviceIndex`` from the next enableSendScreenStreamToRemote."""
        return self._call(self._select_screen, nDeviceIndex)

    async def _select_screen(self, index: int) -> int:
        await select_screen_source(self._require_phone(), index)
        return 0

    def SetScreenFrameRate(self, nFrameRate: int) -> int:
        """Grab the screen ``nFrameRate`` (1-30) times a second from the next share on."""
        return self._on_phone(lambda phone: set_screen_frame_rate(phone, nFrameRate))

    # --- sending ---------------------------------------------------------------------------

    def enableSendScreenStreamToRemote(self, sessionId: int, state: bool) -> int:
        """Send the selected screen instead of the camera (true) or the camera again
        (false: 0 even when no share ran)."""
        if state:
            return self._with_call(sessionId, ScreenShare.start)
        return self._with_call(sessionId, stop_screen_share)

    # --- callbacks and window --------------------------------------------------------------

    def enableScreenStreamCallback(self, sessionId: int, direction: int) -> int:
        """onVideoRawCallback with each screen frame sent (DIRECTION_SEND) and/or each
        frame received (DIRECTION_RECV); DIRECTION_NONE stops it."""
        try:
            send, recv = _DIRECTIONS[DIRECTION_MODE(direction)]
        except ValueError:
            logger.info("enableScreenStreamCallback: %r is not a DIRECTION_MODE", direction)
            return ErrorCode.INVALID_ARGUMENT

        def apply(call: Call) -> None:
            if call.video is None and call.screen is None:
                _video(call)  # raises: no video
            set_screen_taps(call, self._screen_raw(call, _SEND) if send else None,
                            self._screen_raw(call, _RECV) if recv else None)
        return self._with_call(sessionId, apply)

    def _screen_raw(self, call: Call, kind: int) -> Sink:
        return self._raw_sink(call.id, kind, "screen")

    def setScreenVideoWindow(self, sessionId: int, screenVideoWindow: Any) -> int:
        """Show the screen the peer shares in ``screenVideoWindow``, a frame sink: the
        call's screen stream (a second video line, ``a=content:slides``) while it has
        one, else what its video stream receives (a screen sent "instead of camera");
        None (or 0) removes it."""
        if screenVideoWindow is not None and screenVideoWindow != 0 \
                and not callable(screenVideoWindow):
            logger.info("setScreenVideoWindow: the window must be a callable frame sink")
            return ErrorCode.INVALID_ARGUMENT
        window = screenVideoWindow if callable(screenVideoWindow) else None

        def attach(call: Call) -> None:
            if call.video is None and call.screen is None:
                _video(call)  # raises: no video
            set_screen_window(call, None if window is None else self._window_sink(window))
        return self._with_call(sessionId, attach)

    def _screen_state(self, call: Call) -> bool:
        """existsScreen: the call's screen stream is negotiated."""
        return screen_stream_exists(call)


__all__ = ["ScreenFunctions"]
