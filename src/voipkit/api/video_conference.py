"""The video conference of a phone: members' video composed into one picture.

Knows: ``api.conference.Conference`` (the audio conference it extends and whose
join/leave/destroy it follows), ``Call.video`` (``api.video.CallVideo``: its
session's source and sinks), the sans-IO compositor ``media.video.compose`` and the
pacing ``aio.media_clock.MediaClock``. Must not know: SIP, SDP, sockets or the
facade's integer codes.

PortSIP names (the manual, "Conference functions"): ``createVideoConference(window,
width, height, layout)`` is ``VideoConference.create(phone, width=, height=,
layout=, window=)``: it creates the phone's conference (audio mix-minus, as
``createAudioConference``) with a video half; ``setConferenceVideoWindow`` is
``set_window``; ``joinToConference`` / ``removeFromConference`` /
``destroyConference`` are the audio ``Conference``'s ``join`` / ``leave`` /
``destroy``, which call ``join`` / ``leave`` / ``destroy`` here.

Routing. Every ``1 / frame_rate`` seconds the compositor draws the local source
(slot 0: the host's camera, ``api.video_devices``) and the latest
frame decoded from each member with video (slots 1.. in joining order) in the
layout (``media.video.compose``: layouts 0-7 of the manual). The picture goes to the
window (a frame sink: any callable taking a ``VideoFrame``) and is what every member
call sends instead of its own source; a member that leaves, or a destroyed
conference, gives each call its previous source back. A member joined without video
is in the audio conference only. Every member sees the same picture (itself
included), as one composed stream for all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from voipkit.aio.media_clock import MediaClock
from voipkit.aio.video_session import VideoSource
from voipkit.api.errors import ConfigurationError, InvalidStateError
from voipkit.api.video_devices import camera_source
from voipkit.media.video import VideoFrame
from voipkit.media.video.compose import ConferenceLayout, VideoCompositor

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.conference import Conference
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

Window = Callable[[VideoFrame], object]
"A frame sink: called with each composed ``VideoFrame`` (I420)."

MAX_PIXELS = 1920 * 1088


class _Feed:
    """What a member call sends: the latest composed picture (None before the first)."""

    def __init__(self) -> None:
        self.latest: VideoFrame | None = None

    def read_frame(self) -> VideoFrame | None:
        return self.latest


class _Member:
    def __init__(self, call: Call, previous: VideoSource) -> None:
        self.call = call
        self.previous = previous
        self.latest: VideoFrame | None = None
        self.received = 0

    def __call__(self, frame: VideoFrame) -> None:
        self.latest = frame
        self.received += 1


class VideoConference:
    """The video half of a phone's conference (createVideoConference).

    Attributes:
        conference: the audio ``Conference`` it belongs to.
        compositor: the ``VideoCompositor`` (size and layout).
        local_source: slot 0's frames (``read_frame()``; None keeps the last one).
        frames: pictures composed so far.
    """

    def __init__(self, conference: Conference, compositor: VideoCompositor, *,
                 window: Window | None, local_source: VideoSource | None,
                 frame_rate: int) -> None:
        self.conference = conference
        self.compositor = compositor
        self.window = window
        self.destroyed = False
        self.local_source: VideoSource = local_source if local_source is not None else \
            camera_source(conference.phone, compositor.width, compositor.height, frame_rate,
                          stop_when=lambda: self.destroyed)  # the phone's camera
        self.frame_rate = frame_rate
        self.frames = 0
        self._local: VideoFrame | None = None
        self._members: dict[int, _Member] = {}
        self._feed = _Feed()
        self._clock = MediaClock(conference.phone.loop, 1.0 / frame_rate, self._tick)

    @classmethod
    def create(cls, phone: Phone, *, width: int = 640, height: int = 480,
               layout: ConferenceLayout | int = ConferenceLayout.ADAPTIVE,
               window: Window | None = None, local_source: VideoSource | None = None,
               frame_rate: int | None = None) -> VideoConference:
        """Create the phone's conference with video and start composing.

        Args:
            width, height: the composed picture (even, at most 1920x1088).
            layout: the manual's 0-7.
            window: receives each composed picture (None: none yet).
            local_source: slot 0 (default: the phone's camera, ``api.video_devices``:
                a chosen V4L2 device, else the virtual camera).
            frame_rate: pictures per second (default: the phone's video frame rate).

        Raises:
            ConfigurationError: a bad size, layout or frame rate.
            InvalidStateError: the phone already has a conference.
        """
        if (isinstance(width, bool) or isinstance(height, bool) or width <= 0 or height <= 0
                or width % 2 or height % 2 or width * height > MAX_PIXELS):
            raise ConfigurationError(f"conference video {width}x{height} must be even and "
                                     "at most 1920x1088")
        try:
            compositor = VideoCompositor(width, height, layout)
        except ValueError as exc:
            raise ConfigurationError(f"conference layout {layout!r} is not 0-7") from exc
        rate = phone.video.frame_rate if frame_rate is None else frame_rate
        if not 1 <= rate <= 30:
            raise ConfigurationError(f"conference frame rate {rate} is outside 1-30")
        conference = phone.create_conference()  # InvalidStateError when one exists
        video = cls(conference, compositor, window=window, frame_rate=rate,
                    local_source=local_source)
        conference.video = video
        for call in conference.calls:
            video.join(call)
        video._clock.start()
        return video

    @classmethod
    def of(cls, phone: Phone) -> VideoConference | None:
        """The phone's live video conference, if any."""
        from voipkit.api.conference import Conference

        conference = Conference.of(phone)
        video = conference.video if conference is not None else None
        return video if isinstance(video, VideoConference) and not video.destroyed else None

    @property
    def running(self) -> bool:
        """Pictures are being composed (False once destroyed)."""
        return self._clock.running

    @property
    def layout(self) -> ConferenceLayout:
        return self.compositor.layout

    def set_layout(self, layout: ConferenceLayout | int) -> None:
        try:
            self.compositor.set_layout(layout)
        except ValueError as exc:
            raise ConfigurationError(f"conference layout {layout!r} is not 0-7") from exc

    def set_window(self, window: Window | None) -> None:
        """The window composed pictures go to (setConferenceVideoWindow); None: none."""
        self.window = window

    @property
    def calls(self) -> list[Call]:
        """The members with video, in slot order."""
        return [member.call for member in self._members.values()]

    def join(self, call: Call) -> None:
        """Give ``call`` a slot and make it send the composed picture (a call without
        video is left alone). Called by ``Conference.join``."""
        if self.destroyed or call.id in self._members:
            return
        video = call.video
        if video is None or video.session.closed:
            return
        member = _Member(call, video.session.source)
        self._members[call.id] = member
        video.add_sink(member)
        video.session.source = self._feed

    def leave(self, call: Call) -> None:
        """Take ``call``'s slot away and give it its own source back (idempotent)."""
        member = self._members.pop(call.id, None)
        if member is None:
            return
        video = call.video
        if video is None:
            return
        video.remove_sink(member)
        if video.session.source is self._feed:
            video.session.source = member.previous

    def destroy(self) -> None:
        """Stop composing and give every member its own source back (idempotent)."""
        if self.destroyed:
            return
        self.destroyed = True
        self._clock.stop()
        for member in list(self._members.values()):
            try:
                self.leave(member.call)
            except Exception:
                logger.exception("video conference: restoring call %s failed",
                                 member.call.id)

    def compose(self) -> VideoFrame:
        """Draw one picture from the latest frames (the tick does this)."""
        frame = self.local_source.read_frame()
        if frame is not None:
            self._local = frame
        slots: list[VideoFrame | None] = [self._local]
        slots += [member.latest for member in self._members.values()]
        return self.compositor.compose(slots)

    def _tick(self, now: float) -> None:
        if self.destroyed:
            return
        picture = self.compose()
        self.frames += 1
        self._feed.latest = picture
        window = self.window
        if window is not None:
            try:
                window(picture)
            except Exception:
                logger.exception("conference video window failed")


def require_video_conference(phone: Phone) -> VideoConference:
    """The phone's video conference.

    Raises:
        InvalidStateError: there is none (createVideoConference).
    """
    video = VideoConference.of(phone)
    if video is None:
        raise InvalidStateError("there is no video conference (createVideoConference)")
    return video


__all__ = ["ConferenceLayout", "VideoConference", "Window", "require_video_conference"]
