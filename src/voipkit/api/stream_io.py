"""Stream I/O of calls: raw audio and RTP taps, PCM sent instead of the microphone,
and RTP keep-alives.

Knows: ``Call`` (its ``audio`` session, its phone) and the tap / injection
surface of ``aio.media_session.AudioSession`` (``on_audio``, ``on_rtp``,
``enable_pcm_input``/``push_pcm``, ``set_rtp_keepalive``) and the phone's
``api.devices`` settings. Must not know: SIP, SDP, sockets.

PortSIP names (the manual): ``enableAudioStreamCallback`` is
``StreamIO.of(call).set_audio_handler(handler, send=, recv=)`` (raising
``onAudioRawCallback``); ``enableRtpCallback`` is ``set_rtp_handler`` (raising
``onRTPPacketCallback``); ``enableSendPcmStreamToRemote`` /
``sendPcmStreamToRemote`` are ``enable_pcm_input(rate)`` / ``push_pcm(data)``;
``setRtpKeepAlive`` is ``set_rtp_keepalive(phone, payload_type, interval)``.

A call's settings are kept here and applied when its audio session opens
(an incoming call is answered after the application turned a tap on), and
again to every new call's audio for the phone-wide keep-alive. Handlers run on
the phone's loop, once per frame (every ptime) or per packet: they must be quick.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from voipkit.aio.media_session import AudioSession
from voipkit.api import devices
from voipkit.api.errors import ConfigurationError, InvalidStateError
from voipkit.media.frames import Pcm
from voipkit.media.pcm_input import PcmInput

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone

AudioHandler = Callable[["Call", str, Pcm, int], None]
"""``(call, "send" | "recv", frame, sample rate)``."""
RtpHandler = Callable[["Call", str, bytes], None]
"""``(call, "send" | "recv", one plain RTP packet)``."""

SEND = "send"
RECV = "recv"


class StreamIO:
    """The stream I/O settings of one call; ``StreamIO.of(call)`` makes or finds it."""

    _of_call: ClassVar[weakref.WeakKeyDictionary[Call, StreamIO]] = weakref.WeakKeyDictionary()

    def __init__(self, call: Call) -> None:
        self._call = weakref.ref(call)
        self.audio_handler: AudioHandler | None = None
        self.audio_directions: frozenset[str] = frozenset()
        self.rtp_handler: RtpHandler | None = None
        self.rtp_directions: frozenset[str] = frozenset()
        self.pcm_rate: int | None = None
        "The rate of the PCM stream sent instead of the microphone (None: off)."

    @classmethod
    def of(cls, call: Call) -> StreamIO:
        found = cls._of_call.get(call)
        if found is None:
            found = cls._of_call[call] = StreamIO(call)
        return found

    @classmethod
    def existing(cls, call: Call) -> StreamIO | None:
        return cls._of_call.get(call)

    # -- settings ------------------------------------------------------------------------

    def set_audio_handler(self, handler: AudioHandler | None, *, send: bool = True,
                          recv: bool = True) -> None:
        """Call ``handler`` with each frame the call encodes (``send``) and / or plays
        (``recv``); None, or neither direction, turns it off."""
        directions = frozenset(d for d, on in ((SEND, send), (RECV, recv)) if on)
        self.audio_handler = handler if directions else None
        self.audio_directions = directions if handler is not None else frozenset()
        self._apply()

    def set_rtp_handler(self, handler: RtpHandler | None, *, send: bool = True,
                        recv: bool = True) -> None:
        """Call ``handler`` with each plain RTP packet the call sends (``send``) and / or
        accepts (``recv``); None, or neither direction, turns it off."""
        directions = frozenset(d for d, on in ((SEND, send), (RECV, recv)) if on)
        self.rtp_handler = handler if directions else None
        self.rtp_directions = directions if handler is not None else frozenset()
        self._apply()

    def enable_pcm_input(self, sample_rate: int) -> None:
        """Send PCM given to ``push_pcm`` (16-bit mono at ``sample_rate``) instead of the
        microphone, from now on and when the call's audio opens.

        Raises:
            ConfigurationError: the rate is not an integer 8000-192000.
        """
        try:
            PcmInput(sample_rate)  # validates the rate before it is kept
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self.pcm_rate = sample_rate
        self._apply()

    def disable_pcm_input(self) -> None:
        """Send the microphone again."""
        self.pcm_rate = None
        audio = self._audio()
        if audio is not None:
            audio.disable_pcm_input()

    @property
    def pcm_input(self) -> PcmInput | None:
        """The running PCM buffer (its ``dropped_samples``, ``underruns`` counters)."""
        audio = self._audio()
        return audio.pcm_input if audio is not None else None

    def push_pcm(self, data: bytes | bytearray | memoryview) -> int:
        """Queue PCM to send; returns the samples accepted (the rest of a push that
        overflows the 100 ms buffer is dropped and counted).

        Raises:
            InvalidStateError: the PCM stream is not enabled or the call has no audio.
            ConfigurationError: an odd number of bytes.
        """
        call = self._call()
        audio = self._audio()
        if self.pcm_rate is None:
            raise InvalidStateError("the PCM stream is not enabled (enableSendPcmStreamToRemote)")
        if audio is None or audio.pcm_input is None:
            raise InvalidStateError(f"call {call.id if call else '?'} has no audio stream")
        try:
            return audio.push_pcm(data)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

    # -- applying to the audio session ------------------------------------------------------

    def _audio(self) -> AudioSession | None:
        call = self._call()
        audio = call.audio if call is not None else None
        return audio if audio is not None and not audio.closed else None

    def _apply(self) -> None:
        audio = self._audio()
        if audio is not None:
            self.wire(audio)

    def wire(self, audio: AudioSession) -> None:
        """Put this call's taps and PCM stream on ``audio``."""
        call = self._call()
        if call is None:
            return
        handler, directions = self.audio_handler, self.audio_directions
        if handler is None:
            audio.on_audio = None
        else:
            def on_audio(direction: str, frame: Pcm, rate: int) -> None:
                if direction in directions:
                    handler(call, direction, frame, rate)
            audio.on_audio = on_audio
        rtp, rtp_directions = self.rtp_handler, self.rtp_directions
        if rtp is None:
            audio.on_rtp = None
        else:
            def on_rtp(direction: str, packet: bytes) -> None:
                if direction in rtp_directions:
                    rtp(call, direction, packet)
            audio.on_rtp = on_rtp
        if self.pcm_rate is not None:
            audio.enable_pcm_input(self.pcm_rate)
        elif audio.pcm_input is not None:
            audio.disable_pcm_input()


