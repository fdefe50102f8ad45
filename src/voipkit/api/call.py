"""Call: one phone call, joining an INVITE session to SDP offer/answer and its audio.

Knows: ``sip.usage.invite.InviteSession`` (signalling), ``sdp`` (offers,
answers, hold), ``aio.media_session.AudioSession`` (RTP, playback, recording,
DTMF). This is pjsua-lib's job: the only place where SIP and media meet. Must
not know: sockets or the facade.

Every public method is a coroutine or a plain call made on the phone's loop;
methods that make no sense in the call's state raise ``InvalidStateError``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from voipkit.aio.media_session import AudioSession, check_scaling
from voipkit.api import media_files, messaging, screen_stream, stream_io, transfer
from voipkit.api.bus import EventBus, Handler
from voipkit.api.config import MediaConfig, canonical_codec
from voipkit.api.errors import CallFailed as CallFailedError
from voipkit.api.errors import ConfigurationError, InvalidStateError, MediaError
from voipkit.api.events import (
    CallAnswered,
    CallConnected,
    CallEnded,
    CallFailure,
    CallProgress,
    CallTrying,
    CallUpdated,
    DtmfReceived,
    InfoReceived,
    PlaybackFinished,
    RemoteHold,
    RemoteUnhold,
)
from voipkit.api.video import CallVideo
from voipkit.media.codecs import CodecSpec
from voipkit.media.quality import StreamSnapshot, bandwidth_lines, statistics_document
from voipkit.media.srtp import (
    SrtpError,
    answer_uses_srtp,
    decide_offer,
    plan_offer,
)
from voipkit.media.stream import codec_ptime
from voipkit.sdp import (
    CodecCapability,
    Direction,
    MediaDescription,
    NegotiatedMedia,
    SdpError,
    SessionDescription,
    create_offer,
    is_hold,
    negotiate_answer,
    new_crypto,
    process_answer,
)
from voipkit.sdp.model import Attribute, Bandwidth, Crypto, parse_fmtp_params
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.message import NameAddr, Request
from voipkit.sip.usage import invite as inv

if TYPE_CHECKING:
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

E = TypeVar("E")

SDP = "application/sdp"
DTMF_RELAY = "application/dtmf-relay"
_DTMF_SIGNAL = re.compile(r"^\s*Signal\s*=\s*([0-9A-Da-d*#!]|1[0-6])\s*$", re.MULTILINE)
_INFO_CODES = {str(i): c for i, c in enumerate("0123456789*#ABCD")} | {"16": "!"}
#: The SDES suites we offer, in preference order (RFC 4568 §6.2).
OFFERED_SRTP_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")


class CallState(Enum):
    """Where a call is."""

    CALLING = "calling"
    "Outgoing, no answer yet."
    INCOMING = "incoming"
    "Incoming, not answered yet."
    EARLY = "early"
    "A provisional response with a To tag arrived (ringing, progress)."
    CONNECTING = "connecting"
    "Answered, ACK pending."
    CONNECTED = "connected"
    "In the call."
    ENDED = "ended"
    "Over; the object only answers questions now."


class Call:
    """One call. Created by ``Account.call`` / ``Phone.call``, or for an ``IncomingCall``."""

    def __init__(self, phone: Phone, session: inv.InviteSession, *, incoming: bool,
                 remote: NameAddr, local: NameAddr, audio: AudioSession | None,
                 offer: SessionDescription | None = None) -> None:
        self._phone = phone
        self._session = session
        self.id = session.id
        "The call's id, unique in its phone (the facade's sessionId)."
        self.incoming = incoming
        self.remote = remote
        "The peer's identity (From of an incoming call, To of an outgoing one)."
        self.local = local
        self.state = CallState.INCOMING if incoming else CallState.CALLING
        self.bus = EventBus(parent=phone.bus)
        self.audio = audio
        "The call's audio session (None once closed, or before an incoming call is answered)."
        self.local_hold = False
        "We put the call on hold."
        self.remote_hold = False
        "The peer put us on hold."
        self.end_reason: str | None = None
        self.end_status: int | None = None
        self.negotiated: NegotiatedMedia | None = None
        self.early_media = False
        self.remote_offer: bytes | None = None
        "The peer's offer still to be answered (incoming call, offerless INVITE response)."
        self._local_sdp: SessionDescription | None = offer
        self._remote_sdp: SessionDescription | None = None
        self._sdp_version = offer.origin.sess_version if offer is not None else 0
        self._sdp_session_id = (offer.origin.sess_id if offer is not None
                                else int(phone.ids.token(4), 16) or 1)
        self._answered: asyncio.Future[None] = phone.loop.create_future()
        self._ended: asyncio.Future[None] = phone.loop.create_future()
        self._pending_recording: str | None = None
        self._answering = False
        self.secure_signalling = False
        "The call's SIP travels over TLS (SDES keys may be sent, RFC 4568 §8.1)."
        self._processing: dict[str, bool] = {}
        self._scaling: dict[str, int] = {}
        self._bitrates: dict[str, int] = {}
        self._rtcp_bandwidth: tuple[int | None, int | None, int | None] | None = None
        self.video: CallVideo | None = None
        "The call's video (api.video), when it was called or answered with video."
        self.screen: screen_stream.CallScreen | None = None
        "The call's screen stream (api.screen_stream: a second video line, slides)."
        self._reinvite_request: Request | None = None
        "The peer's re-INVITE being answered (CallUpdated carries it, not the ACK)."
        if audio is not None:
            self._wire_audio(audio)

    # --- information -------------------------------------------------------------------

    def __repr__(self) -> str:
        way = "from" if self.incoming else "to"
        return f"<Call {self.id} {way} {self.remote.uri} {self.state.value}>"

    @property
    def phone(self) -> Phone:
        return self._phone

    @property
    def session(self) -> inv.InviteSession:
        """The signalling usage (for headers of the INVITE and such)."""
        return self._session

    @property
    def call_id(self) -> str | None:
        dialog = self._session.dialog_id
        if dialog is not None:
            return dialog.call_id
        invite = self.invite
        return invite.call_id if invite is not None else None

    @property
    def invite(self) -> Request | None:
        """The initial INVITE (sent or received)."""
        return self._session.initial_invite

    @property
    def codec_names(self) -> str:
        """The negotiated audio codec, e.g. ``PCMU`` (empty before negotiation)."""
        if self.negotiated is None:
            return ""
        return self.negotiated.send_codec.encoding

    @property
    def remote_sdp(self) -> SessionDescription | None:
        return self._remote_sdp

    def on(self, event_type: type[E]) -> Any:
        """Decorator: handle this call's events of ``event_type``."""
        return self.bus.on(event_type)

    def events(self, *types: type[Any]) -> Any:
        """Async iterator over this call's events."""
        return self.bus.events(*types)

    async def answered(self, timeout: float | None = None) -> None:
        """Wait until the call is answered.

        Raises:
            CallFailed: it was rejected, cancelled or got no answer.
        """
        await asyncio.wait_for(asyncio.shield(self._answered), timeout)

    async def ended(self, timeout: float | None = None) -> None:
        """Wait until the call is over."""
        await asyncio.wait_for(asyncio.shield(self._ended), timeout)

    # --- application actions -----------------------------------------------------------

    async def ring(self, *, early_media: bool = False) -> None:
        """Send 180 Ringing (or 183 with our answer when ``early_media``)."""
        self._require(CallState.INCOMING, "ring")
        now = self._phone.now()
        if early_media and self.remote_offer is not None:
            await self._ensure_audio()
            answer = self._answer_or_reject(self.remote_offer)
            self._session.ring(answer, status=183, now=now)
            self._start_audio()
        else:
            self._session.ring(now=now)
        self._phone.pump()

    async def answer(self, *, video: bool = False) -> None:
        """Answer an incoming call with 200 OK and our session description (with
        ``video``, accepting or offering a video stream as well).

        Raises:
            InvalidStateError: the call is not ringing, or is already being answered
                (a call that replaces another, RFC 3891, is answered by the phone).
        """
        self._require(CallState.INCOMING, "answer")
        if self._answering:
            raise InvalidStateError(f"call {self.id} is already being answered")
        self._answering = True
        await self._ensure_audio()
        if video and self.video is None:
            self.video = await CallVideo.open(self._phone)
        now = self._phone.now()
        if self.remote_offer is not None:
            body = self._answer_or_reject(self.remote_offer)
            self.remote_offer = None
        else:
            body = self._new_offer(Direction.SENDRECV)
        self._session.accept(body, now=now)
        self.state = CallState.CONNECTING
        self._start_audio()
        self._phone.pump()

    def _answer_or_reject(self, offer: bytes) -> bytes:
        """Our answer to ``offer``; an offer we cannot accept (no common codec, SRTP
        policy) is rejected with its status (488, RFC 3264 §6) and raises MediaError."""
        try:
            return self._answer_offer(offer)
        except SdpError as exc:
            status = exc.status_hint if 400 <= (exc.status_hint or 0) <= 699 else 488
            self._session.reject(status, None, now=self._phone.now())
            self._phone.pump()
            raise MediaError(f"call {self.id}: cannot accept the offer, rejected with "
                             f"{status}: {exc}") from exc

    async def reject(self, status: int = 486, reason: str | None = None) -> None:
        """Refuse an incoming call with a final response (3xx-6xx)."""
        if not 300 <= status <= 699:
            raise ConfigurationError(f"reject status {status} is not a final error (300-699)")
        self._require(CallState.INCOMING, "reject")
        self._session.reject(status, reason, now=self._phone.now())
        self._phone.pump()

    async def forward(self, target: str) -> None:
        """Redirect an incoming call with 302 Moved Temporarily (forwardCall)."""
        self._require(CallState.INCOMING, "forward")
        self._session.forward(self._phone.normalize_uri(target), now=self._phone.now())
        self._phone.pump()

    async def hangup(self) -> None:
        """End the call: CANCEL, reject (480) or BYE depending on its state."""
        if self.state is CallState.ENDED:
            return
        try:
            self._session.hangup(now=self._phone.now())
        except LocalProtocolError as exc:
            raise InvalidStateError(f"cannot hang up call {self.id}: {exc}") from exc
        self._phone.pump()

    async def hold(self) -> None:
        """Put the call on hold: a re-INVITE with a=sendonly (RFC 3264 §8.4)."""
        self._require(CallState.CONNECTED, "hold")
        if self.local_hold:
            return
        self.local_hold = True
        await self._reinvite()

    async def unhold(self) -> None:
        """Resume a held call: a re-INVITE with a=sendrecv."""
        self._require(CallState.CONNECTED, "unhold")
        if not self.local_hold:
            return
        self.local_hold = False
        await self._reinvite()

    async def update(self, *, video: bool | None = None, screen: bool | None = None) -> None:
        """Send a re-INVITE with a fresh offer (updateCall); ``video`` True adds a video
        stream, False removes it (its m= line stays, with port 0), None keeps it as is;
        ``screen`` likewise for the selected screen as a stream of its own
        (api.screen_stream: a second video line, ``a=content:slides``).

        Raises:
            ConfigurationError / DeviceError: ``screen`` True without a screen to grab.
        """
        self._require(CallState.CONNECTED, "update")
        if video and (self.video is None or not self.video.enabled):
            if self.video is not None:
                self.video.abort("re-added")
            self.video = await CallVideo.open(self._phone)
        elif video is False and self.video is not None:
            self.video.disable()
        if screen is not None:  # share the screen on its own stream, or remove it
            await screen_stream.update(self, screen)
        await self._reinvite()

    async def send_dtmf(self, digits: str, *, method: str = "rfc4733",
                        duration: float = 0.1) -> None:
        """Send DTMF: RFC 4733 telephone-events in the audio, or INFO application/dtmf-relay."""
        self._require(CallState.CONNECTED, "send DTMF on")
        bad = [d for d in digits if d.upper() not in "0123456789*#ABCD!"]
        if bad or not digits:
            raise ConfigurationError(f"DTMF digits {digits!r}: use 0-9, *, #, A-D or !")
        if not 0.04 <= duration <= 5.0:
            raise ConfigurationError(f"DTMF duration {duration} s is not within 0.04-5 s")
        if method == "rfc4733":
            if self.audio is None or self.negotiated is None:
                raise InvalidStateError(f"call {self.id} has no audio stream for RFC 4733 DTMF")
            if self.negotiated.telephone_event_pt is None:
                raise MediaError("the peer did not accept telephone-event; use method='info'")
            self.audio.send_dtmf(digits, duration)
        elif method == "info":
            for digit in digits:
                code = "16" if digit == "!" else digit.upper()
                body = f"Signal={code}\r\nDuration={round(duration * 1000)}\r\n".encode()
                self._session.send_info(body, DTMF_RELAY, now=self._phone.now())
            self._phone.pump()
        else:
            raise ConfigurationError(f"DTMF method {method!r} is not 'rfc4733' or 'info'")

    async def send_info(self, content_type: str, body: bytes) -> None:
        """Send an in-dialog INFO (sendInfo)."""
        self._require(CallState.CONNECTED, "send INFO on")
        if "/" not in content_type:
            raise ConfigurationError(f"content type {content_type!r} is not type/subtype")
        self._session.send_info(body, content_type, now=self._phone.now())
        self._phone.pump()

    async def refer(self, target: str, *, replaces: Call | None = None,
                    method: str | None = None, request_target: str | None = None,
                    subscribe: bool = True) -> transfer.Transfer:
        """Transfer the peer to ``target`` (refer; with ``replaces``: attendedRefer).

        See ``voipkit.api.transfer.refer``; the outcome arrives as this call's events.
        ``subscribe=False`` sends ``Refer-Sub: false`` (RFC 4488).
        """
        return await transfer.refer(self, target, replaces=replaces, method=method,
                                    request_target=request_target, subscribe=subscribe)

    async def send_message(self, body: bytes | str,
                           content_type: str | None = None) -> messaging.OutgoingMessage:
        """Send a MESSAGE in the call (sendMessage); a ``str`` body is text/plain UTF-8."""
        return await messaging.send_in_call(self, body, content_type)

    def play(self, path: str | os.PathLike[str], *, loop: bool = False) -> asyncio.Future[bool]:
        """Play a WAV file to the peer instead of the microphone; the future says if it ended."""
        audio = self._require_audio("play a file into")
        if not os.path.isfile(path):
            raise ConfigurationError(f"file to play {os.fspath(path)!r} does not exist")
        return audio.play_file(path, loop=loop)

    def record(self, path: str | os.PathLike[str]) -> None:
        """Record the received audio to a WAV file (finalised on stop, hang-up or close).

        On an incoming call not answered yet, recording starts when its audio opens.
        """
        if self.state is CallState.ENDED:
            raise InvalidStateError(f"cannot record call {self.id}: it has ended")
        if self.audio is None or self.audio.stream is None:
            self._pending_recording = os.fspath(path)
            return
        self.audio.start_recording(path)

    def stop_recording(self) -> str | None:
        """Stop and finalise the recording; returns its path."""
        if self._pending_recording is not None:
            path, self._pending_recording = self._pending_recording, None
            return path
        return self.audio.stop_recording() if self.audio is not None else None

    def start_record(self, path: str | os.PathLike[str],
                     **options: Any) -> media_files.CallRecording:
        """startRecord: both legs, any container PyAV writes, send/recv/both, mono or stereo.

        See ``voipkit.api.media_files.CallRecording.start`` for the options. The file is
        finalised by ``stop_record``, by the end of the call, or by the phone's close.
        """
        return media_files.CallRecording.start(self, path, **options)

    def stop_record(self) -> str | None:
        """stopRecord: finalise the recording started with ``start_record``; its path."""
        return media_files.stop_recording(self)

    def play_to_remote(self, path: str | os.PathLike[str], *, loop: bool = False,
                       mode: media_files.PlayMode = media_files.PlayMode.REPLACE,
                       ) -> media_files.RemotePlayback:
        """startPlayingFileToRemote: any audio file PyAV reads, replacing or mixed with
        the microphone; ``PlaybackFinished`` is emitted once when it ends."""
        return media_files.play_to_remote(self, path, loop=loop, mode=mode)

    def stop_playing(self) -> bool:
        """stopPlayingFileToRemote; False when nothing was playing."""
        return media_files.stop_playing(self)

    def mute(self, *, incoming: bool | None = None, outgoing: bool | None = None) -> None:
        """Mute the peer's audio (``incoming``) and/or ours (``outgoing``); None: unchanged."""
        audio = self._require_audio("mute")
        if incoming is not None:
            audio.mute_incoming = incoming
        if outgoing is not None:
            audio.mute_outgoing = outgoing

    def set_volume_scaling(self, *, input: int | None = None,
                           output: int | None = None) -> None:
        """Scale what this call sends (``input``, setChannelInputVolumeScaling) and what it
        receives (``output``, setChannelOutputVolumeScaling), in percent: 0-1000, 100 is
        unchanged, louder frames are clipped; None: unchanged. Kept for audio opened later.

        Raises:
            ConfigurationError: a value is not an integer 0-1000.
        """
        try:
            if input is not None:
                self._scaling["input"] = check_scaling(input)
            if output is not None:
                self._scaling["output"] = check_scaling(output)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        if self.audio is not None:
            self._apply_scaling(self.audio)

    def _apply_scaling(self, audio: AudioSession) -> None:
        audio.input_scaling = self._scaling.get("input", 100)
        audio.output_scaling = self._scaling.get("output", 100)

    def statistics(self) -> dict[str, int | float | str | None]:
        """RTP statistics of the audio stream (packets, loss, jitter, RTT, codec)."""
        return self.audio.statistics() if self.audio is not None else {}

    def statistics_document(self) -> dict[str, object]:
        """The manual's getStatistics document: ``{"time", "codec", "e_model", "send",
        "receive"}``, each direction with packets, bytes, loss, jitter, RTT, delay,
        R factor and MOS (ITU-T G.107 E-model estimate); ``{}`` without audio."""
        audio = self.audio
        if audio is None or audio.stream is None:
            return {}
        snapshot = StreamSnapshot.from_statistics(audio.statistics(),
                                                  ptime=audio.stream.config.ptime)
        return statistics_document(snapshot)

    def set_audio_processing(self, *, vad: bool | None = None, cng: bool | None = None,
                             aec: bool | None = None, ans: bool | None = None,
                             agc: bool | None = None) -> None:
        """This call's capture processing (enableVAD/CNG/AEC/ANS/AGC per call); None:
        unchanged (the phone's setting). Takes effect at the next audio frame."""
        for name, value in (("vad", vad), ("cng", cng), ("aec", aec), ("ans", ans),
                            ("agc", agc)):
            if value is not None:
                self._processing[name] = bool(value)
        if self.audio is not None:
            self.audio.set_processing(**self._processing_switches())

    def set_audio_bitrate(self, codec: str, bitrate: int) -> None:
        """setAudioBitrate for this call: bits per second of ``codec`` (opus, AMR); a
        running stream sending that codec gets a new encoder at once."""
        name = canonical_codec(codec)
        MediaConfig(codec_bitrates={name: bitrate})  # the same checks as the phone's
        self._bitrates[name] = bitrate
        if self.audio is not None and self.negotiated is not None:
            try:
                self.audio.configure(self.negotiated, bitrates=self._codec_bitrates())
            except ValueError as exc:
                raise MediaError(f"call {self.id}: cannot apply the bit rate: {exc}") from exc

    def set_audio_rtcp_bandwidth(self, rr: int | None, rs: int | None,
                                 as_kbps: int | None) -> None:
        """setAudioRtcpBandwidth for this call: b=RR/RS (bits/s) and b=AS (kb/s) in the
        call's next offer or answer (``update()`` sends one now)."""
        MediaConfig(rtcp_bandwidth=(rr, rs, as_kbps))  # the same checks as the phone's
        self._rtcp_bandwidth = (rr, rs, as_kbps)

    def _codec_bitrates(self) -> Mapping[str, int]:
        if not self._bitrates:
            return _stream_tables(self._phone)[1]
        rates = dict(self._phone.config.media.codec_bitrates) | self._bitrates
        return {name.lower(): bps for name, bps in rates.items()}

    def _bandwidths(self) -> list[Bandwidth]:
        if self._rtcp_bandwidth is None:
            return rtcp_bandwidth_lines(self._phone)
        rr, rs, as_kbps = self._rtcp_bandwidth
        return bandwidth_lines(as_kbps=as_kbps, rs=rs, rr=rr)

    def _processing_switches(self) -> dict[str, bool]:
        media = self._phone.config.media
        switches = {"vad": media.vad, "cng": media.cng, "aec": media.aec, "ans": media.ans,
                    "agc": media.agc}
        switches.update(self._processing)
        return switches

    # --- session events (from the phone's dispatcher) ---------------------------------

    def handle(self, event: inv.InviteEvent) -> None:
        """React to one event of the invite session (runs on the loop)."""
        if isinstance(event, inv.TryingReceived):
            self._emit(CallTrying(self))
        elif isinstance(event, inv.ProgressReceived):
            self.state = CallState.EARLY
            early = event.early_media and event.body is not None
            if early and event.body is not None and self._local_sdp is not None:
                self._apply_answer(event.body.data, early=True)
            self._emit(CallProgress(self, event.status, event.reason, early, event.response))
        elif isinstance(event, inv.Answered):
            self.state = CallState.CONNECTING
            self._emit(CallAnswered(self, event.response))
            if not self._answered.done():
                self._answered.set_result(None)
        elif isinstance(event, inv.AnswerReceived):
            self._apply_answer(event.body.data, early=False)
        elif isinstance(event, inv.OfferReceived):
            # offerless INVITE: the 2xx (or reliable 1xx) carries the callee's offer
            self._phone.spawn(self._answer_late_offer(event.body.data))
        elif isinstance(event, inv.Connected):
            self.state = CallState.CONNECTED
            self._start_audio()
            self._emit(CallConnected(self))
        elif isinstance(event, inv.ReinviteReceived):
            self._on_reinvite(event)
        elif isinstance(event, inv.Updated):
            if event.initiated_locally and event.remote_body is not None:
                self._apply_answer(event.remote_body.data, early=False)
            message = event.message
            if not event.initiated_locally and self._reinvite_request is not None:
                message, self._reinvite_request = self._reinvite_request, None
            self._emit(CallUpdated(self, event.initiated_locally, message))
        elif isinstance(event, inv.UpdateFailed):
            logger.info("call %s: re-INVITE refused (%s %s)", self.id, event.status, event.reason)
        elif isinstance(event, inv.InfoReceived):
            self._on_info(event)
        elif isinstance(event, inv.Failed):
            status = event.status if event.status is not None else 408
            self._emit(CallFailure(self, status, event.reason, event.response))
            if not self._answered.done():
                self._answered.set_exception(CallFailedError(
                    f"call to {self.remote.uri} failed: {status} {event.reason}",
                    status=status, reason=event.reason, response=event.response))
                self._answered.exception()  # retrieved: nobody may be awaiting it
        elif isinstance(event, inv.Terminated):
            self._phone.spawn(self._finish(event.reason.value, event.status))

    def _on_reinvite(self, event: inv.ReinviteReceived) -> None:
        now = self._phone.now()
        self._reinvite_request = event.request
        if event.offer is None:
            self._session.provide_offer(self._new_offer(self._direction()), now=now)
            return
        try:
            offer = SessionDescription.parse(event.offer.data)
        except SdpError as exc:
            logger.info("call %s: unusable re-INVITE offer: %s", self.id, exc)
            self._session.reject_update(488, now=now)
            return
        if screen_stream.open_for_offer(self, offer, lambda: self._on_reinvite(event)):
            return  # answered once the screen stream is bound
        held = self._offer_holds(offer)
        try:
            body = self._answer_offer(event.offer.data)
        except SdpError:
            self._session.reject_update(488, now=now)
            return
        self._session.provide_answer(body, now=now)
        if held and not self.remote_hold:
            self.remote_hold = True
            self._emit(RemoteHold(self))
        elif not held and self.remote_hold:
            self.remote_hold = False
            self._emit(RemoteUnhold(self))

    def _on_info(self, event: inv.InfoReceived) -> None:
        now = self._phone.now()
        body = event.body
        content_type = (body.content_type if body is not None else "").split(";")[0].strip()
        accepted = {t.lower() for t in self._phone.supported_info_types}
        if body is not None and content_type.lower() not in accepted:
            response = self._phone.core.create_response(event.request, 415)
            response.headers.set("Accept", ", ".join(sorted(accepted)))
            self._phone.core.send_response(response, now=now)
            return
        self._session.respond(event, 200, now=now)
        if body is not None and content_type.lower() == DTMF_RELAY:
            match = _DTMF_SIGNAL.search(body.data.decode("utf-8", "replace"))
            if match is not None:
                code = match.group(1).upper()
                self._emit(DtmfReceived(self, _INFO_CODES.get(code, code), "info"))
                return
        self._emit(InfoReceived(self, event.request))

    # --- SDP ---------------------------------------------------------------------------

    def _capabilities(self) -> list[CodecCapability]:
        return capabilities(self._phone)

    def _direction(self) -> Direction:
        return Direction.SENDONLY if self.local_hold else Direction.SENDRECV

    def _new_offer(self, direction: Direction) -> bytes:
        audio = self.audio
        if audio is None:
            raise InvalidStateError(f"call {self.id} has no audio session")
        self._sdp_version += 1
        offer = build_offer(self._phone, audio, direction, session_id=self._sdp_session_id,
                            version=self._sdp_version,
                            secure_signalling=self.secure_signalling,
                            crypto=self._reusable_offer_crypto(),
                            bandwidths=self._bandwidths())
        if self.video is not None:
            offer.media.append(self.video.offer_line(direction, offer))
        screen_stream.extend_offer(self, offer, direction)
        if self._local_sdp is not None:  # RFC 3264 §8: m= lines never decrease
            offer.media += [MediaDescription(kind=m.kind, port=0, proto=m.proto,
                                             formats=list(m.formats))
                            for m in self._local_sdp.media[len(offer.media):]]
        self._local_sdp = offer
        return bytes(offer)

    def _answer_offer(self, data: bytes) -> bytes:
        audio = self.audio
        if audio is None:
            raise InvalidStateError(f"call {self.id} has no audio session")
        offer = SessionDescription.parse(data)
        media = self._phone.config.media
        secure = self.secure_signalling
        previous = self.negotiated

        def srtp(line: MediaDescription) -> tuple[bool, Crypto | None]:
            decision = decide_offer(media.srtp_policy, proto=line.proto, crypto=line.crypto,
                                    secure_signalling=secure,
                                    allow_unsecure=media.allow_srtp_over_unsecure_transport)
            return decision.accept, decision.crypto

        self._sdp_version += 1
        answer, streams = negotiate_answer(
            offer, capabilities=self._capabilities() + screen_stream.video_capabilities(self),
            address=audio.local_ip,
            port=screen_stream.answer_ports(self, offer, audio.local_port),
            session_id=self._sdp_session_id,
            session_version=self._sdp_version, direction=self._direction(),
            ptime=media.ptime, rtcp_mux=False, username="voipkit", ids=self._phone.ids,
            srtp=srtp, bandwidths=self._bandwidths(),
        )
        streams = [_keep_answer_key(s, previous) for s in streams]
        _rewrite_answer_crypto(answer, streams)
        self._remote_sdp = offer
        self._local_sdp = answer
        self._configure([s for s in streams if s.kind == "audio"])
        screen_stream.mark_answer(self, offer, answer)
        camera = screen_stream.split(self, streams,
                                     start=self.state is CallState.CONNECTED)
        if self.video is not None:
            self.video.configure(camera, start=self.state is CallState.CONNECTED)
            self.video.adjust_answer(answer)
        return bytes(answer)

    def _apply_answer(self, data: bytes, *, early: bool) -> None:
        if self._local_sdp is None:
            return
        try:
            answer = SessionDescription.parse(data)
            streams = process_answer(self._local_sdp, answer)
            policy = self._phone.config.media.srtp_policy
            for stream, line in ((s, answer.media[s.index]) for s in streams):
                if stream.kind == "audio":
                    answer_uses_srtp(policy, proto=line.proto, crypto=line.crypto)
        except SrtpError as exc:
            logger.warning("call %s: answer refused by the SRTP policy: %s", self.id, exc)
            if not early:
                self._phone.spawn(self.hangup())
            return
        except SdpError as exc:
            logger.warning("call %s: unusable answer SDP: %s", self.id, exc)
            return
        self._remote_sdp = answer
        self._configure([s for s in streams if s.kind == "audio"])
        screen_stream.note_answer(self, answer)
        camera = screen_stream.split(self, streams,
                                     start=self.state is CallState.CONNECTED)
        if self.video is not None:
            self.video.configure(camera, start=self.state is CallState.CONNECTED)
        if early and self._phone.early_media:
            self.early_media = True
            self._start_audio()

    def _offer_holds(self, offer: SessionDescription) -> bool:
        audio = [m for m in offer.media if m.kind == "audio" and m.port != 0]
        return bool(audio) and is_hold(audio[0], offer)

    def _configure(self, streams: list[NegotiatedMedia]) -> None:
        if not streams or self.audio is None:
            return
        self.negotiated = streams[0]
        try:
            self.audio.configure(
                streams[0],
                local_fmtp=_stream_tables(self._phone)[0],
                bitrates=self._codec_bitrates())
        except ValueError as exc:
            logger.warning("call %s: cannot use the negotiated audio: %s", self.id, exc)
            return
        if self._pending_recording is not None:
            self.audio.start_recording(self._pending_recording)
            self._pending_recording = None

    async def _reinvite(self) -> None:
        body = self._new_offer(self._direction())
        try:
            self._session.update(body, now=self._phone.now())
        except LocalProtocolError as exc:
            raise InvalidStateError(f"call {self.id}: {exc}") from exc
        self._phone.pump()

    async def _answer_late_offer(self, data: bytes) -> None:
        await self._ensure_audio()
        try:
            body = self._answer_offer(data)
        except SdpError as exc:
            logger.warning("call %s: unusable offer in the answer: %s", self.id, exc)
            self._session.hangup(now=self._phone.now())
            self._phone.pump()
            return
        self._session.provide_answer(body, now=self._phone.now())
        self._phone.pump()

    # --- audio -------------------------------------------------------------------------

    async def _ensure_audio(self) -> AudioSession:
        if self.audio is None:
            audio = await self._phone.open_audio()
            self.audio = audio
            self._wire_audio(audio)
        return self.audio

    def _reusable_offer_crypto(self) -> list[Crypto] | None:
        """Our keys of the last offer, kept for a re-offer (RFC 4568 §7.1.4 lets an
        offer repeat them): changing keys mid-call would drop packets in flight."""
        local = self._local_sdp
        if local is None or self.negotiated is None or self.negotiated.local_crypto is None:
            return None
        audio = [m for m in local.media if m.kind == "audio"]
        return list(audio[0].crypto) if audio and audio[0].crypto else None

    def _wire_audio(self, audio: AudioSession) -> None:
        audio.set_processing(**self._processing_switches())
        self._apply_scaling(audio)
        audio.on_dtmf = lambda digit: self._emit(DtmfReceived(self, digit, "rfc4733"))
        audio.on_playback_finished = lambda path, completed: self._emit(
            PlaybackFinished(self, str(path), completed))
        stream_io.wire(self, audio)  # devices, keep-alive, taps, PCM stream (api.stream_io)

    def _start_audio(self) -> None:
        audio = self.audio
        if audio is None or audio.closed or audio.stream is None:
            return
        if not audio.running:
            audio.start()
        if self.video is not None:
            self.video.start()
        screen_stream.start(self)

    def _require_audio(self, what: str) -> AudioSession:
        if self.state is CallState.ENDED or self.audio is None:
            raise InvalidStateError(
                f"cannot {what} call {self.id}: it has no audio ({self.state.value})")
        return self.audio

    # --- end ---------------------------------------------------------------------------

    async def _finish(self, reason: str, status: int | None) -> None:
        if self.state is CallState.ENDED:
            return
        self.state = CallState.ENDED
        self.end_reason, self.end_status = reason, status
        audio, self.audio = self.audio, None
        if self.video is not None:
            self.video.abort(reason)
        screen_stream.end(self, reason)
        if audio is not None:
            try:
                await audio.close(reason)
            except Exception:  # the call still ends; the error is logged, never lost
                logger.exception("call %s: closing its audio failed", self.id)
        if not self._answered.done():
            self._answered.set_exception(CallFailedError(
                f"call {self.id} ended before it was answered ({reason})",
                status=status or 487, reason=reason))
            self._answered.exception()
        self._phone.forget_call(self)  # gone from phone.calls before anyone hears it ended
        self._emit(CallEnded(self, reason, status))
        if not self._ended.done():
            self._ended.set_result(None)

    def abort(self) -> None:
        """Drop the call's media at once (phone shutdown); recordings are finalised."""
        if self.video is not None:
            self.video.abort("shutdown")
        screen_stream.end(self, "shutdown")
        if self.audio is not None:
            self.audio.abort("shutdown")
            self.audio = None

    # --- helpers -----------------------------------------------------------------------

    def _emit(self, event: object) -> None:
        self.bus.emit(event)

    def _require(self, state: CallState, what: str) -> None:
        if self.state is not state:
            raise InvalidStateError(
                f"cannot {what} call {self.id}: it is {self.state.value}, not {state.value}")


