"""The manual's stream I/O functions of ``PortSIPLib``: the raw audio and RTP callbacks,
PCM sent instead of the microphone, and RTP keep-alive.

Knows: ``voipkit.api.stream_io`` (``StreamIO``, ``set_rtp_keepalive``) and the
vendor enums. Must not know: anything below ``api``. ``PortSIPLib`` inherits
``StreamIOFunctions`` and its plumbing (``_call``, ``_with_call``,
``_on_phone``, ``_post``).

Callbacks. ``onAudioRawCallback(sessionId, callbackType, data, dataLength,
samplingFreqHz)`` gets each 16-bit little-endian mono frame the call encodes
(``callbackType`` DIRECTION_SEND) or plays (DIRECTION_RECV), one per ptime;
``onRTPPacketCallback(sessionId, mediaType=0, direction, RTPPacket, packetSize)``
each plain RTP packet sent (DIRECTION_SEND) or accepted (DIRECTION_RECV). They
are delivered in order on the callback thread, like every other callback, so
they may call the library (the vendor's rule "don't call the SDK from these"
does not bind here, but a slow handler delays the callbacks behind it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from voipkit.api import Call, Phone
from voipkit.api.stream_io import RECV, SEND, StreamIO, set_rtp_keepalive
from voipkit.compat.portsip.codes import ErrorCode
from voipkit.compat.portsip.enums import DIRECTION_MODE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from voipkit.compat.portsip.callbacks import SIPCallbackEvents

logger = logging.getLogger(__name__)

_DIRECTIONS = {DIRECTION_MODE.DIRECTION_NONE: (False, False),
               DIRECTION_MODE.DIRECTION_INACTIVE: (False, False),
               DIRECTION_MODE.DIRECTION_SEND: (True, False),
               DIRECTION_MODE.DIRECTION_RECV: (False, True),
               DIRECTION_MODE.DIRECTION_SEND_RECV: (True, True)}
_CODES = {SEND: int(DIRECTION_MODE.DIRECTION_SEND), RECV: int(DIRECTION_MODE.DIRECTION_RECV)}
_AUDIO = 0
"mediaType 0: audio (1 video and 2 screen are the video issue's)."


class StreamIOFunctions:
    """Stream callbacks, PCM input and RTP keep-alive, mixed into ``PortSIPLib``."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        _callbacks: SIPCallbackEvents

        def _call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
                  timeout: float = 30.0) -> int: ...
        def _on_phone(self, action: Callable[[Phone], object]) -> int: ...
        def _with_call(self, session_id: int, action: Callable[[Call], Any]) -> int: ...
        def _post(self, callback: Callable[..., Any], *args: Any) -> None: ...

    # --- RTP packets, audio stream callback functions --------------------------------------

    def enableRtpCallback(self, sessionId: int, mediaType: int, directionMode: int) -> int:
        """Raise onRTPPacketCallback for the call's audio RTP packets sent (DIRECTION_SEND),
        received (DIRECTION_RECV) or both (DIRECTION_SEND_RECV); DIRECTION_NONE stops it.
        ``mediaType`` must be 0 (audio)."""
        if mediaType != _AUDIO or isinstance(mediaType, bool):
            logger.info("enableRtpCallback: mediaType %r; voipkit has audio (0) only",
                        mediaType)
            return ErrorCode.INVALID_ARGUMENT
        directions = _direction("enableRtpCallback", directionMode)
        if directions is None:
            return ErrorCode.INVALID_ARGUMENT
        send, recv = directions
        return self._with_call(sessionId, lambda call: StreamIO.of(call).set_rtp_handler(
            self._rtp_packet, send=send, recv=recv))

    def _rtp_packet(self, call: Call, direction: str, packet: bytes) -> None:
        self._post(self._callbacks.onRTPPacketCallback, call.id, _AUDIO, _CODES[direction],
                   packet, len(packet))

    def enableAudioStreamCallback(self, sessionId: int, enable: bool, direction: int) -> int:
        """Raise onAudioRawCallback with each frame the call sends (DIRECTION_SEND),
        receives (DIRECTION_RECV) or both (DIRECTION_SEND_RECV); ``enable`` false stops it."""
        directions = _direction("enableAudioStreamCallback", direction)
        if directions is None:
            return ErrorCode.INVALID_ARGUMENT
        send, recv = directions if enable else (False, False)
        return self._with_call(sessionId, lambda call: StreamIO.of(call).set_audio_handler(
            self._audio_frame, send=send, recv=recv))

    def _audio_frame(self, call: Call, direction: str, frame: npt.NDArray[np.int16],
                     rate: int) -> None:
        data = frame.astype("<i2", copy=False).tobytes()
        self._post(self._callbacks.onAudioRawCallback, call.id, _CODES[direction], data,
                   len(data), rate)

    # --- Send audio stream functions -------------------------------------------------------

    def enableSendPcmStreamToRemote(self, sessionId: int, state: bool,
                                    streamSamplesPerSec: int) -> int:
        """Send PCM given to sendPcmStreamToRemote (16-bit mono at ``streamSamplesPerSec``,
        e.g. 8000 or 16000; resampled to the call's rate) instead of the microphone;
        ``state`` false brings the microphone back."""
        if not state:
            return self._with_call(sessionId, lambda call: StreamIO.of(call)
                                   .disable_pcm_input())
        return self._with_call(sessionId, lambda call: StreamIO.of(call).enable_pcm_input(
            streamSamplesPerSec))

    def sendPcmStreamToRemote(self, sessionId: int, data: bytes, dataLength: int) -> int:
        """Queue ``dataLength`` bytes of 16-bit little-endian mono PCM for sending.

        The buffer holds 100 ms: what does not fit is dropped (counted in getStatistics'
        ``pcm_input.dropped``), so send 20 ms every 20 ms, as the manual advises.
        INVALID_STATE before enableSendPcmStreamToRemote.
        """
        if isinstance(dataLength, bool) or not isinstance(dataLength, int) \
                or not 0 <= dataLength <= len(data) or dataLength % 2:
            logger.info("sendPcmStreamToRemote: dataLength %r is not an even size within "
                        "the %d bytes given", dataLength, len(data))
            return ErrorCode.INVALID_ARGUMENT
        chunk = bytes(memoryview(data)[:dataLength])
        return self._with_call(sessionId, lambda call: StreamIO.of(call).push_pcm(chunk))

    # --- RTP keep-alive ----------------------------------------------------------------------

    def setRtpKeepAlive(self, state: bool, keepAlivePayloadType: int,
                        deltaTransmitTimeMS: int) -> int:
        """Send an RTP keep-alive (RFC 6263 §4.6: an empty packet of an unnegotiated
        payload type, usually 126) after ``deltaTransmitTimeMS`` without RTP, in every
        call; ``state`` false stops them."""
        if not state:
            return self._on_phone(lambda phone: set_rtp_keepalive(phone, None))
        if isinstance(deltaTransmitTimeMS, bool) or not isinstance(deltaTransmitTimeMS, int) \
                or deltaTransmitTimeMS <= 0:
            logger.info("setRtpKeepAlive: deltaTransmitTimeMS %r is not a positive integer",
                        deltaTransmitTimeMS)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: set_rtp_keepalive(
            phone, keepAlivePayloadType, deltaTransmitTimeMS / 1000))


def _direction(what: str, value: int) -> tuple[bool, bool] | None:
    try:
        mode = DIRECTION_MODE(value)
    except ValueError:
        mode = None
    if mode is None or isinstance(value, bool):
        logger.info("%s: %r is not a DIRECTION_MODE", what, value)
        return None
    return _DIRECTIONS[mode]


__all__ = ["StreamIOFunctions"]
