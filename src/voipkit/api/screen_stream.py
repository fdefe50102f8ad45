"""A call's screen as its own stream: a second video m= line with ``a=content:slides``.

Knows: ``api.video.CallVideo`` (a screen stream is one, with its own
``aio.VideoSession``), ``api.screen_share`` (the selected screen and its frame rate),
``aio.screen_capture`` (the grab), the SDP model, and the ``Call`` attributes it reads
(``video``, ``screen``, ``state``). Must not know: SIP messages or the facade's codes.
``Call`` calls the hooks here when it builds an offer, answers one, applies an answer,
starts and ends.

RFC 4796 §5 (the SDP ``content`` attribute) names a media stream's role:
``a=content:slides`` for a presentation, ``a=content:main`` for the main video. voipkit
offers the screen (``Call.update(screen=True)``, the manual's
``updateCall(..., enableScreen=true)``) as a video m= line with ``a=content:slides``
at index 2 (audio 0, camera 1; a call without camera video offers its camera line
with port 0, so the indexes hold), and then gives the camera's line ``a=content:main``.
The sharer offers the line ``sendonly`` (``sendrecv`` when the peer shares too); the
other side answers ``recvonly`` and receives it into its own ``CallScreen``, whose
frames go to the screen window (``set_screen_window``, the manual's
``setScreenVideoWindow``). ``Call.update(screen=False)`` removes the stream: its line
is then offered with port 0 (RFC 3264 §8.2), as the peer's re-INVITE may also do.

A peer that does not know ``content`` (baresip) answers the line it can take, the first
video line, and rejects (port 0) the second: its camera video works as before. An
answerer that finds a ``slides`` line in a re-offer opens its ``CallScreen`` first (a
socket pair) and then answers; its camera takes the first line without ``slides``.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from voipkit.aio.screen_capture import ScreenCapture
from voipkit.aio.video_session import FrameSink, PushedFrames, VideoSession
from voipkit.api.errors import InvalidStateError
from voipkit.api.screen_share import (
    MIN_WIRE_RATE,
    ScreenShare,
    open_screen_capture,
    screen_settings,
)
from voipkit.api.video import CallVideo, VideoFrame, VideoSettings
from voipkit.sdp import (
    CodecCapability,
    Direction,
    MediaDescription,
    NegotiatedMedia,
    SessionDescription,
)
from voipkit.sdp.model import Attribute

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

SCREEN_INDEX = 2
"The m= line index voipkit offers its screen at (audio 0, camera 1)."
SLIDES = "slides"
MAIN = "main"


def content_of(line: MediaDescription) -> str | None:
    """The line's RFC 4796 ``a=content`` value (lower case), or None."""
    value = line.attribute("content")
    return value.strip().lower() if value else None


def _is_slides(line: MediaDescription) -> bool:
    return line.kind == "video" and SLIDES in (content_of(line) or "").split(",")


def _set_content(line: MediaDescription, value: str) -> None:
    line.attributes = [a for a in line.attributes if a.name != "content"]
    line.attributes.append(Attribute("content", value))


def slides_index(sdp: SessionDescription) -> int | None:
    """The index of the first active ``a=content:slides`` video line, or None."""
    for index, line in enumerate(sdp.media):
        if line.port != 0 and _is_slides(line):
            return index
    return None


class CallScreen(CallVideo):
    """A call's screen stream: a ``CallVideo`` on its own m= line and session.

    Attributes:
        index: the m= line it is carried on.
        sharing: we send our selected screen on it (else we only receive).
        capture: the running screen grab while sharing.
        peer_shares: the peer's last description of the line said it sends.
    """

    def __init__(self, phone: Phone, session: VideoSession, index: int) -> None:
        super().__init__(phone, session)
        self.index = index
        self.sharing = False
        self.capture: ScreenCapture | None = None
        self.peer_shares = False
        self._idle = PushedFrames()  # sends nothing while we do not share
        session.source = self._idle
        session.sent_sinks.clear()  # the local preview is the camera's

    @classmethod
    async def open_screen(cls, phone: Phone, index: int) -> CallScreen:
        """Bind the stream's port pair (from the phone's RTP range)."""
        settings: VideoSettings = phone.video
        low, high = phone.rtp_port_range
        session = await VideoSession.open(phone.rtp_ip, (low, high), phone.ids,
                                          loop=phone.loop, registry=settings.registry(),
                                          symmetric=phone.config.media.symmetric_rtp,
                                          dscp=settings.dscp)
        rate = max(MIN_WIRE_RATE, screen_settings(phone).frame_rate)
        session.apply_settings(dataclasses.replace(settings.encoder_settings(),
                                                   frame_rate=rate))
        session.nack = settings.nack
        return cls(phone, session, index)

    async def share(self) -> None:
        """Send the selected screen on this stream (idempotent).

        Raises:
            ConfigurationError: no display, or the selected screen is gone.
            DeviceError: the screen cannot be grabbed.
        """
        if self.capture is not None:
            self.sharing = True
            return
        session = self.session
        capture = await open_screen_capture(self._phone, session)
        if session.closed:
            capture.close()
            raise InvalidStateError("the screen stream ended while the screen opened")
        self.capture = capture
        self.sharing = True
        session.source = capture

    def unshare(self) -> None:
        """Stop grabbing; the stream sends nothing."""
        self.sharing = False
        if self.capture is not None:
            self.capture.close()
            self.capture = None
        self.session.source = self._idle

    def offer_line(self, direction: Direction, offer: SessionDescription) -> MediaDescription:
        line = super().offer_line(direction, offer)
        if line.port == 0:
            return line
        sends = self.sharing and direction in (Direction.SENDRECV, Direction.SENDONLY)
        receives = self.peer_shares or not self.sharing
        line.set_direction(Direction.SENDRECV if sends and receives else
                           Direction.SENDONLY if sends else Direction.RECVONLY)
        _set_content(line, SLIDES)
        return line

    def configure(self, streams: Sequence[NegotiatedMedia], *, start: bool = False) -> None:
        mine = [s for s in streams if s.index == self.index]
        if mine and not self.sharing and mine[0].direction in (Direction.SENDRECV,
                                                                Direction.SENDONLY):
            receive = mine[0].direction is Direction.SENDRECV
            mine = [dataclasses.replace(mine[0], direction=Direction.RECVONLY if receive
                                        else Direction.INACTIVE)]
        super().configure(mine, start=start)

    def disable(self) -> None:
        self.unshare()
        super().disable()

    def abort(self, reason: str) -> None:
        self.unshare()
        super().abort(reason)


