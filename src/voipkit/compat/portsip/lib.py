"""``PortSIPLib``: the PortSIP manual's functions, spelled as the manual spells them.

Knows: ``voipkit.api`` (Phone, Account, Call, their events and errors), the
vendor's enums and return conventions, and the facade's two threads. Must not
know: anything below ``api``. Each camelCase method marshals to the I/O loop
with ``Bridge.call``, delegates to ``api`` and returns 0 (or a new id > 0) or a
negative ``ErrorCode``; exceptions become integers only in ``codes.to_code``.
Events of the phone are turned into ``SIPCallbackEvents`` calls on the loop and
delivered, in order, on the callback thread (style guide, example 12).

Only functions voipkit really performs exist here; docs/api-coverage.md lists
the rest of the manual as "not yet". Vendor parameters voipkit cannot honour
(PERS transport, an OS sound device, VP9 video) are refused with
``INVALID_ARGUMENT`` and a log line saying why, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import voipkit
from voipkit.api import (
    Account,
    AccountConfig,
    AccountRegistered,
    AccountRegistrationFailed,
    Call,
    CallAnswered,
    CallConnected,
    CallEnded,
    CallFailure,
    CallForwarded,
    CallProgress,
    CallTrying,
    CallUpdated,
    ConfigurationError,
    DtmfReceived,
    IncomingCall,
    InfoReceived,
    Listen,
    OptionsReceived,
    Phone,
    PhoneConfig,
    RegistrationFailed,
    RemoteHold,
    RemoteUnhold,
    RequestFailed,
    SignalingTraced,
    TlsSettings,
    VoipkitError,
)
from voipkit.compat.portsip._bridge import Bridge
from voipkit.compat.portsip.audio import AudioFunctions
from voipkit.compat.portsip.callbacks import SIPCallbackEvents
from voipkit.compat.portsip.codes import ErrorCode, to_code
from voipkit.compat.portsip.devices import DeviceFunctions
from voipkit.compat.portsip.enums import (
    DTMF_METHOD,
    DTMF_TONES,
    PORTSIP_LOG_LEVEL,
    SESSION_REFRESH_MODE,
    TRANSPORT_TYPE,
)
from voipkit.compat.portsip.presence import PresenceFunctions
from voipkit.compat.portsip.screen import ScreenFunctions
from voipkit.compat.portsip.sessions import (
    SessionTable,
    body_of,
    header_value,
    media_summary,
    message_text,
)
from voipkit.compat.portsip.stream_io import StreamIOFunctions
from voipkit.compat.portsip.transfer import TransferFunctions
from voipkit.compat.portsip.video import VideoFunctions
from voipkit.compat.portsip.video_conference import VideoConferenceFunctions
from voipkit.compat.portsip.video_files import VideoFileFunctions

logger = logging.getLogger(__name__)

_TRANSPORTS = {TRANSPORT_TYPE.TRANSPORT_UDP: "udp", TRANSPORT_TYPE.TRANSPORT_TCP: "tcp",
               TRANSPORT_TYPE.TRANSPORT_TLS: "tls"}
_LOG_LEVELS = {PORTSIP_LOG_LEVEL.PORTSIP_LOG_ERROR: logging.ERROR,
               PORTSIP_LOG_LEVEL.PORTSIP_LOG_WARNING: logging.WARNING,
               PORTSIP_LOG_LEVEL.PORTSIP_LOG_INFO: logging.INFO,
               PORTSIP_LOG_LEVEL.PORTSIP_LOG_DEBUG: logging.DEBUG}
_DTMF_METHODS = {DTMF_METHOD.DTMF_RFC2833: "rfc4733", DTMF_METHOD.DTMF_INFO: "info"}
_REFRESHERS = {SESSION_REFRESH_MODE.SESSION_REFERESH_UAC: "uac",
               SESSION_REFRESH_MODE.SESSION_REFERESH_UAS: "uas"}
_NO_SESSION = -1
"sessionId of signaling that belongs to no call; addSipMessageHeader's 'every message'."


class StringBuilder:
    """The manual's output buffer (``StringBuilder``): functions write ``value`` into it.

    ``str(buffer)`` reads it, as ``ToString()`` does in C#.
    """

    def __init__(self, value: str = "") -> None:
        self.value = value

    def __str__(self) -> str:
        return self.value

    def __len__(self) -> int:
        return len(self.value)


class PortSIPLib(VideoFileFunctions, AudioFunctions, PresenceFunctions, TransferFunctions,
                 StreamIOFunctions, DeviceFunctions, VideoFunctions, VideoConferenceFunctions,
                 ScreenFunctions):
    """PortSIP-compatible facade over ``voipkit.api``.

    Vendor contract: methods return 0 (or a new id > 0) on success and a negative
    ``ErrorCode`` on failure; any method may be called from any thread, including
    from inside a callback. ``initialize`` starts the facade's threads and a
    ``voipkit.api.Phone``; ``unInitialize`` stops them (nothing relies on ``__del__``).
    """

    def __init__(self, callbacks: SIPCallbackEvents) -> None:
        self._callbacks = callbacks
        self._lock = threading.RLock()
        "Serialises initialize/unInitialize."
        self._bridge: Bridge | None = None
        "Set while initialized: the gate every method passes."
        self._events: Bridge | None = None
        "The bridge events are posted to (set before the phone starts)."
        self._phone: Phone | None = None
        self._account: Account | None = None
        self._transport = "udp"
        self._sessions = SessionTable()
        self._failed: set[int] = set()
        "Outgoing sessions already reported by onInviteFailure (loop only)."
        self._signal_sent = False
        self._signal_received = False
        self._log_handler: logging.Handler | None = None
        self._log_level_before: int | None = None
        self._errors_before = 0
        self._warned_dtmf_tone = False
        self._reset_audio()

    # --- voipkit-specific, read-only ---------------------------------------------------

    @property
    def phone(self) -> Phone | None:
        """The ``voipkit.api.Phone`` underneath (None before initialize): an escape hatch.

        Read it (``lib.phone.listening`` gives the bound SIP ports); anything that
        changes it must run on its loop (``phone.loop``).
        """
        return self._phone

    @property
    def callback_errors(self) -> int:
        """How many user callbacks raised since this object was made (each was logged)."""
        bridge = self._events
        return self._errors_before + (bridge.callback_errors if bridge is not None else 0)

    # --- plumbing ----------------------------------------------------------------------

    def _call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
              timeout: float = 30.0) -> int:
        bridge = self._bridge
        if bridge is None:
            return ErrorCode.NOT_INITIALIZED
        return bridge.call(fn, *args, timeout=timeout)

    def _require_phone(self) -> Phone:
        phone = self._phone
        if phone is None:
            raise ConfigurationError("PortSIPLib is not initialized")
        return phone

    async def _apply(self, action: Callable[[Phone], object]) -> int:
        action(self._require_phone())
        return 0

    def _on_phone(self, action: Callable[[Phone], object]) -> int:
        """Run a synchronous ``Phone`` setter on the loop."""
        return self._call(self._apply, action)

    async def _on_call(self, session_id: int, action: Callable[[Call], Any]) -> int:
        result = action(self._sessions.call(session_id))  # NotFoundError: INVALID_SESSION_ID
        if inspect.isawaitable(result):
            await result
        return 0

    def _with_call(self, session_id: int, action: Callable[[Call], Any]) -> int:
        """Run ``action(call)`` (a plain call or a coroutine) on the loop."""
        return self._call(self._on_call, session_id, action)

    def _post(self, callback: Callable[..., Any], *args: Any) -> None:
        bridge = self._events
        if bridge is not None:
            bridge.post(callback, *args)

    # --- Initialize and register functions ---------------------------------------------

    def initialize(self, transportType: int, localIp: str, localSIPPort: int, logLevel: int,
                   logFilePath: str, maxCallSessions: int, sipAgentString: str,
                   audioDeviceLayer: int, videoDeviceLayer: int, TLSCertificatesRootPath: str,
                   TLSCipherList: str, verifyTLSCertificate: bool) -> int:
        """Start the facade's threads and a Phone listening on ``localIp:localSIPPort``.

        Returns 0, or ALREADY_INITIALIZED, INVALID_ARGUMENT (the log says which
        argument), ADDRESS_IN_USE, TRANSPORT_FAILED.
        """
        with self._lock:
            if self._bridge is not None:
                return ErrorCode.ALREADY_INITIALIZED
            bridge = Bridge(name="portsip")
            self._events = bridge
            result = bridge.call(self._start, transportType, localIp, localSIPPort, logLevel,
                                 logFilePath, maxCallSessions, sipAgentString, audioDeviceLayer,
                                 videoDeviceLayer, TLSCertificatesRootPath, TLSCipherList,
                                 verifyTLSCertificate)
            if result != 0:
                bridge.close()
                self._errors_before += bridge.callback_errors
                self._events = None
                self._phone = None
                self._remove_log_file()
                return result
            self._bridge = bridge
            return 0

    async def _start(self, transport_type: int, local_ip: str, port: int, log_level: int,
                     log_path: str, max_calls: int, agent: str, audio_layer: int,
                     video_layer: int, ca_path: str, ciphers: str, verify: bool) -> int:
        try:
            kind = _TRANSPORTS[TRANSPORT_TYPE(transport_type)]
        except (ValueError, KeyError):
            raise ConfigurationError(
                f"transportType {transport_type}: voipkit supports TRANSPORT_UDP, "
                "TRANSPORT_TCP and TRANSPORT_TLS (not PERS)") from None
        try:
            address = ipaddress.ip_address(local_ip)
        except ValueError:
            raise ConfigurationError(f"localIp {local_ip!r} is not an IP address") from None
        if address.is_unspecified:
            raise ConfigurationError(
                f"localIp {local_ip!r}: voipkit does not guess which address to announce "
                "for media; pass one of this machine's addresses (getLocalIpAddress)")
        if audio_layer not in (0, 1):
            raise ConfigurationError(f"audioDeviceLayer {audio_layer} is not 0 (the sound "
                                     "cards) or 1 (the virtual device)")
        if video_layer not in (0, 1):
            raise ConfigurationError(f"videoDeviceLayer {video_layer} is not 0 or 1")
        self._open_log_file(log_level, log_path)
        host = f"[{address.compressed}]" if address.version == 6 else address.compressed
        config = PhoneConfig(
            listen=(Listen.parse(f"{kind}:{host}:{port}"),),
            user_agent=agent or PhoneConfig().user_agent, max_calls=max_calls,
            tls=TlsSettings(verify=bool(verify), ca_path=ca_path or None,
                            ciphers=ciphers or None),
        )
        phone = Phone(config)
        self._configure_devices(phone, audio_layer)
        self._subscribe(phone)
        self._transport = kind
        self._phone = phone
        await phone.start()
        logger.info("PortSIPLib initialized on %s", phone.listening)
        return 0

    def _open_log_file(self, level: int, path: str) -> None:
        try:
            wanted = PORTSIP_LOG_LEVEL(level)
        except ValueError:
            raise ConfigurationError(f"logLevel {level} is not a PORTSIP_LOG_LEVEL") from None
        if wanted is PORTSIP_LOG_LEVEL.PORTSIP_LOG_NONE:
            return
        if not path or not os.path.isdir(path):
            raise ConfigurationError(f"logFilePath {path!r} is not an existing folder")
        stamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S_%f")
        handler = logging.FileHandler(os.path.join(path, f"PortSIP_Log_{stamp}.log"),
                                      encoding="utf-8")
        handler.setLevel(_LOG_LEVELS[wanted])
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        root = logging.getLogger("voipkit")
        if root.getEffectiveLevel() > _LOG_LEVELS[wanted]:
            self._log_level_before = root.level
            root.setLevel(_LOG_LEVELS[wanted])
        root.addHandler(handler)
        self._log_handler = handler

    def _remove_log_file(self) -> None:
        handler, self._log_handler = self._log_handler, None
        if handler is None:
            return
        root = logging.getLogger("voipkit")
        root.removeHandler(handler)
        handler.close()
        if self._log_level_before is not None:
            root.setLevel(self._log_level_before)
            self._log_level_before = None

    def unInitialize(self) -> None:
        """Hang up every call, unregister, close the sockets and stop both threads.

        Callbacks already queued are delivered first. ``initialize`` may be called again.
        """
        with self._lock:
            bridge = self._bridge
            if bridge is None:
                return
            self._bridge = None
            try:
                bridge.run(self._shutdown, timeout=15.0)
            except Exception:
                logger.exception("PortSIPLib.unInitialize: closing the phone failed")
            bridge.close()
            self._errors_before += bridge.callback_errors
            self._events = None
            self._phone = None
            self._account = None
            self._sessions.clear()
            self._failed.clear()
            self._remove_log_file()

    async def _shutdown(self) -> None:
        phone = self._phone
        if phone is not None:
            await phone.close()

    def getVersion(self) -> str:
        """voipkit's version, MAJOR.MINOR.PATCH."""
        return voipkit.__version__

    def setLicenseKey(self, key: str) -> int:
        """Accepted and unused: voipkit needs no license. Returns 0."""
        logger.debug("setLicenseKey: voipkit needs no license key")
        return 0

    # --- NIC and local IP functions ------------------------------------------------------

    def getNICNums(self) -> int:
        """How many local IP addresses getLocalIpAddress can return (>= 0)."""
        try:
            return len(Phone.local_addresses())
        except Exception as exc:
            return to_code(exc)

    def getLocalIpAddress(self, index: int, ip: StringBuilder, ipSize: int) -> int:
        """Write the ``index``-th local address into ``ip`` (non-loopback first)."""
        try:
            addresses = Phone.local_addresses()
        except Exception as exc:
            return to_code(exc)
        if isinstance(index, bool) or not 0 <= index < len(addresses):
            logger.info("getLocalIpAddress: no address at index %r (%d known)",
                        index, len(addresses))
            return ErrorCode.INVALID_ARGUMENT
        return _fill(ip, addresses[index], ipSize)

    def setUser(self, userName: str, displayName: str, authName: str, password: str,
                sipDomain: str, sipServerAddr: str, sipServerPort: int, stunServerAddr: str,
                stunServerPort: int, outboundServerAddr: str, outboundServerPort: int) -> int:
        """Set the account; with no domain and no server it is a P2P identity at localIp."""
        return self._call(self._set_user, userName, displayName, authName, password,
                          sipDomain, sipServerAddr, sipServerPort, stunServerAddr,
                          stunServerPort, outboundServerAddr, outboundServerPort)

    async def _set_user(self, user: str, display: str, auth: str, password: str, domain: str,
                        server: str, server_port: int, stun: str, stun_port: int,
                        outbound: str, outbound_port: int) -> int:
        phone = self._require_phone()
        config = AccountConfig(
            user=user, domain=domain or server or phone.rtp_ip,
            password=password or None, auth_name=auth or None, display_name=display or None,
            server=_hostport(server, server_port), transport=self._transport,
            outbound_proxy=_hostport(outbound, outbound_port), stun=_hostport(stun, stun_port),
        )
        await self._remove_user()
        self._account = await phone.add_account(config)
        return 0

    def removeUser(self) -> None:
        """Unregister (when registered) and forget the account."""
        self._call(self._remove_user_code)

    async def _remove_user_code(self) -> int:
        await self._remove_user()
        return 0

    async def _remove_user(self) -> None:
        account, self._account = self._account, None
        if account is not None:
            await account.unregister(timeout=2.0)
            self._require_phone().remove_account(account)

    def _account_update(self, **changes: Any) -> int:
        return self._call(self._update_account, changes)

    async def _update_account(self, changes: dict[str, Any]) -> int:
        account = self._account
        if account is None:
            return ErrorCode.NO_USER
        account.config = dataclasses.replace(account.config, **changes)
        return 0

    def setDisplayName(self, displayName: str) -> int:
        """The display name of From (and of REGISTER's To) in later requests."""
        return self._account_update(display_name=displayName or None)

    def setInstanceId(self, uuid: str) -> int:
        """RFC 5626 instance id (``+sip.instance``) for the next registerServer."""
        if not uuid or any(c in uuid for c in '"<> \r\n'):
            logger.info("setInstanceId: %r is empty or holds '\"', '<', '>' or spaces", uuid)
            return ErrorCode.INVALID_ARGUMENT
        return self._account_update(instance_id=uuid)

    def registerServer(self, expires: int, retryTimes: int) -> int:
        """Start registering; onRegisterSuccess / onRegisterFailure report the outcome."""
        return self._call(self._register, expires, retryTimes)

    async def _register(self, expires: int, retry_times: int) -> int:
        account = self._account
        if account is None:
            return ErrorCode.NO_USER
        account.config = dataclasses.replace(account.config, expires=expires,
                                             retry_times=max(0, retry_times))
        await account.targets()  # a server that cannot be found fails here, with its code
        self._require_phone().spawn(self._register_in_background(account))
        return 0

    async def _register_in_background(self, account: Account) -> None:
        try:
            await account.register()
        except RegistrationFailed:
            pass  # reported by its AccountRegistrationFailed event (onRegisterFailure)
        except VoipkitError as exc:  # no REGISTER could be sent: no event reports it
            logger.warning("registration of %s failed before sending: %s", account, exc)
            self._post(self._callbacks.onRegisterFailure, str(exc), 503, "")

    def unRegisterServer(self, waitMS: int) -> int:
        """Remove the registration; wait up to ``waitMS`` ms for the answer (0: don't wait)."""
        return self._call(self._unregister, waitMS, timeout=max(30.0, waitMS / 1000 + 5))

    async def _unregister(self, wait_ms: int) -> int:
        account = self._account
        if account is None:
            return ErrorCode.NO_USER
        if wait_ms > 0:
            await account.unregister(timeout=wait_ms / 1000)
        else:
            self._require_phone().spawn(account.unregister())
        return 0

    def enableRport(self, enable: bool) -> int:
        """RFC 3581 rport in our Via headers."""
        return self._on_phone(lambda phone: phone.set_rport(bool(enable)))

    def enableEarlyMedia(self, enable: bool) -> int:
        """Play a 183's early media before the answer."""
        return self._on_phone(lambda phone: setattr(phone, "early_media", bool(enable)))

    def enablePriorityIPv6Domain(self, enable: bool) -> int:
        """Prefer the IPv6 addresses of a name that has both."""
        return self._on_phone(lambda phone: setattr(phone, "ipv6_priority", bool(enable)))

    def setUriUserEncoding(self, character: str, enable: bool) -> int:
        """Escape (True) or never escape (False) ``character`` in URI user parts."""
        return self._on_phone(
            lambda phone: phone.set_uri_user_escaping(character, bool(enable)))

    def enable3GppTags(self, enable: bool) -> int:
        """Put the 3GPP feature tags (ims.icsi.mmtel, g.3gpp.smsip) in our Contacts."""
        return self._on_phone(lambda phone: setattr(phone, "three_gpp_tags", bool(enable)))

    def setReliableProvisional(self, mode: int) -> int:
        """RFC 3262 PRACK mode 0-3 (never, supported-essential, supported, required)."""
        return self._on_phone(lambda phone: phone.set_reliable_provisional(mode))

    def enableCallbackSignaling(self, enableSending: bool, enableReceived: bool) -> None:
        """Turn onSendingSignaling / onReceivedSignaling on or off (kept across initialize)."""
        self._signal_sent = bool(enableSending)
        self._signal_received = bool(enableReceived)

    # --- Additional setting functions ----------------------------------------------------

    def setRtpPortRange(self, minimumRtpPort: int, maximumRtpPort: int) -> int:
        """Where new calls bind RTP (even port) and RTCP (the next one)."""
        return self._on_phone(lambda p: p.set_rtp_port_range(minimumRtpPort, maximumRtpPort))

    def enableCallForward(self, forBusyOnly: bool, forwardTo: str) -> int:
        """Forward incoming calls with 302 (all, or only when busy)."""
        if not forwardTo:
            logger.info("enableCallForward: forwardTo is empty")
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(
            lambda phone: phone.set_forwarding(forwardTo, busy_only=bool(forBusyOnly)))

    def disableCallForward(self) -> int:
        return self._on_phone(lambda phone: phone.set_forwarding(None))

    def enableSessionTimer(self, timerSeconds: int, refreshMode: int) -> int:
        """RFC 4028 session timer for new calls (``timerSeconds`` >= 90)."""
        try:
            refresher = _REFRESHERS[SESSION_REFRESH_MODE(refreshMode)]
        except ValueError:
            logger.info("enableSessionTimer: refreshMode %r is not UAC (0) or UAS (1)",
                        refreshMode)
            return ErrorCode.INVALID_ARGUMENT
        return self._on_phone(lambda phone: phone.set_session_timer(timerSeconds, refresher))

    def disableSessionTimer(self) -> int:
        return self._on_phone(lambda phone: phone.set_session_timer(None))

    def setDoNotDisturb(self, state: bool) -> None:
        """Refuse every incoming call with 480 while ``state`` is true."""
        self._on_phone(lambda phone: phone.set_do_not_disturb(bool(state)))

    def setKeepAliveTime(self, keepAliveTime: int) -> int:
        """SIP keep-alives on registration flows every ``keepAliveTime`` s (0: off)."""
        return self._on_phone(lambda phone: phone.set_keepalive(float(keepAliveTime)))

    def getSipMessageHeaderValue(self, sipMessage: str, headerName: str,
                                 headerValue: StringBuilder, headerValueLength: int) -> int:
        """Write the value of ``headerName`` in ``sipMessage`` into ``headerValue``.

        Returns 0, NOT_FOUND (no such header) or BUFFER_TOO_SMALL (the value needs
        more than ``headerValueLength`` - 1 bytes of UTF-8). Needs no initialize.
        """
        value = header_value(sipMessage, headerName)
        if value is None:
            return ErrorCode.NOT_FOUND
        return _fill(headerValue, value, headerValueLength)

    def addSipMessageHeader(self, sessionId: int, methodName: str, msgType: int,
                            headerName: str, headerValue: str) -> int:
        """Add a header to outgoing messages (sessionId -1: every call). Returns its id > 0."""
        return self._call(self._header_rule, "add", sessionId, methodName, msgType,
                          headerName, headerValue)

    def modifySipMessageHeader(self, sessionId: int, methodName: str, msgType: int,
                               headerName: str, headerValue: str) -> int:
        """Replace a header's value in outgoing messages that have it. Returns its id > 0."""
        return self._call(self._header_rule, "modify", sessionId, methodName, msgType,
                          headerName, headerValue)

    async def _header_rule(self, what: str, session_id: int, method: str, kind: int,
                           name: str, value: str) -> int:
        rules = self._require_phone().header_rules
        if session_id != _NO_SESSION:
            self._sessions.call(session_id)  # raises NotFoundError for an unknown session
        call_id = None if session_id == _NO_SESSION else session_id
        make = rules.add if what == "add" else rules.modify
        return make(name, value, call_id=call_id, method=method, kind=kind)

    def removeAddedSipMessageHeader(self, sipMessageHeaderId: int) -> int:
        return self._on_phone(lambda p: p.header_rules.remove_added(sipMessageHeaderId))

    def clearAddedSipMessageHeaders(self) -> int:
        return self._on_phone(lambda phone: phone.header_rules.clear_added())

    def removeModifiedSipMessageHeader(self, sipMessageHeaderId: int) -> int:
        return self._on_phone(lambda p: p.header_rules.remove_modified(sipMessageHeaderId))

    def clearModifiedSipMessageHeaders(self) -> int:
        return self._on_phone(lambda phone: phone.header_rules.clear_modified())

    # --- Audio and video functions ----------------------------------------------------

    def addSupportedMimeType(self, methodName: str, mimeType: str, subMimeType: str) -> int:
        """Accept INFO or MESSAGE bodies of ``mimeType/subMimeType`` (other methods: not yet)."""
        if methodName.upper() not in ("INFO", "MESSAGE"):
            logger.info("addSupportedMimeType: voipkit can extend the body types of INFO "
                        "only, not of %s", methodName)
            return ErrorCode.INVALID_ARGUMENT
        if not mimeType or not subMimeType or "/" in mimeType + subMimeType:
            logger.info("addSupportedMimeType: %r / %r is not a type and subtype",
                        mimeType, subMimeType)
            return ErrorCode.INVALID_ARGUMENT
        if methodName.upper() == "MESSAGE":
            return self._add_message_type(f"{mimeType}/{subMimeType}")
        return self._on_phone(lambda phone: _add_info_type(phone, f"{mimeType}/{subMimeType}"))

    # --- Call functions -------------------------------------------------------------------

    def call(self, callee: str, sendSdp: bool, videoCall: bool) -> int:
        """Call ``callee`` (a name or a SIP URI). Returns the new sessionId (> 0)."""
        refused = self._refuse_without_codec("call")
        if refused is not None:
            return refused
        video = self._check_video_call(bool(videoCall), "call")
        return self._call(self._call_out, callee, sendSdp, video)

    async def _call_out(self, callee: str, send_sdp: bool, video: bool) -> int:
        account = self._account
        if account is None:
            return ErrorCode.NO_USER
        call = await account.call(callee, send_sdp=bool(send_sdp), video=video)
        return self._sessions.add(call)

    def rejectCall(self, sessionId: int, code: int) -> int:
        """Refuse an incoming call with ``code`` (300-699, e.g. 486, 480)."""
        return self._with_call(sessionId, lambda call: call.reject(code))

    def hangUp(self, sessionId: int) -> int:
        """End the call (CANCEL, or BYE once answered)."""
        return self._with_call(sessionId, lambda call: call.hangup())

    def answerCall(self, sessionId: int, videoCall: bool) -> int:
        """Answer an incoming call, with video too when ``videoCall`` (api.video)."""
        refused = self._refuse_without_codec("answerCall")
        if refused is not None:
            return refused
        video = self._check_video_call(bool(videoCall), "answerCall")
        return self._with_call(sessionId, lambda call: call.answer(video=video))

    def updateCall(self, sessionId: int, enableAudio: bool, enableVideo: bool,
                   enableScreen: bool) -> int:
        """Send a re-INVITE with a fresh offer, adding or removing video, and the
        screen as its own stream (``enableScreen``: the selected screen on a second
        video line, ``a=content:slides``, api.screen_stream)."""
        if not enableAudio:
            logger.info("updateCall: voipkit keeps audio in a call (enableAudio=True)")
            return ErrorCode.INVALID_ARGUMENT
        video = self._check_video_call(bool(enableVideo), "updateCall")
        screen = self._check_video_call(bool(enableScreen), "updateCall")
        return self._with_call(sessionId, lambda call: call.update(
            video=video if (video or call.video is not None) else None,
            screen=screen if (screen or call.screen is not None) else None))

    def hold(self, sessionId: int) -> int:
        """Put the call on hold (re-INVITE with a=sendonly)."""
        return self._with_call(sessionId, lambda call: call.hold())

    def unHold(self, sessionId: int) -> int:
        """Take the call off hold (re-INVITE with a=sendrecv)."""
        return self._with_call(sessionId, lambda call: call.unhold())

    def muteSession(self, sessionId: int, muteIncomingAudio: bool, muteOutgoingAudio: bool,
                    muteIncomingVideo: bool, muteOutgoingVideo: bool) -> int:
        """Mute the call's audio and video either way."""
        def mute(call: Call) -> Any:
            if call.video is not None:
                call.video.mute(incoming=bool(muteIncomingVideo),
                                outgoing=bool(muteOutgoingVideo))
            return call.mute(incoming=bool(muteIncomingAudio),
                             outgoing=bool(muteOutgoingAudio))
        return self._with_call(sessionId, mute)

    def forwardCall(self, sessionId: int, forwardTo: str) -> int:
        """Redirect an incoming call with 302 to ``forwardTo``."""
        return self._with_call(sessionId, lambda call: call.forward(forwardTo))

    def sendDtmf(self, sessionId: int, dtmfMethod: int, code: int, dtmfDuration: int,
                 playDtmfTone: bool) -> int:
        """Send tone ``code`` (0-16) for ``dtmfDuration`` ms by RFC 4733 or INFO."""
        try:
            method = _DTMF_METHODS[DTMF_METHOD(dtmfMethod)]
        except ValueError:
            logger.info("sendDtmf: dtmfMethod %r is not DTMF_RFC2833 or DTMF_INFO", dtmfMethod)
            return ErrorCode.INVALID_ARGUMENT
        if isinstance(code, bool) or not 0 <= code < len(DTMF_TONES):
            logger.info("sendDtmf: code %r is not a DTMF tone 0-16", code)
            return ErrorCode.INVALID_ARGUMENT
        if playDtmfTone and not self._warned_dtmf_tone:
            self._warned_dtmf_tone = True
            logger.warning("sendDtmf: playDtmfTone=True is ignored: voipkit has no local "
                           "sound output; the tone is sent to the peer only")
        digit, duration = DTMF_TONES[code], dtmfDuration / 1000
        return self._with_call(sessionId, lambda call: call.send_dtmf(
            digit, method=method, duration=duration))

    # --- Send OPTIONS/INFO/MESSAGE functions ---------------------------------------------

    def sendOptions(self, to: str, sdp: str) -> int:
        """Send an out-of-dialog OPTIONS and wait for its final response (0 for a 2xx)."""
        if sdp:
            logger.info("sendOptions: an SDP body in OPTIONS is not supported yet")
            return ErrorCode.INVALID_ARGUMENT
        return self._call(self._send_options, to, timeout=40.0)

    async def _send_options(self, to: str) -> int:
        response = await self._require_phone().send_options(to)
        if not 200 <= response.status < 300:
            raise RequestFailed(f"OPTIONS to {to} answered {response.status} {response.reason}",
                                status=response.status, reason=response.reason,
                                response=response)
        return 0

    def sendInfo(self, sessionId: int, mimeType: str, subMimeType: str,
                 infoContents: str) -> int:
        """Send an INFO with body ``infoContents`` of type ``mimeType/subMimeType`` in a call."""
        return self._with_call(sessionId, lambda call: call.send_info(
            f"{mimeType}/{subMimeType}", infoContents.encode("utf-8")))

    # --- events -> callbacks (all on the loop) ------------------------------------------

    def _subscribe(self, phone: Phone) -> None:
        handlers: dict[type[Any], Callable[[Any], None]] = {
            AccountRegistered: self._registered, AccountRegistrationFailed: self._not_registered,
            IncomingCall: self._incoming, CallTrying: self._trying, CallProgress: self._progress,
            CallAnswered: self._answered, CallFailure: self._failure,
            CallUpdated: self._updated, CallConnected: self._connected,
            CallForwarded: self._forwarded, CallEnded: self._ended,
            RemoteHold: self._remote_hold, RemoteUnhold: self._remote_unhold,
            SignalingTraced: self._signaling, DtmfReceived: self._dtmf,
            OptionsReceived: self._options, InfoReceived: self._info,
        }
        for event_type, handler in handlers.items():
            phone.on(event_type)(handler)
        self._subscribe_audio(phone)
        self._subscribe_presence(phone)
        self._subscribe_transfer(phone)

    def _codecs(self) -> tuple[str, ...]:
        return self._require_phone().config.media.codecs

    def _registered(self, event: AccountRegistered) -> None:
        self._post(self._callbacks.onRegisterSuccess, event.reason, event.status,
                   message_text(event.response))

    def _not_registered(self, event: AccountRegistrationFailed) -> None:
        self._post(self._callbacks.onRegisterFailure, event.reason, event.status,
                   message_text(event.response))

    def _incoming(self, event: IncomingCall) -> None:
        call = event.call
        session_id = self._sessions.add(call)
        text = message_text(event.request)
        audio, has_audio, has_video = media_summary(body_of(text), self._codecs())
        self._post(self._callbacks.onInviteIncoming, session_id, *_parties(call), audio,
                   self._video_names(text), has_audio, has_video, text)

    def _trying(self, event: CallTrying) -> None:
        self._post(self._callbacks.onInviteTrying, event.call.id)

    def _progress(self, event: CallProgress) -> None:
        text = message_text(event.response)
        if event.status == 183:
            audio, has_audio, has_video = media_summary(body_of(text), self._codecs())
            self._post(self._callbacks.onInviteSessionProgress, event.call.id, audio,
                       self._video_names(text), event.early_media, has_audio, has_video, text)
        else:
            self._post(self._callbacks.onInviteRinging, event.call.id, event.reason,
                       event.status, text)

    def _answered(self, event: CallAnswered) -> None:
        call = event.call
        text = message_text(event.response)
        audio, has_audio, has_video = media_summary(body_of(text), self._codecs())
        self._post(self._callbacks.onInviteAnswered, call.id, *_parties(call),
                   audio or call.codec_names, self._video_names(text),
                   has_audio or bool(call.codec_names), has_video, text)

    def _failure(self, event: CallFailure) -> None:
        call = event.call
        if call.incoming:
            return  # the manual reports failures of outgoing calls only
        self._failed.add(call.id)
        self._post(self._callbacks.onInviteFailure, call.id, *_parties(call), event.reason,
                   event.status, message_text(event.response))

    def _updated(self, event: CallUpdated) -> None:
        if event.initiated_locally:
            return  # the manual's onInviteUpdated is for updates by the remote party
        call = event.call
        text = message_text(event.message)  # the peer's re-INVITE (its offer, if any)
        audio, _, _ = media_summary(body_of(text), self._codecs())
        # what the exchange agreed, not what the offer listed (the answer may refuse)
        video_names, has_video = self._video_state(call)
        self._post(self._callbacks.onInviteUpdated, call.id,
                   (audio or call.codec_names) if call.codec_names else "", video_names,
                   bool(call.codec_names), has_video, self._screen_state(call), text)

    def _connected(self, event: CallConnected) -> None:
        self._post(self._callbacks.onInviteConnected, event.call.id)

    def _forwarded(self, event: CallForwarded) -> None:
        self._post(self._callbacks.onInviteBeginingForward, event.target)

    def _ended(self, event: CallEnded) -> None:
        call = event.call
        self._sessions.discard(call.id)
        failed = call.id in self._failed
        self._failed.discard(call.id)
        if failed or not _closed_by_peer(call, event.reason):
            return
        self._post(self._callbacks.onInviteClosed, call.id)

    def _remote_hold(self, event: RemoteHold) -> None:
        self._post(self._callbacks.onRemoteHold, event.call.id)

    def _remote_unhold(self, event: RemoteUnhold) -> None:
        call = event.call
        self._post(self._callbacks.onRemoteUnHold, call.id, call.codec_names, "",
                   bool(call.codec_names), False)

    def _signaling(self, event: SignalingTraced) -> None:
        wanted = self._signal_sent if event.sent else self._signal_received
        if not wanted:
            return
        session_id = event.call.id if event.call is not None else _NO_SESSION
        callback = (self._callbacks.onSendingSignaling if event.sent
                    else self._callbacks.onReceivedSignaling)
        self._post(callback, session_id, event.data.decode("utf-8", "replace"))

    def _dtmf(self, event: DtmfReceived) -> None:
        tone = DTMF_TONES.find(event.digit.upper())
        if tone < 0:
            logger.info("call %s: DTMF %r has no PortSIP tone number", event.call.id,
                        event.digit)
            return
        self._post(self._callbacks.onRecvDtmfTone, event.call.id, tone)

    def _options(self, event: OptionsReceived) -> None:
        self._post(self._callbacks.onRecvOptions, message_text(event.request))

    def _info(self, event: InfoReceived) -> None:
        self._post(self._callbacks.onRecvInfo, message_text(event.request))


