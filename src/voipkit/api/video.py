"""Video in calls: the phone's video settings and one call's video stream.

Knows: the phone's video codec list and its order (the manual's addVideoCodec /
clearVideoCodec / setVideoCodecPayloadType / setVideoCodecParameter), the capture size,
frame rate, bit rate and MTU (setVideoResolution / setVideoFrameRate / setVideoBitrate /
setVideoMTU), how a call's video m= line is offered beside the audio one (same
protocol; fresh SDES keys when the audio line has keys), and the ``aio.VideoSession``
that carries it. Must not know: SIP messages or the facade's integer codes; ``Call``
decides when to offer, answer, start and close (it calls into ``CallVideo``).

The "window" of the manual's video functions is a frame sink here: any callable taking a
``voipkit.media.video.VideoFrame`` (I420). ``CallVideo.add_sink`` attaches one for the
frames received from the peer. ``VideoFileSink(path)`` is a ready one that writes the
frames to an MP4, MKV, AVI or Y4M file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from voipkit.aio.video_session import FrameSink, PushedFrames, VideoSession
from voipkit.api.config import MediaConfig
from voipkit.api.errors import ConfigurationError
from voipkit.api.video_devices import camera_source
from voipkit.media.quality import bandwidth_lines
from voipkit.media.video import (
    ALL_VIDEO_CODECS,
    DEFAULT_MTU,
    DEFAULT_VIDEO_CODECS,
    MAX_MTU,
    MIN_MTU,
    VideoCodecRegistry,
    VideoEncoderSettings,
    VideoFileSink,
    VideoFrame,
    mirror,
)
from voipkit.sdp import (
    CodecCapability,
    Direction,
    MediaDescription,
    MediaOffer,
    NegotiatedMedia,
    SdpError,
    SessionDescription,
    new_crypto,
    offer_media,
)
from voipkit.sdp.model import Bandwidth, parse_fmtp_params

if TYPE_CHECKING:
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

__all__ = ["CallVideo", "VideoFileSink", "VideoFrame", "VideoSettings", "offered_video_codecs",
           "offers_video", "runs_video_codec"]


@dataclass(slots=True)
class VideoSettings:
    """The phone's video configuration, read when a call's video is set up.

    ``codecs`` are names in offer order (only those this PyAV build runs are used);
    ``payload_types`` and ``codec_parameters`` (fmtp text) are keyed by codec name.
    """

    codecs: list[str] = field(default_factory=lambda: [s.name for s in DEFAULT_VIDEO_CODECS])
    payload_types: dict[str, int] = field(default_factory=dict)
    codec_parameters: dict[str, str] = field(default_factory=dict)
    width: int = 640
    height: int = 480
    frame_rate: int = 15
    bitrate: int = 500_000
    mtu: int = DEFAULT_MTU
    nack: bool = True
    dscp: int | None = None
    "DiffServ code point of new calls' video sockets (enableVideoQos: 34, AF41)."
    rotation: int = 0
    "Degrees the sent video is turned clockwise (setVideoOrientation)."
    local_window: FrameSink | None = None
    "Sees every frame the phone's calls send (displayLocalVideo), mirrored if asked."
    local_mirror: bool = False

    def set_mtu(self, mtu: int) -> None:
        """The manual's setVideoMTU: 512-65507; "other value will be modified to the
        default 1450"."""
        self.mtu = mtu if MIN_MTU <= mtu <= MAX_MTU else DEFAULT_MTU

    def set_frame_rate(self, frame_rate: int) -> None:
        """5-30 frames per second (the manual's setVideoFrameRate range)."""
        if not 5 <= frame_rate <= 30:
            raise ConfigurationError(f"video frame rate {frame_rate} is outside 5-30")
        self.frame_rate = frame_rate

    def set_resolution(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2 or width * height > 1920 * 1088:
            raise ConfigurationError(f"video resolution {width}x{height} must be even and "
                                     "at most 1920x1088")
        self.width, self.height = width, height

    def set_rotation(self, degrees: int) -> None:
        if degrees not in (0, 90, 180, 270):
            raise ConfigurationError(f"video rotation {degrees} is not 0, 90, 180 or 270")
        self.rotation = degrees

    def set_bitrate(self, bitrate: int) -> None:
        if not 10_000 <= bitrate <= 20_000_000:
            raise ConfigurationError(f"video bitrate {bitrate} bit/s is outside 10k-20M")
        self.bitrate = bitrate

    def encoder_settings(self) -> VideoEncoderSettings:
        return VideoEncoderSettings(width=self.width, height=self.height,
                                    frame_rate=self.frame_rate, bitrate=self.bitrate,
                                    mtu=self.mtu)

    def registry(self) -> VideoCodecRegistry:
        """The configured rows in preference order (rows this build cannot run are out)."""
        by_name = {spec.name.upper(): spec for spec in ALL_VIDEO_CODECS}
        return VideoCodecRegistry(by_name[n.upper()] for n in self.codecs
                                  if n.upper() in by_name)

    def capabilities(self) -> list[CodecCapability]:
        caps: list[CodecCapability] = []
        for spec in self.registry():
            rows = spec.capabilities(self.payload_types.get(spec.name))
            text = self.codec_parameters.get(spec.name)
            if text is not None:  # setVideoCodecParameter: exactly this fmtp, one row
                rows = [replace(rows[0], fmtp=parse_fmtp_params(text))]
            caps += rows
        return caps


def offers_video(offer: SessionDescription) -> bool:
    """Does ``offer`` carry an enabled video m= line?"""
    return any(m.kind == "video" and m.port != 0 for m in offer.media)


def runs_video_codec(name: str) -> bool:
    """Can this build send and receive the video codec ``name`` (H264, VP8)?"""
    return ALL_VIDEO_CODECS.find(name) is not None


def offered_video_codecs(settings: VideoSettings, sdp: str) -> list[str]:
    """The enabled codecs (in ``settings`` order) that the first active video m= line of
    ``sdp`` lists; [] for no video or an unparsable body."""
    if "m=video" not in sdp:
        return []
    try:
        description = SessionDescription.parse(sdp)
    except SdpError:
        return []
    lines = [m for m in description.media if m.kind == "video" and m.port != 0]
    if not lines:
        return []
    offered = {rm.encoding.upper() for rm in lines[0].rtpmaps.values()}
    return [spec.name for spec in settings.registry() if spec.name.upper() in offered]


class CallVideo:
    """One call's video: its session, what was negotiated, the frames in and out."""

    def __init__(self, phone: Phone, session: VideoSession) -> None:
        self._phone = phone
        self.session = session
        self.negotiated: NegotiatedMedia | None = None
        self.enabled = True
        "False once video was removed from the call (its m= line is then offered with port 0)."
        self._pushed: PushedFrames | None = None
        self._builtin_source = session.source
        self.bandwidths: list[Bandwidth] = []
        "b= lines of the video m= line (setVideoRtcpBandwidth), in offers and answers."
        session.rotation = phone.video.rotation
        session.sent_sinks.append(self._local_preview)
        self._window: FrameSink | None = None
        self._taps: tuple[FrameSink | None, FrameSink | None] = (None, None)

    @classmethod
    async def open(cls, phone: Phone) -> CallVideo:
        """Bind a video port pair from the phone's RTP range and apply its settings."""
        media = phone.config.media
        low, high = phone.rtp_port_range
        settings: VideoSettings = phone.video
        session = await VideoSession.open(phone.rtp_ip, (low, high), phone.ids,
                                          loop=phone.loop, registry=settings.registry(),
                                          symmetric=media.symmetric_rtp, dscp=settings.dscp)
        session.apply_settings(settings.encoder_settings())
        session.nack = settings.nack
        session.source = camera_source(phone, settings.width, settings.height,  # the camera
                                       settings.frame_rate, stop_when=lambda: session.closed)
        return cls(phone, session)

    @property
    def local_port(self) -> int:
        return self.session.local_port

    @property
    def active(self) -> bool:
        """Video was negotiated (the last offer/answer accepted a video stream)."""
        return self.negotiated is not None

    def offer_line(self, direction: Direction, offer: SessionDescription) -> MediaDescription:
        """The video m= line to add to ``offer`` (whose first line is the audio one);
        once video was removed, the line with port 0 (RFC 3264 §8.2: a stream is removed
        by setting its port to zero, and the m= lines never decrease)."""
        audio: Sequence[MediaDescription] = [m for m in offer.media if m.kind == "audio"]
        proto = audio[0].proto if audio else "RTP/AVP"
        if not self.enabled:
            formats = [str(c.payload_type) for c in self._phone.video.capabilities()
                       if c.payload_type is not None] or ["0"]
            return MediaDescription(kind="video", port=0, proto=proto, formats=formats[:1])
        crypto = []
        if audio and audio[0].crypto:
            previous = self.negotiated.local_crypto if self.negotiated is not None else None
            crypto = [previous] if previous is not None else [
                new_crypto(c.tag, c.suite, self._phone.ids) for c in audio[0].crypto]
        return offer_media(MediaOffer(
            capabilities=self._phone.video.capabilities(), port=self.session.local_port,
            kind="video", direction=direction, ptime=None, telephone_event=False,
            crypto=crypto, proto=proto, bandwidths=self.bandwidths))

    def set_rtcp_bandwidth(self, rr: int | None, rs: int | None,
                           as_kbps: int | None) -> None:
        """setVideoRtcpBandwidth: b=RR/RS (bits/s, RFC 3556) and b=AS (kb/s) on the video
        line of the call's next offer or answer (``Call.update()`` sends one now)."""
        MediaConfig(rtcp_bandwidth=(rr, rs, as_kbps))  # the audio setter's checks
        self.bandwidths = bandwidth_lines(as_kbps=as_kbps, rs=rs, rr=rr)

    def adjust_answer(self, answer: SessionDescription) -> None:
        """Give the video line of our ``answer`` its own b= lines."""
        for line in answer.media:
            if line.kind == "video" and line.port != 0:
                line.bandwidths = list(self.bandwidths)

    def _local_preview(self, frame: VideoFrame) -> None:
        window = self._phone.video.local_window
        if window is not None:
            window(mirror(frame) if self._phone.video.local_mirror else frame)

    def configure(self, streams: Sequence[NegotiatedMedia], *, start: bool = False) -> None:
        """Apply the video stream of an offer/answer exchange (none: video stops) and,
        with ``start`` (the call is already up), start sending."""
        video = [s for s in streams if s.kind == "video"] if self.enabled else []
        if not video:
            self.negotiated = None
            if not self.session.closed:
                self.session.stop()
            return
        self.session.configure(video[0])
        self.negotiated = video[0]
        if start:
            self.start()

    def disable(self) -> None:
        """Remove video from the call: stop and close the session; later offers carry
        the video line with port 0."""
        self.enabled = False
        self.negotiated = None
        self.session.abort("video removed")
        self._release_camera()

    def _release_camera(self) -> None:
        """Close the call's own camera (a looped video file, a V4L2 grab): the file or
        device is released now, not when the source is garbage collected."""
        close = getattr(self._builtin_source, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                logger.exception("closing the camera of a call's video failed")

    def start(self) -> None:
        if self.negotiated is not None and not self.session.closed:
            self.session.start()

    def add_sink(self, sink: FrameSink) -> None:
        """Receive the peer's decoded frames (the manual's remote video window)."""
        self.session.sinks.append(sink)

    def remove_sink(self, sink: FrameSink) -> None:
        if sink in self.session.sinks:
            self.session.sinks.remove(sink)

    def set_window(self, sink: FrameSink | None) -> None:
        """The one "remote video window" (setRemoteVideoWindow): replaces the previous
        one; None removes it. Other sinks are kept."""
        if self._window is not None:
            self.remove_sink(self._window)
        self._window = sink
        if sink is not None:
            self.add_sink(sink)

    def set_taps(self, sent: FrameSink | None, received: FrameSink | None) -> None:
        """The raw stream taps (enableVideoStreamCallback): one for frames sent, one for
        frames received; None removes either."""
        old_sent, old_received = self._taps
        if old_sent is not None:
            self.remove_sent_sink(old_sent)
        if old_received is not None:
            self.remove_sink(old_received)
        self._taps = (sent, received)
        if sent is not None:
            self.add_sent_sink(sent)
        if received is not None:
            self.add_sink(received)

    @property
    def pushing(self) -> bool:
        """Frames come from ``push`` (sendVideoStreamToRemote), not the built-in source."""
        return self._pushed is not None

    def use_pushed_frames(self, state: bool) -> None:
        """Send the frames given to ``push`` (state True: nothing is sent until the
        first one) or go back to the built-in source (False)."""
        if state and self._pushed is None:
            self._pushed = PushedFrames()
            self.session.source = self._pushed
        elif not state and self._pushed is not None:
            self._pushed = None
            self.session.source = self._builtin_source

    def push(self, frame: VideoFrame) -> None:
        """Send ``frame`` (and repeat it until the next) instead of the built-in source
        (sendVideoStreamToRemote)."""
        self.use_pushed_frames(True)
        assert self._pushed is not None
        self._pushed.push(frame)

    def mute(self, *, incoming: bool | None = None, outgoing: bool | None = None) -> None:
        if incoming is not None:
            self.session.receive_muted = incoming
        if outgoing is not None:
            self.session.send_muted = outgoing

    def set_bitrate(self, bitrate: int) -> None:
        """The call's video bit rate (bits per second), applied at once."""
        self.session.apply_settings(replace(self.session.settings, bitrate=bitrate))

    def set_frame_rate(self, frame_rate: int) -> None:
        """The call's frame rate (5-30), applied at once."""
        if not 5 <= frame_rate <= 30:
            raise ConfigurationError(f"video frame rate {frame_rate} is outside 5-30")
        self.session.apply_settings(replace(self.session.settings, frame_rate=frame_rate))

    def add_sent_sink(self, sink: FrameSink) -> None:
        """See each frame as it is sent (the manual's local video / send-side callback)."""
        self.session.sent_sinks.append(sink)

    def remove_sent_sink(self, sink: FrameSink) -> None:
        if sink in self.session.sent_sinks:
            self.session.sent_sinks.remove(sink)

    def statistics(self) -> dict[str, int | float | None]:
        return self.session.statistics()

    async def close(self, reason: str) -> None:
        await self.session.close(reason)
        self._release_camera()

    def abort(self, reason: str) -> None:
        self.session.abort(reason)
        self._release_camera()