# --- RTP keep-alive (phone-wide) -------------------------------------------------------------

_keepalive: weakref.WeakKeyDictionary[Phone, tuple[int, float]] = weakref.WeakKeyDictionary()


def set_rtp_keepalive(phone: Phone, payload_type: int | None, interval: float = 30.0) -> None:
    """setRtpKeepAlive: every call of ``phone`` (now and later) sends an RFC 6263
    keep-alive of ``payload_type`` after ``interval`` s without RTP; None: off.

    Raises:
        ConfigurationError: the payload type is not 0-127 or the interval is not positive.
    """
    if payload_type is None:
        _keepalive.pop(phone, None)
    else:
        if isinstance(payload_type, bool) or not isinstance(payload_type, int) \
                or not 0 <= payload_type <= 127:
            raise ConfigurationError(f"keep-alive payload type {payload_type!r} is not 0-127")
        if not interval > 0:
            raise ConfigurationError(f"keep-alive interval must be positive, got {interval!r}")
        _keepalive[phone] = (payload_type, float(interval))
    for call in phone.calls.values():
        if call.audio is not None and not call.audio.closed:
            _apply_keepalive(phone, call.audio)


def rtp_keepalive(phone: Phone) -> tuple[int, float] | None:
    """``(payload type, interval)`` when the phone's calls send RTP keep-alives."""
    return _keepalive.get(phone)


def _apply_keepalive(phone: Phone, audio: AudioSession) -> None:
    setting = _keepalive.get(phone)
    if setting is None:
        audio.set_rtp_keepalive(None)
    else:
        audio.set_rtp_keepalive(*setting)


def wire(call: Call, audio: AudioSession) -> None:
    """Called when ``call`` gets its audio session: apply the phone's device settings
    and keep-alive and the call's stream I/O settings."""
    phone = call._phone
    audio.device_settings = devices.settings_of(phone)
    _apply_keepalive(phone, audio)
    found = StreamIO.existing(call)
    if found is not None:
        found.wire(audio)


__all__ = ["RECV", "SEND", "AudioHandler", "RtpHandler", "StreamIO", "rtp_keepalive",
           "set_rtp_keepalive", "wire"]