def _fill(buffer: StringBuilder, value: str, size: int) -> int:
    """Write ``value`` into ``buffer`` if it fits ``size`` bytes with a terminating NUL."""
    if len(value.encode("utf-8")) + 1 > size:
        logger.info("value of %d characters does not fit a buffer of %d bytes",
                    len(value), size)
        return ErrorCode.BUFFER_TOO_SMALL
    buffer.value = value
    return 0


def _hostport(host: str, port: int) -> str | None:
    if not host:
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}" if port and port > 0 else host


def _parties(call: Call) -> tuple[str, str, str, str]:
    """(callerDisplayName, caller, calleeDisplayName, callee) of a call."""
    caller, callee = (call.remote, call.local) if call.incoming else (call.local, call.remote)
    return (caller.display_name or "", str(caller.uri), callee.display_name or "",
            str(callee.uri))


def _closed_by_peer(call: Call, reason: str) -> bool:
    """Whether a CallEnded reason means the far side (or the network) ended the call."""
    if reason == "bye-local":
        return False
    if call.incoming and reason in ("rejected", "forwarded"):
        return False  # we refused it (rejectCall, forwardCall, do-not-disturb)
    return not (not call.incoming and reason == "cancelled")  # our own hangUp while ringing


def _add_info_type(phone: Phone, content_type: str) -> None:
    if content_type.lower() not in (t.lower() for t in phone.supported_info_types):
        phone.supported_info_types.append(content_type)


__all__ = ["PortSIPLib", "StringBuilder"]

