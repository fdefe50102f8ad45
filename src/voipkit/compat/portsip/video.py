"""The manual's video functions of ``PortSIPLib``: video codecs, size, frame rate, bit
rate, MTU, NACK, sending video, pushing I420 frames, the remote video "window" and the
raw video stream callback.

Knows: ``voipkit.api`` (``Phone.video`` settings, ``Call.video``) and the vendor enums.
Must not know: anything below ``api``. ``PortSIPLib`` inherits ``VideoFunctions``; the
methods use its plumbing (``_call``, ``_with_call``, ``_on_phone``, ``_post``) so they
marshal to the I/O loop and return 0 or a negative ``ErrorCode``.

Windows. The manual passes native window handles (``IntPtr``). voipkit takes a *frame
sink* instead: any callable ``window(frame)`` receiving a
``voipkit.media.video.VideoFrame`` (I420 numpy, ``.width``, ``.height``,
``.to_i420()``). It is called on the facade's callback thread, like the callbacks, so
it may call back into the library. ``None`` detaches it.

Codecs. H.264 (VIDEO_CODEC_H264, RFC 6184), VP8 (VIDEO_CODEC_VP8, RFC 7741) and VP9
(VIDEO_CODEC_VP9, RFC 9628, added by addVideoCodec) run; H.263 and I420 are refused with
INVALID_ARGUMENT (docs/codecs.md says why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from voipkit.api import Call, Phone
from voipkit.api.errors import InvalidStateError
from voipkit.api.video import CallVideo, VideoFrame, offered_video_codecs, runs_video_codec
from voipkit.api.video_devices import capture_devices, set_video_device
from voipkit.compat.portsip.codes import ErrorCode
from voipkit.compat.portsip.enums import DIRECTION_MODE, VIDEOCODEC_TYPE
from voipkit.compat.portsip.windows import RawFrameFeeds, WindowFeed, WindowFeeds

if TYPE_CHECKING:
    from voipkit.compat.portsip.callbacks import SIPCallbackEvents

logger = logging.getLogger(__name__)

#: VIDEOCODEC_TYPE -> the rtpmap name of a codec voipkit runs.
VIDEO_CODEC_NAMES: dict[VIDEOCODEC_TYPE, str] = {
    VIDEOCODEC_TYPE.VIDEO_CODEC_H264: "H264",
    VIDEOCODEC_TYPE.VIDEO_CODEC_VP8: "VP8",
    VIDEOCODEC_TYPE.VIDEO_CODEC_VP9: "VP9",
}
_SEND = int(DIRECTION_MODE.DIRECTION_SEND)
_RECV = int(DIRECTION_MODE.DIRECTION_RECV)
_DIRECTIONS = {DIRECTION_MODE.DIRECTION_NONE: (False, False),
               DIRECTION_MODE.DIRECTION_INACTIVE: (False, False),
               DIRECTION_MODE.DIRECTION_SEND: (True, False),
               DIRECTION_MODE.DIRECTION_RECV: (False, True),
               DIRECTION_MODE.DIRECTION_SEND_RECV: (True, True)}

Window = Callable[[VideoFrame], object]
#: (unique id, name) of the virtual camera, the facade's device 0.
VIRTUAL_CAMERA_ID = ("voipkit:pattern", "voipkit test pattern")


def _cameras() -> list[tuple[str, str]]:
    """(unique id, name) of the cameras: the virtual one, then the V4L2 ones."""
    return [VIRTUAL_CAMERA_ID, *((d.unique_id, d.name) for d in capture_devices())]


class _Buffer(Protocol):
    """A StringBuilder-like output buffer (``.value``)."""

    value: str


def _video_codec(what: str, value: int) -> str | None:
    try:
        codec = VIDEOCODEC_TYPE(value)
    except ValueError:
        logger.info("%s: %r is not a VIDEOCODEC_TYPE", what, value)
        return None
    name = VIDEO_CODEC_NAMES.get(codec)
    if name is None or not runs_video_codec(name):
        logger.info("%s: %s cannot be used: voipkit sends H.264, VP8 and VP9 only "
                    "(docs/codecs.md)", what, codec.name)
        return None
    return name


def _nowhere(*_: Any) -> None:
    """Where window frames go before initialize: nowhere."""


def _call_video(call: Call) -> CallVideo:
    if call.video is None:
        raise InvalidStateError(f"call {call.id} has no video (call or answer it with "
                                "videoCall=True)")
    return call.video


class VideoFunctions:
    """Video functions of the manual, mixed into ``PortSIPLib``."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        _callbacks: SIPCallbackEvents

        def _call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
                  timeout: float = 30.0) -> int: ...
        def _require_phone(self) -> Phone: ...
        def _on_phone(self, action: Callable[[Phone], object]) -> int: ...
        def _with_call(self, session_id: int, action: Callable[[Call], Any]) -> int: ...
        def _post(self, callback: Callable[..., Any], *args: Any) -> None: ...

    def _video_enabled(self) -> bool:
        """Whether a call may carry video: at least one video codec is enabled."""
        phone = self._phone_or_none()
        return phone is not None and bool(phone.video.registry())

    def _phone_or_none(self) -> Phone | None:
        try:
            return self._require_phone()
        except Exception:
            return None

    # --- Audio and video codecs functions -------------------------------------------------

    def addVideoCodec(self, codecType: int) -> int:
        """Offer ``codecType`` too, after the video codecs already enabled."""
        name = _video_codec("addVideoCodec", codecType)
        if name is None:
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: phone.video.codecs.append(name)
                              if name not in phone.video.codecs else None)

    def clearVideoCodec(self) -> int:
        """Enable no video codec: calls then carry audio only."""
        return self._on_phone(lambda phone: phone.video.codecs.clear())

    def isVideoCodecEmpty(self) -> bool:
        """True when no video codec is enabled (or the lib is not initialized)."""
        return not self._video_enabled()

    def setVideoCodecPayloadType(self, codecType: int, payloadType: int) -> int:
        """The dynamic payload type (96-127) ``codecType`` is offered with."""
        name = _video_codec("setVideoCodecPayloadType", codecType)
        if name is None or isinstance(payloadType, bool) or not 96 <= payloadType <= 127:
            if name is not None:
                logger.info("setVideoCodecPayloadType: %r is not a dynamic payload type "
                            "(96-127)", payloadType)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: phone.video.payload_types.__setitem__(
            name, int(payloadType)))

    def setVideoCodecParameter(self, codecType: int, parameter: str) -> int:
        """The codec's a=fmtp, e.g. ``"profile-level-id=420033; packetization-mode=0"``
        (``""`` restores the default)."""
        name = _video_codec("setVideoCodecParameter", codecType)
        if name is None:
            return ErrorCode.INVALID_ARGUMENT

        def apply(phone: Phone) -> None:
            if parameter.strip():
                phone.video.codec_parameters[name] = parameter.replace("; ", ";").strip()
            else:
                phone.video.codec_parameters.pop(name, None)
        return self._on_phone(apply)

    # --- video settings -------------------------------------------------------------------

    def setVideoResolution(self, width: int, height: int) -> int:
        """The size of the video new calls send (even numbers, at most 1920x1088)."""
        return self._on_phone(lambda phone: phone.video.set_resolution(width, height))

    def setVideoBitrate(self, sessionId: int, bitrateKbps: int) -> int:
        """The call's video bit rate in kb/s, applied at once."""
        if isinstance(bitrateKbps, bool) or not 10 <= bitrateKbps <= 20000:
            logger.info("setVideoBitrate: %r kb/s is outside 10-20000", bitrateKbps)
            return ErrorCode.INVALID_ARGUMENT
        return self._with_call(sessionId,
                               lambda call: _call_video(call).set_bitrate(bitrateKbps * 1000))

    def setVideoFrameRate(self, sessionId: int, frameRate: int) -> int:
        """The call's frame rate, 5-30 (the manual's range), applied at once."""
        if isinstance(frameRate, bool) or not 5 <= frameRate <= 30:
            logger.info("setVideoFrameRate: %r is outside 5-30", frameRate)
            return ErrorCode.INVALID_ARGUMENT
        return self._with_call(sessionId,
                               lambda call: _call_video(call).set_frame_rate(frameRate))

    def setVideoMTU(self, mtu: int) -> int:
        """The largest video RTP packet for new calls: 512-65507; "other value will be
        modified to the default 1450" (the manual)."""
        return self._on_phone(lambda phone: phone.video.set_mtu(int(mtu)))

    def setVideoNackStatus(self, state: bool) -> int:
        """Send and honour RTCP generic NACKs (RFC 4585) on new calls' video."""
        return self._on_phone(lambda phone: setattr(phone.video, "nack", bool(state)))

    def sendVideo(self, sessionId: int, sendState: bool) -> int:
        """Start (true) or stop (false) sending the call's video."""
        return self._with_call(sessionId, lambda call: _call_video(call).mute(
            outgoing=not sendState))

    # --- windows, pushed frames and raw callbacks -----------------------------------------

    def setRemoteVideoWindow(self, sessionId: int, remoteVideoWindow: Window | None) -> int:
        """Show the peer's video in ``remoteVideoWindow``: a callable taking each decoded
        ``VideoFrame`` (called on the callback thread); None detaches the window."""
        if remoteVideoWindow is not None and not callable(remoteVideoWindow):
            logger.info("setRemoteVideoWindow: the window must be a callable frame sink")
            return ErrorCode.INVALID_ARGUMENT

        def attach(call: Call) -> None:
            window = remoteVideoWindow
            _call_video(call).set_window(None if window is None else self._window_sink(window))
        return self._with_call(sessionId, attach)

    def enableSendVideoStreamToRemote(self, sessionId: int, state: bool) -> int:
        """Send frames from ``sendVideoStreamToRemote`` instead of the built-in camera
        (state false: back to the built-in source)."""
        return self._with_call(sessionId,
                               lambda call: _call_video(call).use_pushed_frames(bool(state)))

    def sendVideoStreamToRemote(self, sessionId: int, data: bytes, dataLength: int,
                                width: int, height: int) -> int:
        """Send one I420 frame (``width`` x ``height``, even); it is repeated until the
        next one. INVALID_STATE unless enableSendVideoStreamToRemote(true) came first."""
        try:
            frame = VideoFrame.from_i420(bytes(data[:dataLength]), width, height)
        except (ValueError, TypeError) as exc:
            logger.info("sendVideoStreamToRemote: %s", exc)
            return ErrorCode.INVALID_ARGUMENT

        def push(call: Call) -> None:
            video = _call_video(call)
            if not video.pushing:
                raise InvalidStateError("enableSendVideoStreamToRemote(true) was not called")
            video.push(frame)
        return self._with_call(sessionId, push)

    def enableVideoStreamCallback(self, sessionId: int, direction: int) -> int:
        """Raise onVideoRawCallback with each frame sent (DIRECTION_SEND), received
        (DIRECTION_RECV) or both (DIRECTION_SEND_RECV); DIRECTION_NONE stops it."""
        try:
            send, recv = _DIRECTIONS[DIRECTION_MODE(direction)]
        except ValueError:
            logger.info("enableVideoStreamCallback: %r is not a DIRECTION_MODE", direction)
            return ErrorCode.INVALID_ARGUMENT

        def apply(call: Call) -> None:
            _call_video(call).set_taps(self._raw_sink(call.id, _SEND) if send else None,
                                       self._raw_sink(call.id, _RECV) if recv else None)
        return self._with_call(sessionId, apply)

    def _window_sink(self, window: Window) -> WindowFeed:
        """What a call or the phone feeds for ``window``: its bounded queue to the
        callback thread (compat/portsip/windows.py), one per window object."""
        bridge = getattr(self, "_events", None)
        feeds: WindowFeeds | None = self.__dict__.get("_window_feeds")
        if feeds is None or feeds.owner is not bridge:
            feeds = WindowFeeds(bridge.post if bridge is not None else _nowhere)
            feeds.owner = bridge
            self.__dict__["_window_feeds"] = feeds
        return feeds.feed(window)

    def window_drops(self, window: object) -> int:
        """Frames dropped because ``window`` fell behind (its queue holds the newest
        two); 0 for a window never attached since initialize."""
        feeds: WindowFeeds | None = self.__dict__.get("_window_feeds")
        return feeds.dropped(window) if feeds is not None else 0

    def _raw_sink(self, session_id: int, kind: int,
                  stream: str = "video") -> Callable[[VideoFrame], None]:
        """onVideoRawCallback for one session and direction, behind a bounded queue
        (compat/portsip/windows.py: the oldest frames go when the application lags)."""
        def deliver(frame: VideoFrame) -> None:
            data = frame.to_i420()
            self._callbacks.onVideoRawCallback(session_id, kind, frame.width, frame.height,
                                               data, len(data))
        return self._raw_feeds().feed((stream, session_id, kind), deliver, self._post)

    def _raw_feeds(self) -> RawFrameFeeds:
        feeds: RawFrameFeeds | None = self.__dict__.get("_raw_video_feeds")
        if feeds is None:
            feeds = self.__dict__["_raw_video_feeds"] = RawFrameFeeds()
        return feeds

    def raw_video_drops(self, sessionId: int) -> int:
        """Frames of ``sessionId`` dropped before onVideoRawCallback because the
        application handled them slower than they came (up to eight wait per stream
        and direction); 0 when none."""
        feeds: RawFrameFeeds | None = self.__dict__.get("_raw_video_feeds")
        return feeds.dropped(sessionId) if feeds is not None else 0

    # --- devices, orientation, local preview, QoS, RTCP bandwidth -------------------------

    def getNumOfVideoCaptureDevices(self) -> int:
        """How many cameras calls can send from: the virtual camera (device 0: the test
        pattern, or the video file it loops) plus the V4L2 cameras (devices 1 on)."""
        return self._call(self._count_cameras)

    async def _count_cameras(self) -> int:
        self._require_phone()
        return len(_cameras())

    def getVideoCaptureDeviceName(self, deviceIndex: int, uniqueIdUTF8: _Buffer,
                                  uniqueIdUTF8Length: int, deviceNameUTF8: _Buffer,
                                  deviceNameUTF8Length: int) -> int:
        """The unique id and name of camera ``deviceIndex`` (-1: the default one, the
        virtual camera; a V4L2 camera's unique id is its device node)."""
        cameras = _cameras()
        if (isinstance(deviceIndex, bool) or not isinstance(deviceIndex, int)
                or not -1 <= deviceIndex < len(cameras)):
            logger.info("getVideoCaptureDeviceName: no camera %r (there are %d)",
                        deviceIndex, len(cameras))
            return ErrorCode.INVALID_ARGUMENT
        unique, name = cameras[max(deviceIndex, 0)]
        if (isinstance(deviceNameUTF8Length, bool) or not isinstance(deviceNameUTF8Length, int)
                or deviceNameUTF8Length < 128):
            logger.info("getVideoCaptureDeviceName: deviceNameUTF8Length %r is less than 128 "
                        "(the manual)", deviceNameUTF8Length)
            return ErrorCode.INVALID_ARGUMENT
        for text, size in ((unique, uniqueIdUTF8Length), (name, deviceNameUTF8Length)):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                return ErrorCode.INVALID_ARGUMENT
            if len(text.encode("utf-8")) + 1 > size:
                logger.info("getVideoCaptureDeviceName: %r does not fit %d bytes", text, size)
                return ErrorCode.BUFFER_TOO_SMALL
        return self._call(self._name_camera, unique, name, uniqueIdUTF8, deviceNameUTF8)

    async def _name_camera(self, unique: str, name: str, unique_buffer: _Buffer,
                           name_buffer: _Buffer) -> int:
        self._require_phone()
        unique_buffer.value = unique
        name_buffer.value = name
        return 0

    def setVideoDeviceId(self, deviceId: int) -> int:
        """Choose the camera of new calls: 0 (or -1, the default) is the virtual camera,
        1 on the V4L2 cameras of getVideoCaptureDeviceName (a camera that fails to open
        when a call starts is logged, and that call sends the virtual camera)."""
        if isinstance(deviceId, bool) or not isinstance(deviceId, int) or deviceId < -1:
            logger.info("setVideoDeviceId: no camera %r", deviceId)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: set_video_device(
            phone, deviceId - 1 if deviceId >= 1 else None))

    def setVideoOrientation(self, rotation: int) -> int:
        """Turn the video sent clockwise by 0, 90, 180 or 270 degrees (new calls and the
        calls already sending video)."""
        def apply(phone: Phone) -> None:
            phone.video.set_rotation(rotation)
            for call in phone.calls.values():
                if call.video is not None:
                    call.video.session.rotation = rotation
        return self._on_phone(apply)

    def displayLocalVideo(self, state: bool, mirror: bool,
                          localVideoWindow: Window | None) -> int:
        """Show the video the calls send in ``localVideoWindow`` (a frame sink, called on
        the callback thread), mirrored if ``mirror``; ``state`` false stops it."""
        if state and (localVideoWindow is None or not callable(localVideoWindow)):
            logger.info("displayLocalVideo: the window must be a callable frame sink")
            return ErrorCode.INVALID_ARGUMENT

        def apply(phone: Phone) -> None:
            window = localVideoWindow
            phone.video.local_window = (
                self._window_sink(window) if state and window is not None else None)
            phone.video.local_mirror = bool(mirror)
        return self._on_phone(apply)

    def enableVideoQos(self, state: bool) -> int:
        """DSCP 34 (true) or 0 (false) on the video sockets of new calls (the manual)."""
        return self._on_phone(lambda phone: setattr(phone.video, "dscp",
                                                    34 if state else None))

    def setVideoRtcpBandwidth(self, sessionId: int, BitsRR: int, BitsRS: int,
                              KBitsAS: int) -> int:
        """RFC 3556 b=RR / b=RS (bits/s) and b=AS (kb/s) on the call's video line in its
        next offer or answer."""
        return self._with_call(sessionId, lambda call: _call_video(call).set_rtcp_bandwidth(
            BitsRR, BitsRS, KBitsAS))

    def _video_names(self, message: str) -> str:
        """videoCodecNames of a callback: the codecs of the message's first active video
        m= line that we have enabled, in our order, joined with ``#``."""
        phone = self._phone_or_none()
        if phone is None:
            return ""
        return "#".join(offered_video_codecs(phone.video, message.partition("\r\n\r\n")[2]))

    def _video_state(self, call: Call) -> tuple[str, bool]:
        """(videoCodecNames, existsVideo) of what the call negotiated last: the agreed
        video codecs we enabled, in our order, joined with ``#``."""
        video = call.video
        if video is None or not video.active or video.negotiated is None:
            return "", False
        agreed = {rm.encoding.upper() for rm in video.negotiated.payload_types.values()}
        phone = self._phone_or_none()
        order = phone.video.codecs if phone is not None else []
        return "#".join(n for n in order if n.upper() in agreed), True

    def _check_video_call(self, video: bool, what: str) -> bool:
        """Whether a call asked for with ``videoCall`` gets video (a video codec is
        enabled); logs when it falls back to audio only."""
        if video and not self._video_enabled():
            logger.info("%s: videoCall=True but no video codec is enabled "
                        "(clearVideoCodec): the call is audio only", what)
            return False
        return video


__all__ = ["VIDEO_CODEC_NAMES", "VideoFunctions"]