def _rows(phone: Phone) -> list[CodecSpec]:
    """The configured codec rows in preference order; CN is added after them when
    comfort noise is on and an 8000 Hz codec is offered (RFC 3389 §4)."""
    media = phone.config.media
    by_name = {spec.name.upper(): spec for spec in phone.codecs if spec.is_audio}
    rows = [by_name[name.upper()] for name in media.codecs if name.upper() in by_name]
    cn = by_name.get("CN")
    if (media.vad and media.cng and cn is not None and cn not in rows
            and any(r.clock_rate == 8000 for r in rows)):
        rows.append(cn)
    return rows


def local_fmtp(phone: Phone) -> dict[str, dict[str, str]]:
    """Codec name -> the fmtp parameters we offer (setAudioCodecParameter, else the
    codec's defaults)."""
    params = phone.config.media.codec_parameters
    out: dict[str, dict[str, str]] = {}
    for spec in _rows(phone):
        text = params.get(spec.name)
        out[spec.name] = parse_fmtp_params(text) if text is not None else dict(spec.fmtp)
    return out


def _stream_tables(phone: Phone) -> tuple[Mapping[str, Mapping[str, str]],
                                          Mapping[str, int]]:
    """Our fmtp parameters and the configured bitrates, keyed by lower-case codec name
    as ``AudioSession.configure`` takes them; kept per (config.media, codecs) like
    ``capabilities`` (every call asks)."""
    media = phone.config.media
    cached = phone.stream_settings_cache
    if cached is not None and cached[0] is media and cached[1] is phone.codecs:
        return cached[2], cached[3]
    fmtp = MappingProxyType({name.lower(): MappingProxyType(params)
                             for name, params in local_fmtp(phone).items()})
    bitrates = MappingProxyType({name.lower(): bps
                                 for name, bps in media.codec_bitrates.items()})
    phone.stream_settings_cache = (media, phone.codecs, fmtp, bitrates)
    return fmtp, bitrates