# --- the screen window and taps -------------------------------------------------------

@dataclasses.dataclass(slots=True)
class _Outputs:
    """Where one call's screen frames go (setScreenVideoWindow,
    enableScreenStreamCallback)."""

    window: FrameSink | None = None
    sent: FrameSink | None = None
    received: FrameSink | None = None
    camera_sent: FrameSink | None = None
    "``sent`` behind a filter, on the camera stream: only while it carries a screen."


_outputs: weakref.WeakKeyDictionary[Call, _Outputs] = weakref.WeakKeyDictionary()


def set_screen_window(call: Call, sink: FrameSink | None) -> None:
    """Show the received screen in ``sink`` (setScreenVideoWindow): the frames of the
    call's screen stream while it has one, else what its camera stream receives (a
    peer that shares "instead of camera", ``api.screen_share``). None removes it."""
    outputs = _outputs.setdefault(call, _Outputs())
    _detach(call, outputs)
    outputs.window = sink
    _attach_window(call)


def set_screen_taps(call: Call, sent: FrameSink | None, received: FrameSink | None) -> None:
    """enableScreenStreamCallback: ``sent`` sees each screen frame sent (on the screen
    stream, and on the camera stream while a share replaces the camera), ``received``
    each frame received where the window's frames come from; None removes either."""
    outputs = _outputs.setdefault(call, _Outputs())
    _detach(call, outputs)
    outputs.sent, outputs.received = sent, received
    if sent is not None:
        tap = sent

        def camera_sent(frame: VideoFrame) -> None:
            if ScreenShare.of(call) is not None:
                tap(frame)
        outputs.camera_sent = camera_sent
    else:
        outputs.camera_sent = None
    _attach_window(call)


def _detach(call: Call, outputs: _Outputs) -> None:
    for video in (call.video, call.screen):
        if video is None:
            continue
        for sink in (outputs.window, outputs.received):
            if sink is not None:
                video.remove_sink(sink)
        for sink in (outputs.sent, outputs.camera_sent):
            if sink is not None:
                video.remove_sent_sink(sink)


def _attach_window(call: Call) -> None:
    outputs = _outputs.get(call)
    if outputs is None:
        return
    _detach(call, outputs)
    screen = call.screen
    active_screen = screen if screen is not None and screen.enabled else None
    target = active_screen if active_screen is not None else call.video
    if target is not None:
        for sink in (outputs.window, outputs.received):
            if sink is not None:
                target.add_sink(sink)
    if active_screen is not None and outputs.sent is not None:
        active_screen.add_sent_sink(outputs.sent)
    if call.video is not None and outputs.camera_sent is not None:
        call.video.add_sent_sink(outputs.camera_sent)


# --- hooks called by Call --------------------------------------------------------------

def exists(call: Call) -> bool:
    """The call's screen stream is negotiated (onInviteUpdated's existsScreen)."""
    return call.screen is not None and call.screen.active


async def update(call: Call, share: bool) -> None:
    """``Call.update(screen=...)``: open (and share on) or remove the screen stream
    before the re-offer."""
    screen = call.screen
    if share:
        if screen is None or not screen.enabled or screen.session.closed:
            index = screen.index if screen is not None else SCREEN_INDEX
            screen = await CallScreen.open_screen(call.phone, index)
            try:
                await screen.share()
            except BaseException:
                screen.abort("screen refused")
                raise
            call.screen = screen
            _attach_window(call)
        else:
            await screen.share()
    elif screen is not None and screen.enabled:
        screen.disable()
        _attach_window(call)


