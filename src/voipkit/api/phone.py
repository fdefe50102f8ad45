"""Phone: the async context manager that owns sockets, the SIP stack, accounts and calls.

Knows: every layer below (it assembles them: ``SipTransports`` + ``UserAgentCore``
+ ``UsageManager`` + ``SipDriver``, the invite policy, audio sessions) and the
public objects above them. Must not know: the PortSIP facade.

    async with Phone(PhoneConfig(listen=("udp:127.0.0.1:5060",))) as phone:
        account = await phone.add_account(AccountConfig(user="1001", domain="pbx.example",
                                                        password=secret))
        await account.register()
        call = await account.call("sip:1002@pbx.example")
        await call.answered()

Everything runs on the loop that entered the context manager. Nothing guesses a
local address: SIP listens where the config says and RTP binds the listener's
IP (or ``MediaConfig.rtp_ip``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from voipkit.aio.audio_device import sounddevice_available
from voipkit.aio.errors import TransportError
from voipkit.aio.keepalive import KeepAliveScheduler
from voipkit.aio.media_session import AudioSession
from voipkit.aio.netinfo import local_addresses, prefer_ipv6_order
from voipkit.aio.resolver import SipResolver
from voipkit.aio.sip_driver import SipDriver
from voipkit.aio.sip_transport import (
    Direction as TraceDirection,
)
from voipkit.aio.sip_transport import (
    SipTransports,
    TlsConfig,
    TraceRecord,
    TransportConfig,
)
from voipkit.aio.stun import StunClient
from voipkit.api import media_files, messaging, transfer
from voipkit.api.account import Account
from voipkit.api.bus import EventBus
from voipkit.api.call import Call
from voipkit.api.conference import Conference, destroy_conference
from voipkit.api.config import AccountConfig, PhoneConfig, split_host_port
from voipkit.api.errors import ConfigurationError, InvalidStateError
from voipkit.api.events import (
    CallForwarded,
    CallRefused,
    IncomingCall,
    OptionsReceived,
    SignalingTraced,
)
from voipkit.api.headers import HeaderRules
from voipkit.api.subscriptions import SubscriptionService
from voipkit.api.video import VideoSettings
from voipkit.base.ids import IdSource, RandomIds
from voipkit.media.codecs import FULL_CODECS, CodecRegistry
from voipkit.media.frames import Pcm, silence
from voipkit.media.ports import MediaSink, MediaSource
from voipkit.media.srtp import SrtpPolicy
from voipkit.sdp import CodecCapability
from voipkit.sip.addressing import Destination, TransportKind, format_host
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import NameAddr, Request, Response
from voipkit.sip.ua import CoreConfig, UserAgentCore
from voipkit.sip.uri import SipUri
from voipkit.sip.usage import UsageManager, pager
from voipkit.sip.usage import invite as inv
from voipkit.sip.usage import refer as rf
from voipkit.sip.usage import registration as reg
from voipkit.sip.usage.prack import ReliableProvisional
from voipkit.sip.usage.session_timer import Refresher, SessionTimerConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Methods the phone answers (the Allow header); others get 405 (RFC 3261 §8.2.1).
ALLOW = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE", "PRACK",
         "REFER", "SUBSCRIBE", "NOTIFY", "MESSAGE")
SUPPORTED = frozenset({"100rel", "timer"})
#: RFC 3261 §25.1: unreserved / user-unreserved characters of a URI user part.
_USER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "-_.!~*'()&=+$,;?/")


def _is_escape(text: str, ch: str) -> bool:
    """True when every % in ``text`` starts a valid %HH escape (already escaped input)."""
    return re.fullmatch(r"(?:[^%]|%[0-9A-Fa-f]{2})*", text) is not None


_CALL_ID = re.compile(rb"\r\n(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]+)", re.IGNORECASE)


class _LocalMicrophone:
    """The conference's local member capture behind the phone's microphone mute."""

    def __init__(self, phone: Phone, microphone: MediaSource) -> None:
        self.phone = phone
        self.microphone = microphone

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        frame = self.microphone.read_frame(samples, sample_rate)
        return silence(samples) if self.phone.microphone_muted else frame


class _LocalSpeaker:
    """The conference's local member playout behind the phone's speaker mute."""

    def __init__(self, phone: Phone, speaker: MediaSink) -> None:
        self.phone = phone
        self.speaker = speaker

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        if self.phone.speaker_muted:
            frame = silence(len(frame))
        self.speaker.write_frame(frame, sample_rate)


AUDIO_DSCP = 46
"""Expedited Forwarding (RFC 3246), the DiffServ class for telephony (RFC 4594 §4.1)."""

TRYING_DELAY = 0.1
"""Seconds an incoming INVITE waits for the application's 180/183/final response before the
stack sends 100 Trying itself (RFC 3261 §17.2.1 needs it only past 200 ms)."""


_sound_cards_scanned = False


async def _scan_sound_cards(loop: asyncio.AbstractEventLoop) -> None:
    """Ask PortAudio for its sound cards once per process, in a worker thread.

    Otherwise the first call does it on the loop: importing sounddevice and
    initialising PortAudio (ALSA probes its plugins) held the loop ~15 ms inside the
    first answer. The list is kept until ``aio.audio_device.rescan_devices``.
    """
    global _sound_cards_scanned
    if not _sound_cards_scanned:
        await loop.run_in_executor(None, sounddevice_available)
        _sound_cards_scanned = True


class Phone:
    """A SIP user agent: listeners, accounts, calls, and one event bus.

    Use as ``async with Phone(config) as phone``; ``start()``/``close()`` do the same
    by hand. Events: subscribe with ``phone.on(IncomingCall)`` etc.; every call's and
    account's events also arrive here.
    """

    def __init__(self, config: PhoneConfig | None = None, *, ids: IdSource | None = None,
                 resolver: SipResolver | None = None) -> None:
        self.config = config or PhoneConfig()
        self.ids: IdSource = ids or RandomIds()
        self.bus = EventBus()
        self.codecs: CodecRegistry = FULL_CODECS
        "The codec rows calls can use; ``config.media.codecs`` picks and orders them."
        self.capabilities_cache: tuple[object, object, tuple[CodecCapability, ...]] | None = None
        """``api.call.capabilities`` for (config.media, codecs) as they were: both are
        replaced, never changed in place, so a new setting makes a new entry."""
        self.stream_settings_cache: tuple[object, object, Mapping[str, Mapping[str, str]],
                                          Mapping[str, int]] | None = None
        """``api.call``'s per-stream fmtp and bitrate tables for (config.media, codecs),
        kept like ``capabilities_cache``."""
        self.supported_info_types: list[str] = list(self.config.supported_info_types)
        self.policy = inv.InvitePolicy(
            max_sessions=self.config.max_calls, do_not_disturb=self.config.do_not_disturb,
            forward_to=self.config.forward_to, forward_busy_only=self.config.forward_busy_only,
            session_timer=self.config.session_timer, reliable=self.config.reliable_provisional,
        )
        self.header_rules = HeaderRules(self._session_of_call_id)
        "Custom headers added to / modified in outgoing messages (addSipMessageHeader)."
        self.early_media = self.config.media.early_media
        "Play a 183's early media before the answer (enableEarlyMedia)."
        self.rtp_port_range = self.config.media.rtp_port_range
        "Ports for new calls' RTP (setRtpPortRange)."
        self.video = VideoSettings()
        "Video codecs, size, rate, bit rate and MTU for calls with video (api.video)."
        self._resolver = resolver
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transports: SipTransports | None = None
        self._core: UserAgentCore | None = None
        self._manager: UsageManager | None = None
        self._driver: SipDriver | None = None
        self._calls: dict[int, Call] = {}
        self._calls_by_call_id: dict[str, Call] = {}
        self._call_id_of: dict[int, str] = {}
        self._accounts: dict[int, Account] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rtp_ip: str | None = None
        self._rtp_cursor = self.config.media.rtp_port_range[0]
        self._stun: StunClient | None = None
        self._keepalive: KeepAliveScheduler | None = None
        self.ipv6_priority = False
        "Prefer IPv6 destinations of a resolved name (enablePriorityIPv6Domain)."
        self.three_gpp_tags = False
        "Put the 3GPP feature tags in our Contacts (enable3GppTags, 3GPP TS 24.229)."
        self._escape_extra: set[str] = set()
        self._escape_never: set[str] = set()
        self.microphone_muted = False
        self.audio_dscp: int | None = None
        "DiffServ code point of new calls' audio sockets (``set_audio_qos``: 46, EF)."
        "The device's microphone is muted in every call and the conference (muteMicrophone)."
        self.speaker_muted = False
        "The device's speaker plays silence for every call and the conference (muteSpeaker)."
        self.subscriptions = SubscriptionService(self)
        "SUBSCRIBE/NOTIFY, presence, MWI, BLF and PUBLISH (``api.subscriptions``)."
        self._started = False
        self._closing = False
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Phone:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Open every listener and start the SIP stack.

        Raises:
            TransportError: a listener could not be opened (the message names it).
            ConfigurationError: the configuration cannot work (e.g. TLS without a certificate).
        """
        if self._started:
            raise InvalidStateError("the phone is already started")
        self._started = True
        self._loop = asyncio.get_running_loop()
        tls = self.config.tls
        tls_config = TlsConfig(verify=tls.verify, ca_file=tls.ca_file, ca_path=tls.ca_path,
                               ciphers=tls.ciphers, cert_file=tls.cert_file, key_file=tls.key_file)
        self._transports = SipTransports(config=TransportConfig(tls=tls_config),
                                         trace=self._on_trace,
                                         trace_wanted=self._tracing)
        # a 100 only when the application takes more than TRYING_DELAY to ring or answer
        core_config = CoreConfig(timers=self.config.timers, user_agent=self.config.user_agent,
                                 allow=ALLOW, supported=SUPPORTED, auto_options=False,
                                 trying_delay=TRYING_DELAY)
        self._core = UserAgentCore(config=core_config, ids=self.ids)
        self._core.outgoing_hook = self.header_rules.apply
        self._manager = UsageManager(self._core, ids=self.ids)
        self._manager.on_new_request("INVITE", inv.invite_factory(self.policy))
        transfer.install(self, self._manager)
        messaging.install(self, self._manager)
        self._driver = SipDriver(self._manager, self._transports, resolver=self._resolver,
                                 on_event=self._dispatch)
        try:
            for listen in self.config.listeners:
                if listen.transport is TransportKind.TLS and tls.cert_file is None:
                    raise ConfigurationError(
                        f"cannot listen on {listen}: TLS listening needs tls.cert_file")
                await self._driver.listen(listen.transport, listen.host, listen.port)
        except BaseException:
            await self.close()
            raise
        self.subscriptions.install()
        media_ip = self.config.media.rtp_ip or self.config.listeners[0].host
        if media_ip in ("0.0.0.0", "::"):
            await self.close()
            raise ConfigurationError(
                "listening on a wildcard address: set MediaConfig.rtp_ip to the address "
                "to announce in SDP (voipkit never guesses it)")
        self._rtp_ip = media_ip
        self._stun = StunClient.attach(self._transports, ids=self.ids,
                                       software=self.config.user_agent)
        self._keepalive = KeepAliveScheduler(self._transports, interval=0, stun=self._stun,
                                             on_failure=self._on_flow_failed)
        await _scan_sound_cards(self._loop)

    async def close(self) -> None:
        """Hang up every call, unregister every account, close every socket."""
        if self._closed or self._closing:
            return
        self._closing = True
        calls = list(self._calls.values())
        for call in calls:
            try:
                await call.hangup()
            except Exception:
                logger.exception("hanging up %r on close failed", call)
        if calls:
            await asyncio.wait([asyncio.ensure_future(c.ended()) for c in calls], timeout=2.0)
        if self._manager is not None and self._started:
            await self.subscriptions.close()
        for account in list(self._accounts.values()):
            try:
                await account.unregister(timeout=2.0)
            except Exception as exc:
                logger.info("unregistering %s on close: %s", account, exc)
        destroy_conference(self)
        media_files.close_phone_media(self)
        for call in list(self._calls.values()):
            call.abort()
        if self._keepalive is not None:
            await self._keepalive.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._closed = True
        if self._driver is not None:
            self._driver.close()
        if self._transports is not None:
            await self._transports.close()
        await self.bus.drain()

    # --- plumbing for Account and Call ------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise InvalidStateError("the phone is not started")
        return self._loop

    @property
    def manager(self) -> UsageManager:
        if self._manager is None or self._closed:
            raise InvalidStateError("the phone is not running")
        return self._manager

    @property
    def core(self) -> UserAgentCore:
        if self._core is None:
            raise InvalidStateError("the phone is not started")
        return self._core

    @property
    def driver(self) -> SipDriver:
        if self._driver is None or self._closed:
            raise InvalidStateError("the phone is not running")
        return self._driver

    @property
    def transports(self) -> SipTransports:
        if self._transports is None:
            raise InvalidStateError("the phone is not started")
        return self._transports

    @property
    def listening(self) -> list[tuple[TransportKind, str, int]]:
        """Every open listener as (transport, IP, port), ports resolved."""
        return [(kind, host, port) for kind, (host, port) in self.transports.listeners]

    @property
    def rtp_ip(self) -> str:
        if self._rtp_ip is None:
            raise InvalidStateError("the phone is not started")
        return self._rtp_ip

    def now(self) -> float:
        return self.loop.time()

    def pump(self) -> None:
        """Flush what the SIP stack queued (after an application call)."""
        self.driver.pump()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run a coroutine on the loop; its failure is logged, never lost."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("phone task failed", exc_info=task.exception())

    async def open_audio(self) -> AudioSession:
        media = self.config.media
        low, high = self.rtp_port_range
        cursor = self._rtp_cursor if low <= self._rtp_cursor < high else low
        audio = await AudioSession.open(self.rtp_ip, self.rtp_port_range, self.ids,
                                        loop=self.loop, registry=self.codecs,
                                        symmetric=media.symmetric_rtp, first_port=cursor,
                                        dscp=self.audio_dscp)
        # the next call starts searching after this pair, so ports are not reused at once
        # (a late packet of an old call must not reach a new one) and the search is short
        self._rtp_cursor = audio.local_port + 2
        audio.microphone_muted = self.microphone_muted
        audio.speaker_muted = self.speaker_muted
        return audio

    def contact(self, transport: TransportKind, user: str | None = None,
                family: int | None = None) -> NameAddr:
        """Our Contact for ``transport``: where this phone really listens."""
        local = self.core.local_address(transport, family) or self.core.local_address(transport)
        if local is None:
            kinds = ", ".join(k.value for k, _, _ in self.listening)
            raise ConfigurationError(
                f"no {transport.value} listener (this phone listens on {kinds})")
        host, port = local
        params: dict[str, str | None] = {}
        if transport is not TransportKind.UDP:
            params["transport"] = transport.value.lower()
        text = f"sip:{self.escape_user(user) + '@' if user else ''}{format_host(host)}:{port}"
        uri = SipUri.parse(text)
        uri.params.update(params)
        contact = NameAddr(uri)
        if self.three_gpp_tags:
            # RFC 3840 feature tags of 3GPP TS 24.229 (IMS multimedia telephony and SMS)
            contact.params["+g.3gpp.icsi-ref"] = '"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"'
            contact.params["+g.3gpp.smsip"] = None
        return contact

    def set_uri_user_escaping(self, character: str, enabled: bool) -> None:
        """setUriUserEncoding: escape (or never escape) ``character`` in URI user parts.

        By default a user part is escaped as RFC 3261 §25.1 requires: everything but
        unreserved and user-unreserved characters becomes %HH. ``enabled=True`` adds
        ``character`` to the escaped set; ``False`` sends it as it is.
        """
        if len(character) != 1 or character in "%@\r\n" or not character.isprintable():
            raise ConfigurationError(f"cannot change the escaping of {character!r}")
        if enabled:
            self._escape_extra.add(character)
            self._escape_never.discard(character)
        else:
            self._escape_never.add(character)
            self._escape_extra.discard(character)

    def escape_user(self, user: str) -> str:
        """``user`` escaped for the user part of a SIP URI (RFC 3261 §25.1, §19.1.2)."""
        out = []
        for ch in user:
            allowed = ch in _USER_CHARS and ch not in self._escape_extra
            if allowed or ch in self._escape_never or (ch == "%" and _is_escape(user, ch)):
                out.append(ch)
            else:
                out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
        return "".join(out)

    def normalize_uri(self, target: str, domain: str | None = None) -> str:
        """``sip:bob@host`` stays; ``bob@host`` -> ``sip:bob@host``; ``bob`` needs ``domain``."""
        target = target.strip()
        if re.match(r"^(sips?|tel):", target, re.IGNORECASE):
            return target
        if "@" in target:
            user, _, host = target.rpartition("@")
            return f"sip:{self.escape_user(user)}@{host}"
        if domain is None:
            raise ConfigurationError(f"{target!r} is not a SIP URI (try sip:{target}@HOST)")
        return f"sip:{self.escape_user(target)}@{domain}"

    async def resolve(self, uri: str | SipUri, transport: TransportKind | None = None,
                      ) -> list[Destination]:
        """RFC 3263 destinations for ``uri``, restricted to transports we listen on."""
        parsed = SipUri.parse(uri) if isinstance(uri, str) else uri
        if transport is not None and parsed.transport is None:
            # a copy: the caller's URI (often a request's To) keeps its parameters
            parsed = parsed.replace(params={**parsed.params,
                                            "transport": transport.value.lower()})
        targets = prefer_ipv6_order(await self.driver.resolve(parsed), self.ipv6_priority)
        ours = {kind for kind, _, _ in self.listening}
        usable = [t for t in targets if t.transport in ours]
        if not usable:
            have = ", ".join(sorted(k.value for k in ours))
            raise TransportError(
                f"{parsed} is reachable over {sorted({t.transport.value for t in targets})}, "
                f"but this phone listens on {have}", address=str(parsed))
        return usable

    def register_call(self, call: Call) -> None:
        self._calls[call.id] = call
        transfer.attach(self, call.session)  # REFER / NOTIFY / MESSAGE in the call
        messaging.attach(self, call.session)
        call_id = call.call_id
        if call_id:
            self._calls_by_call_id[call_id] = call
            self._call_id_of[call.id] = call_id

    def forget_call(self, call: Call) -> None:
        self._calls.pop(call.id, None)
        call_id = self._call_id_of.pop(call.id, None)  # O(1): no scan of the live calls
        if call_id is not None and self._calls_by_call_id.get(call_id) is call:
            del self._calls_by_call_id[call_id]

    # --- public API ------------------------------------------------------------------

    def on(self, event_type: type[T]) -> Any:
        """Decorator: handle every event of ``event_type`` (calls' and accounts' included)."""
        return self.bus.on(event_type)

    def events(self, *types: type[Any]) -> Any:
        return self.bus.events(*types)

    @property
    def calls(self) -> dict[int, Call]:
        """Live calls by id."""
        return dict(self._calls)

    def call_by_id(self, call_id: int) -> Call | None:
        return self._calls.get(call_id)

    @property
    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    async def add_account(self, config: AccountConfig) -> Account:
        """Add a SIP identity (nothing is sent until ``register()`` or ``call()``)."""
        self.manager  # noqa: B018  (raises when not running)
        account = Account(self, config, account_id=len(self._accounts) + 1)
        self._accounts[account.id] = account
        return account

    def remove_account(self, account: Account) -> None:
        self._accounts.pop(account.id, None)

    async def call(self, uri: str, *, send_sdp: bool = True,
                   headers: tuple[tuple[str, str], ...] = (), video: bool = False) -> Call:
        """Call ``uri`` directly, peer to peer, with no account (the manual's P2P mode)."""
        account = Account(self, AccountConfig(user="voipkit", domain=self.rtp_ip), account_id=0)
        return await account.call(uri, send_sdp=send_sdp, headers=headers, video=video)

    @staticmethod
    def local_addresses() -> list[str]:
        """This machine's IP addresses, non-loopback first (getNICNums/getLocalIpAddress)."""
        return local_addresses()

    async def public_address(self, stun_server: str) -> tuple[str, int]:
        """Our UDP listener's address as a STUN server sees it (RFC 5389 Binding).

        Raises:
            TransportError: the server did not answer or answered with an error.
        """
        host, port = split_host_port(stun_server, what="STUN server")
        targets = await self.driver.resolve(SipUri.parse(f"sip:{format_host(host)}"))
        address = (targets[0].host, port or 3478)
        if self._stun is None:
            raise InvalidStateError("the phone is not started")
        return await self._stun.binding(address)

    def set_keepalive(self, interval: float) -> None:
        """setKeepAliveTime: ping registration flows every ``interval`` s (0 disables).

        CRLF pings on TCP/TLS (RFC 5626 §4.4.1); STUN or CRLF keep-alives on UDP. A
        flow that stops answering makes its account register again at once.
        """
        if interval < 0:
            raise ConfigurationError(f"keep-alive interval {interval} must be >= 0")
        if self._keepalive is None:
            raise InvalidStateError("the phone is not started")
        self._keepalive.set_interval(interval)

    def watch_flow(self, destination: Destination) -> None:
        if self._keepalive is not None:
            self._keepalive.watch(destination)

    def _on_flow_failed(self, destination: Destination, reason: str) -> None:
        logger.info("keep-alive flow to %s failed (%s): registering again", destination, reason)
        for account in self._accounts.values():
            account.flow_failed(destination)

    def _session_of_call_id(self, call_id: str) -> int | None:
        call = self._calls_by_call_id.get(call_id)
        return call.id if call is not None else None

    def set_rport(self, enabled: bool) -> None:
        """enableRport: ask for the response's source port in our Vias (RFC 3581)."""
        self.core.config = replace(self.core.config, rport=enabled)

    def set_rtp_port_range(self, low: int, high: int) -> None:
        """setRtpPortRange: where the RTP of new calls is bound (even RTP, RTCP + 1)."""
        if not 1024 <= low < high <= 65535 or high - low < 2:
            raise ConfigurationError(f"RTP port range {low}-{high} must satisfy "
                                     "1024 <= min < max <= 65535 with room for a pair")
        self.rtp_port_range = (low, high)

    # --- audio settings of new calls (setAudioCodecs ... setAudioRtcpBandwidth) ------

    def _set_media(self, **changes: Any) -> None:
        """Replace media settings; MediaConfig validates them (ConfigurationError)."""
        media = replace(self.config.media, **changes)
        self.config = replace(self.config, media=media)

    def set_audio_codecs(self, codecs: list[str] | tuple[str, ...]) -> None:
        """setAudioCodecs: the codecs offered, in order (opus, G722, PCMU, PCMA, AMR, G723)."""
        self._set_media(codecs=tuple(codecs))

    def set_audio_codec_parameter(self, codec: str, parameters: str) -> None:
        """setAudioCodecParameter: the a=fmtp parameters of ``codec``, e.g.
        ``"useinbandfec=1;maxaveragebitrate=24000"``; ``""`` restores its defaults."""
        current = dict(self.config.media.codec_parameters)
        current.pop(codec, None)
        for name in list(current):
            if name.upper() == codec.upper():
                del current[name]
        if parameters.strip():
            current[codec] = parameters
        self._set_media(codec_parameters=current)

    def set_audio_codec_payload_type(self, codec: str, payload_type: int) -> None:
        """setAudioCodecPayloadType: the dynamic payload type (96-127) ``codec`` is offered with."""
        current = dict(self.config.media.codec_payload_types)
        current[codec] = payload_type
        self._set_media(codec_payload_types=current)

    def set_audio_samples(self, ptime_ms: int, maxptime_ms: int | None = None) -> None:
        """setAudioSamples: a=ptime (and a=maxptime) in milliseconds."""
        self._set_media(ptime=ptime_ms / 1000,
                        maxptime=None if maxptime_ms is None else maxptime_ms / 1000)

    def set_audio_bitrate(self, codec: str, bitrate: int) -> None:
        """setAudioBitrate: bits per second of ``codec`` (opus, AMR)."""
        current = dict(self.config.media.codec_bitrates)
        current[codec] = bitrate
        self._set_media(codec_bitrates=current)

    def set_srtp_policy(self, policy: SrtpPolicy | int,
                        allow_unsecure_transport: bool | None = None) -> None:
        """setSrtpPolicy (0 none, 1 force, 2 prefer) and allowSrtpOverUnsecureTransport."""
        changes: dict[str, Any] = {"srtp_policy": policy}
        if allow_unsecure_transport is not None:
            changes["allow_srtp_over_unsecure_transport"] = allow_unsecure_transport
        self._set_media(**changes)

    def set_audio_rtcp_bandwidth(self, rr: int | None, rs: int | None,
                                 as_kbps: int | None) -> None:
        """setAudioRtcpBandwidth(BitsRR, BitsRS, KBitsAS): b= lines of our SDP."""
        self._set_media(rtcp_bandwidth=(rr, rs, as_kbps))

    def set_audio_processing(self, *, vad: bool | None = None, cng: bool | None = None,
                             aec: bool | None = None, ans: bool | None = None,
                             agc: bool | None = None) -> None:
        """enableVAD / enableCNG / enableAEC / enableANS / enableAGC for new calls and
        running ones (a call's own ``set_audio_processing`` wins); None: unchanged."""
        changes = {name: value for name, value in (("vad", vad), ("cng", cng), ("aec", aec),
                                                    ("ans", ans), ("agc", agc))
                   if value is not None}
        self._set_media(**changes)
        for call in list(self._calls.values()):
            call.set_audio_processing()

    def set_session_timer(self, interval: int | None, refresher: str = "uac") -> None:
        """enableSessionTimer(interval, refresher) / disableSessionTimer() (None)."""
        if interval is None:
            self.policy.session_timer = SessionTimerConfig()
            return
        try:
            who = Refresher(refresher.lower())
        except ValueError:
            raise ConfigurationError(f"refresher {refresher!r} is not 'uac' or 'uas'") from None
        try:
            self.policy.session_timer = SessionTimerConfig(enabled=True, interval=interval,
                                                           refresher=who)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

    def set_reliable_provisional(self, mode: int) -> None:
        """setReliableProvisional (0-3, RFC 3262)."""
        try:
            self.policy.reliable = ReliableProvisional(mode)
        except ValueError:
            raise ConfigurationError(f"reliable provisional mode {mode} is not 0-3") from None

    def set_max_calls(self, count: int) -> None:
        if not 1 <= count <= 10000:
            raise ConfigurationError(f"max calls {count} is not within 1-10000")
        self.policy.max_sessions = count

    def create_conference(self, **options: Any) -> Conference:
        """createAudioConference: one mix-minus bridge per phone, the local device a member
        (its microphone and speaker follow ``mute_microphone`` / ``mute_speaker``)."""
        conference = Conference.create(self, **options)
        self._gate_conference_device()
        return conference

    def set_audio_qos(self, enabled: bool) -> None:
        """enableAudioQos: mark the RTP and RTCP of calls opened from now on with DSCP 46
        (Expedited Forwarding, RFC 3246 — the voice class of RFC 4594), or stop marking."""
        self.audio_dscp = AUDIO_DSCP if enabled else None

    def mute_microphone(self, mute: bool) -> None:
        """muteMicrophone: silence the device's microphone in every call (now and later)
        and as the conference's local member. Only the microphone: a file played to a
        peer and the conference mix a call sends keep flowing."""
        self.microphone_muted = bool(mute)
        for call in list(self._calls.values()):
            if call.audio is not None:
                call.audio.microphone_muted = self.microphone_muted
        self._gate_conference_device()

    def mute_speaker(self, mute: bool) -> None:
        """muteSpeaker: the device plays silence for every call (now and later) and for
        the conference's local member. Recordings and what a call feeds into the
        conference still get the received audio."""
        self.speaker_muted = bool(mute)
        for call in list(self._calls.values()):
            if call.audio is not None:
                call.audio.speaker_muted = self.speaker_muted
        self._gate_conference_device()

    def _gate_conference_device(self) -> None:
        """Put the conference's local capture and playout behind the phone's mutes (once)."""
        conference = Conference.of(self)
        if conference is None:
            return
        driver = conference.driver
        if not isinstance(driver.local_capture, _LocalMicrophone):
            driver.local_capture = _LocalMicrophone(self, driver.local_capture)
        if not isinstance(driver.local_playout, _LocalSpeaker):
            driver.local_playout = _LocalSpeaker(self, driver.local_playout)

    @property
    def conference(self) -> Conference | None:
        """The phone's conference, if one was created."""
        return Conference.of(self)

    def play_locally(self, path: str, *, loop: bool = False) -> media_files.LocalPlayback:
        """startPlayingFileLocally: play a file on the local audio device."""
        return media_files.play_locally(self, path, loop=loop)

    def stop_playing_locally(self) -> bool:
        """stopPlayingFileLocally; False when nothing was playing."""
        return media_files.stop_playing_locally(self)

    def set_do_not_disturb(self, enabled: bool) -> None:
        """setDoNotDisturb: refuse incoming calls with 480 Temporarily Unavailable."""
        self.policy.do_not_disturb = enabled

    def set_forwarding(self, target: str | None, *, busy_only: bool = False) -> None:
        """enableCallForward / disableCallForward."""
        self.policy.forward_to = self.normalize_uri(target) if target else None
        self.policy.forward_busy_only = busy_only

    # --- events from the stack -------------------------------------------------------

    def _dispatch(self, event: object) -> None:
        if self.subscriptions.handle(event):
            return
        if isinstance(event, inv.InviteEvent):
            self._on_invite_event(event)
        elif isinstance(event, reg.RegistrationSucceeded | reg.RegistrationFailed
                        | reg.Unregistered):
            for account in self._accounts.values():
                if account.owns(event.usage_id):
                    account.handle(event)
                    return
        elif isinstance(event, rf.ReferEvent):
            transfer.dispatch(self, event)
        elif isinstance(event, pager.MessageDelivered | pager.MessageFailed
                        | pager.MessageReceived):
            messaging.dispatch(self, event)
        elif isinstance(event, RequestReceived):
            self._on_request(event)

    def _account_called(self, request: Request) -> Account | None:
        """The account whose user the INVITE's Request-URI (or To) names, if any."""
        users = {uri.user for uri in (request.uri, request.to.uri) if isinstance(uri, SipUri)}
        return next((a for a in self._accounts.values() if a.config.user in users), None)

    def _on_invite_event(self, event: inv.InviteEvent) -> None:
        if isinstance(event, inv.InviteReceived):
            usage = self.manager.usage(event.session_id)
            assert isinstance(usage, inv.InviteSession)
            request = event.request
            transport = TransportKind.from_token(request.via[0].transport)
            family = 6 if ":" in (request.via[0].received or request.via[0].host) else 4
            usage.contact = self.contact(transport, request.uri.user if isinstance(
                request.uri, SipUri) else None, family)
            account = self._account_called(request)
            if account is not None:  # its credentials answer 401/407 to our in-call requests
                usage.set_credentials(account.credentials)
            call = Call(self, usage, incoming=True, remote=request.from_, local=request.to,
                        audio=None)
            call.secure_signalling = transport is TransportKind.TLS
            if event.offer is not None:
                call.remote_offer = event.offer.data
            self.register_call(call)
            replaced = self._calls.get(event.replaces) if event.replaces is not None else None
            call.bus.emit(IncomingCall(call, request, replaced))
            if event.replaces is not None:
                transfer.take_over(self, call, event.replaces)
            return
        if isinstance(event, inv.Forwarded):
            self.bus.emit(CallForwarded(event.target, event.request))
            return
        if isinstance(event, inv.AutoRejected):
            self.bus.emit(CallRefused(event.status, event.request))
            return
        existing = self._calls.get(event.session_id)
        if existing is not None:
            existing.handle(event)

    def _on_request(self, event: RequestReceived) -> None:
        request = event.request
        now = self.now()
        if request.method == "OPTIONS":
            response = self.core.create_response(request, 200)
            response.headers.set("Allow", ", ".join(ALLOW))
            response.headers.set("Accept", "application/sdp")
            response.headers.set("Supported", ", ".join(sorted(SUPPORTED)))
            self.manager.send_response(response, now=now)
            self.bus.emit(OptionsReceived(request))
            return
        # a method we allow but nothing here handles outside a dialog (INFO, UPDATE ...)
        response = self.core.create_response(request, 481 if request.to.tag else 405)
        if response.status == 405:
            response.headers.set("Allow", ", ".join(ALLOW))
        self.manager.send_response(response, now=now)

    def _tracing(self) -> bool:
        return self.bus.wants(SignalingTraced)  # nobody listens: no record per message

    def _on_trace(self, record: TraceRecord) -> None:
        match = _CALL_ID.search(record.data)
        call = None
        if match is not None:
            call = self._calls_by_call_id.get(match.group(1).strip().decode("latin-1"))
        self.bus.emit(SignalingTraced(record.direction is TraceDirection.SENT, record.data, call))

    async def send_message(self, to: str, body: bytes | str, content_type: str | None = None,
                           *, account: Account | None = None,
                           sms: bool = False) -> messaging.OutgoingMessage:
        """Send a MESSAGE outside any call (see ``voipkit.api.messaging.send_message``)."""
        return await messaging.send_message(self, to, body, content_type, account=account,
                                            sms=sms)

    async def send_options(self, uri: str) -> Response:
        """Send an out-of-dialog OPTIONS (sendOptions) and return the final response."""
        from voipkit.sip.message import CSeq, Request

        target = SipUri.parse(self.normalize_uri(uri))
        targets = await self.resolve(target)
        me = SipUri.parse(f"sip:voipkit@{format_host(self.rtp_ip)}")
        request = Request("OPTIONS", target, from_=NameAddr(me, None, {"tag": self.ids.tag()}),
                          to=NameAddr(target), call_id=self.ids.call_id(),
                          cseq=CSeq(1, "OPTIONS"))
        future = await self.driver.send_request(request, targets)
        return await future