def capabilities(phone: Phone) -> list[CodecCapability]:
    """The phone's codecs in its configured order of preference, as SDP capabilities,
    with the configured payload types and fmtp parameters."""
    media = phone.config.media
    cached = phone.capabilities_cache
    if cached is not None and cached[0] is media and cached[1] is phone.codecs:
        return list(cached[2])  # every call asks: the rows only change with a setting
    fmtps = local_fmtp(phone)
    caps: list[CodecCapability] = []
    for spec in _rows(phone):
        cap = spec.capability()
        pt = media.codec_payload_types.get(spec.name)
        caps.append(CodecCapability(
            encoding=cap.encoding, clock_rate=cap.clock_rate, channels=cap.channels,
            payload_type=pt if pt is not None else cap.payload_type,
            fmtp=fmtps.get(spec.name, cap.fmtp), kind=cap.kind))
    phone.capabilities_cache = (media, phone.codecs, tuple(caps))
    return caps


def rtcp_bandwidth_lines(phone: Phone) -> list[Bandwidth]:
    """b=AS/RS/RR for our m= line (setAudioRtcpBandwidth), or none."""
    setting = phone.config.media.rtcp_bandwidth
    if setting is None:
        return []
    rr, rs, as_kbps = setting
    return bandwidth_lines(as_kbps=as_kbps, rs=rs, rr=rr)