def extend_offer(call: Call, offer: SessionDescription, direction: Direction) -> None:
    """Put the screen line at its index of ``offer`` (after the audio and camera
    lines; missing lines before it are offered disabled) and mark the camera ``main``."""
    screen = call.screen
    if screen is None:
        return
    if len(offer.media) > screen.index:
        logger.info("call %s: the screen's m= line %d is taken; not offered", call.id,
                    screen.index)
        return
    formats = [str(c.payload_type) for c in call.phone.video.capabilities()
               if c.payload_type is not None][:1] or ["0"]
    proto = offer.media[0].proto if offer.media else "RTP/AVP"
    while len(offer.media) < screen.index:
        offer.media.append(MediaDescription(kind="video", port=0, proto=proto,
                                            formats=list(formats)))
    line = screen.offer_line(direction, offer)
    offer.media.append(line)
    if line.port != 0:
        for other in offer.media[:screen.index]:
            if other.kind == "video" and other.port != 0:
                _set_content(other, MAIN)


def video_capabilities(call: Call) -> list[CodecCapability]:
    """The video rows an answer may accept: the phone's, when the call has video or a
    screen stream."""
    if call.video is None and call.screen is None:
        return []
    return call.phone.video.capabilities()


def answer_ports(call: Call, offer: SessionDescription, audio_port: int
                 ) -> int | Mapping[str, int] | Mapping[str | int, int]:
    """``negotiate_answer``'s ports: by kind, or by index when the offer has a slides
    line (the camera takes the first other video line, the screen the slides one)."""
    screen = call.screen
    slides = slides_index(offer)
    if slides is None:
        if call.video is None:
            return audio_port
        return {"audio": audio_port, "video": call.video.local_port}
    ports: dict[str | int, int] = {"audio": audio_port}
    if call.video is not None and call.video.enabled:
        camera = next((i for i, m in enumerate(offer.media)
                       if m.kind == "video" and i != slides and not _is_slides(m)), None)
        if camera is not None:
            ports[camera] = call.video.local_port
    if screen is not None and screen.enabled and not screen.session.closed:
        screen.index = slides
        ports[slides] = screen.local_port
    return ports


def split(call: Call, streams: Sequence[NegotiatedMedia], *, start: bool
          ) -> list[NegotiatedMedia]:
    """Configure the screen with its stream of ``streams`` (``start``: the call is up,
    send at once); the others (the camera's) are returned."""
    screen = call.screen
    if screen is None:
        return list(streams)
    if screen.enabled and not screen.session.closed:
        screen.configure(streams, start=start)
    _attach_window(call)
    return [s for s in streams if s.index != screen.index]


def mark_answer(call: Call, offer: SessionDescription, answer: SessionDescription) -> None:
    """Echo the offer's ``a=content`` on the lines our answer accepts (RFC 4796) and
    remember whether the peer sends its screen."""
    for theirs, ours in zip(offer.media, answer.media, strict=False):
        value = content_of(theirs)
        if value is not None and ours.port != 0:
            _set_content(ours, value)
    screen = call.screen
    if screen is not None and screen.index < len(offer.media):
        line = offer.media[screen.index]
        screen.peer_shares = line.port != 0 and line.direction in (Direction.SENDRECV,
                                                                      Direction.SENDONLY)


def note_answer(call: Call, answer: SessionDescription) -> None:
    """Remember whether the peer's answer sends on the screen line."""
    screen = call.screen
    if screen is not None and screen.index < len(answer.media):
        line = answer.media[screen.index]
        screen.peer_shares = line.port != 0 and line.direction in (Direction.SENDRECV,
                                                                      Direction.SENDONLY)


def open_for_offer(call: Call, offer: SessionDescription, then: Callable[[], None]) -> bool:
    """When ``offer`` adds a slides line and the call has no screen stream to take it,
    open one and run ``then`` (answer again) once it is bound; True when it did."""
    slides = slides_index(offer)
    screen = call.screen
    if slides is None or (screen is not None and screen.enabled
                          and not screen.session.closed):
        return False
    async def opening() -> None:
        try:
            call.screen = await CallScreen.open_screen(call.phone, slides)
        except Exception:
            logger.exception("call %s: cannot open a screen stream; refusing it", call.id)
            call.screen = None
            _refused.add(call)
        then()

    if call in _refused:
        return False
    call.phone.spawn(opening())
    return True


_refused: weakref.WeakSet[Call] = weakref.WeakSet()


def start(call: Call) -> None:
    if call.screen is not None:
        call.screen.start()


def end(call: Call, reason: str) -> None:
    if call.screen is not None:
        call.screen.abort(reason)


__all__ = ["SCREEN_INDEX", "CallScreen", "content_of", "exists", "set_screen_taps",
           "set_screen_window", "slides_index"]
