"""The manual's video conference functions of ``PortSIPLib``: ``createVideoConference``
and ``setConferenceVideoWindow``.

Knows: ``voipkit.api.video_conference`` (``VideoConference``: composition of the
local camera and the members' video in the manual's layouts 0-7) and the facade's
plumbing. Must not know: anything below ``api``. ``joinToConference``,
``removeFromConference`` and ``destroyConference`` are the audio functions'
(compat/portsip/audio.py): the api conference carries its video half along.

Windows are frame sinks, as for ``setRemoteVideoWindow`` (compat/portsip/video.py):
a callable receiving each composed ``VideoFrame`` (I420), called on the facade's
callback thread; ``None`` (or 0, the manual's null ``IntPtr``) means no window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voipkit.api import Phone
from voipkit.api.video import VideoFrame
from voipkit.api.video_conference import VideoConference, require_video_conference
from voipkit.compat.portsip.codes import ErrorCode

logger = logging.getLogger(__name__)

Window = Callable[[VideoFrame], object]


class VideoConferenceFunctions:
    """Video conference functions of the manual, mixed into ``PortSIPLib``."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        def _on_phone(self, action: Callable[[Phone], object]) -> int: ...
        def _post(self, callback: Callable[..., Any], *args: Any) -> None: ...
        def _window_sink(self, window: Callable[[VideoFrame], object]
                         ) -> Callable[[VideoFrame], None]: ...

    def _window(self, what: str, window: Any) -> tuple[bool, Callable[[VideoFrame], None] |
                                                       None]:
        """(valid, the sink posting to the callback thread or None)."""
        if window is None or (isinstance(window, int) and not isinstance(window, bool)
                              and window == 0):
            return True, None
        if not callable(window):
            logger.info("%s: the window must be a callable frame sink (or None)", what)
            return False, None
        target: Window = window
        return True, self._window_sink(target)

    def createVideoConference(self, conferenceVideoWindow: Any, width: int, height: int,
                              layout: int) -> int:
        """Create the conference with video: ``width`` x ``height`` pictures (even, at
        most 1920x1088) in ``layout`` (0 adaptive, 1 local only, 2 PIP, 3 left/right,
        4 up/down, 5 three, 6 four, 7 five), shown in ``conferenceVideoWindow`` and sent
        to every member with video. INVALID_STATE while a conference exists."""
        valid, sink = self._window("createVideoConference", conferenceVideoWindow)
        if not valid:
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: VideoConference.create(
            phone, width=width, height=height, layout=layout, window=sink))

    def setConferenceVideoWindow(self, videoWindow: Any) -> int:
        """The window composed pictures go to (None: none). INVALID_STATE without a
        video conference."""
        valid, sink = self._window("setConferenceVideoWindow", videoWindow)
        if not valid:
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: require_video_conference(phone).set_window(sink))


__all__ = ["VideoConferenceFunctions"]