def build_offer(phone: Phone, audio: AudioSession, direction: Direction, *,
                session_id: int | None = None, version: int = 1,
                secure_signalling: bool = False,
                crypto: list[Crypto] | None = None,
                bandwidths: list[Bandwidth] | None = None) -> SessionDescription:
    """An audio offer for ``audio``'s address and port with the phone's codecs.

    The SRTP policy decides the protocol and a=crypto lines (``media.srtp.plan_offer``);
    ``crypto`` repeats the keys of an earlier offer instead of making new ones. The
    a=ptime is the configured one, made whole frames of the first codec (G.723.1: 30 ms).

    Raises:
        SrtpError: SRTP is forced but keys may not travel over this signalling.
    """
    media = phone.config.media
    try:
        plan = plan_offer(media.srtp_policy, secure_signalling=secure_signalling,
                          allow_unsecure=media.allow_srtp_over_unsecure_transport)
    except SrtpError:
        if audio.stream is None:  # a new call's session: nothing else will close it
            audio.abort("no offer")
        raise
    keys: list[Crypto] = []
    if plan.crypto:
        keys = crypto if crypto else [new_crypto(tag, suite, phone.ids)
                                      for tag, suite in enumerate(OFFERED_SRTP_SUITES, 1)]
    rows = _rows(phone)
    ptime = codec_ptime(rows[0], media.ptime) if rows else media.ptime
    return create_offer(
        capabilities=capabilities(phone), address=audio.local_ip, port=audio.local_port,
        session_id=session_id if session_id is not None else int(phone.ids.token(4), 16) or 1,
        session_version=version, direction=direction, ptime=ptime,
        maxptime=media.maxptime, telephone_event_pt=media.dtmf_payload_type,
        username="voipkit", crypto=keys, proto=plan.proto,
        bandwidths=rtcp_bandwidth_lines(phone) if bandwidths is None else bandwidths,
    )


def _keep_answer_key(stream: NegotiatedMedia, previous: NegotiatedMedia | None
                     ) -> NegotiatedMedia:
    """Answer a re-offer with the key we answered before when the peer kept its key
    and suite (RFC 4568 §7.1.4), so SRTP continues without a re-key."""
    if (previous is None or stream.local_crypto is None or previous.local_crypto is None
            or stream.remote_crypto != previous.remote_crypto
            or previous.local_crypto.suite != stream.local_crypto.suite):
        return stream
    kept = Crypto(stream.local_crypto.tag, previous.local_crypto.suite,
                  previous.local_crypto.key_params, previous.local_crypto.session_params)
    return dataclasses.replace(stream, local_crypto=kept)


def _rewrite_answer_crypto(answer: SessionDescription, streams: list[NegotiatedMedia]) -> None:
    for stream in streams:
        if stream.local_crypto is None:
            continue
        line = answer.media[stream.index]
        line.attributes = [Attribute("crypto", stream.local_crypto.value)
                           if a.name == "crypto" else a for a in line.attributes]


__all__ = ["OFFERED_SRTP_SUITES", "Call", "CallState", "Handler", "build_offer",
           "capabilities", "local_fmtp", "rtcp_bandwidth_lines"]
