"""Configuration of a Phone and its accounts: frozen, keyword-only, validated early.

Knows: what a user can set (listeners, TLS, media, call policy, accounts) and
how to check it. Must not know: how the settings are applied. Every invalid
value raises ``ConfigurationError`` naming the field, the value and what is
accepted, at construction time — never later on the wire.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from voipkit.api.errors import ConfigurationError
from voipkit.media.codecs import FULL_CODECS
from voipkit.media.srtp import SrtpPolicy
from voipkit.sdp.errors import SdpError
from voipkit.sdp.model import parse_fmtp_params
from voipkit.sip.addressing import TransportKind, format_host
from voipkit.sip.timers import TimerConfig
from voipkit.sip.usage.prack import ReliableProvisional
from voipkit.sip.usage.session_timer import SessionTimerConfig

SUPPORTED_CODECS = tuple(spec.name for spec in FULL_CODECS if spec.is_audio)
"""Audio codecs this build can encode and decode, as SDP names (``FULL_CODECS``):
opus, G722, PCMU, PCMA, AMR, G723 and CN where FFmpeg has them."""
DEFAULT_CODECS = ("PCMU", "PCMA")
_CANONICAL = {name.upper(): name for name in SUPPORTED_CODECS}


def canonical_codec(name: str) -> str:
    """The SDP spelling of a codec name (``OPUS`` -> ``opus``).

    Raises:
        ConfigurationError: not a codec of this build.
    """
    canonical = _CANONICAL.get(name.upper())
    if canonical is None:
        raise ConfigurationError(f"codec {name!r}: supported are {list(SUPPORTED_CODECS)}")
    return canonical


@dataclass(frozen=True, slots=True)
class Listen:
    """One SIP listener: a transport and an IP literal (port 0: any free port)."""

    transport: TransportKind
    host: str
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> Listen:
        """``udp:127.0.0.1:5060``, ``tcp:[::1]:0``, ``tls:127.0.0.1:5061``.

        Raises:
            ConfigurationError: not ``KIND:IP:PORT`` with a known kind and an IP literal.
        """
        kind, sep, rest = text.partition(":")
        host, _, port_text = rest.rpartition(":")
        if not sep or not host or not port_text.isdigit():
            raise ConfigurationError(
                f"listen address {text!r} is not TRANSPORT:IP:PORT (e.g. udp:127.0.0.1:5060)")
        try:
            transport = TransportKind.from_token(kind)
        except ValueError:
            raise ConfigurationError(
                f"listen address {text!r}: transport {kind!r} is not udp, tcp or tls") from None
        return cls(transport, host.strip("[]"), int(port_text))

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ConfigurationError(
                f"listen host {self.host!r} is not an IP address (use 127.0.0.1, ::1 ...)"
            ) from None
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"listen port {self.port} is not in 0-65535")

    def __str__(self) -> str:
        return f"{self.transport.value.lower()}:{format_host(self.host)}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsSettings:
    """TLS for SIP: verification on by default (the manual's verifyTLSCertificate)."""

    verify: bool = True
    ca_file: str | None = None
    "Extra trust anchors (PEM), e.g. a test server's self-signed certificate."
    ca_path: str | None = None
    "A directory of trust anchors (the manual's TLSCertificatesRootPath)."
    ciphers: str | None = None
    "An OpenSSL cipher list (the manual's TLSCipherList); None: the defaults."
    cert_file: str | None = None
    "Our certificate chain, needed to listen on TLS."
    key_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaConfig:
    """Audio settings of every call."""

    rtp_ip: str | None = None
    "Where RTP is bound and what SDP announces; None: the first SIP listener's address."
    rtp_port_range: tuple[int, int] = (20000, 40000)
    "setRtpPortRange: RTP takes an even port, RTCP the next one."
    codecs: tuple[str, ...] = DEFAULT_CODECS
    "Offered in this order of preference (setAudioCodecs); names as in SDP, any case."
    codec_parameters: Mapping[str, str] = field(default_factory=dict)
    """Codec name -> a=fmtp parameters we offer and receive with, e.g.
    ``{"opus": "maxaveragebitrate=24000;useinbandfec=1", "AMR": "octet-align=1"}``
    (setAudioCodecParameter); replaces the codec's default fmtp."""
    codec_payload_types: Mapping[str, int] = field(default_factory=dict)
    "Codec name -> dynamic payload type (96-127) to offer it with (setAudioCodecPayloadType)."
    codec_bitrates: Mapping[str, int] = field(default_factory=dict)
    "Codec name -> bits per second for codecs with a rate (opus, AMR) (setAudioBitrate)."
    ptime: float = 0.02
    """Packetization time in seconds (setAudioSamples); a codec with fixed frames
    (G.723.1: 30 ms) rounds it up to whole frames."""
    maxptime: float | None = None
    "a=maxptime in seconds (setAudioSamples' second argument); None: not offered."
    srtp_policy: SrtpPolicy = SrtpPolicy.NONE
    "setSrtpPolicy: NONE (plain RTP), PREFER (offer keys, accept plain), FORCE (SRTP or 488)."
    allow_srtp_over_unsecure_transport: bool = False
    """allowSrtpOverUnsecureTransport: let SDES keys travel over SIP without TLS
    (RFC 4568 §8.1 forbids it otherwise; FORCE then cannot call over UDP/TCP)."""
    rtcp_bandwidth: tuple[int | None, int | None, int | None] | None = None
    """setAudioRtcpBandwidth(BitsRR, BitsRS, KBitsAS): b=RR and b=RS in bits/s
    (RFC 3556) and b=AS in kb/s on our m= line; None: no b= lines."""
    vad: bool = False
    "enableVAD: send nothing (or comfort noise) in silence."
    cng: bool = False
    "enableCNG: RFC 3389 comfort noise in the silences VAD finds (offers CN)."
    aec: bool = False
    "enableAEC: cancel the echo of what is played out from the captured audio."
    ans: bool = False
    "enableANS: noise suppression of the captured audio."
    agc: bool = False
    "enableAGC: automatic gain control of the captured audio."
    dtmf_payload_type: int = 101
    "Payload type offered for RFC 4733 telephone-event."
    early_media: bool = False
    "enableEarlyMedia: play the audio of a 183 before the call is answered."
    symmetric_rtp: bool = True
    "Send RTP to where the peer's RTP comes from once it arrives (RFC 4961)."

    def __post_init__(self) -> None:
        low, high = self.rtp_port_range
        if not (1024 <= low < high <= 65535):
            raise ConfigurationError(
                f"rtp_port_range {self.rtp_port_range} must satisfy 1024 <= min < max <= 65535")
        unknown = [c for c in self.codecs if c.upper() not in _CANONICAL]
        if unknown or not self.codecs or all(c.upper() == "CN" for c in self.codecs):
            raise ConfigurationError(
                f"codecs {list(self.codecs)}: supported are {list(SUPPORTED_CODECS)} "
                "(at least one besides CN)")
        object.__setattr__(self, "codecs", tuple(canonical_codec(c) for c in self.codecs))
        parameters: dict[str, str] = {}
        for name, text in self.codec_parameters.items():
            try:
                names = parse_fmtp_params(text)
                if any(not n or any(c.isspace() for c in n) for n in names) or \
                        "\r" in text or "\n" in text:
                    raise ValueError(text)
            except (SdpError, ValueError):
                raise ConfigurationError(
                    f"codec_parameters[{name!r}] = {text!r} is not a=fmtp parameters "
                    "(name=value;name=value)") from None
            parameters[canonical_codec(name)] = text.strip()
        object.__setattr__(self, "codec_parameters", parameters)
        payload_types: dict[str, int] = {}
        for name, pt in self.codec_payload_types.items():
            if not 96 <= pt <= 127:
                raise ConfigurationError(
                    f"payload type {pt} for {name} is not a dynamic type (96-127)")
            payload_types[canonical_codec(name)] = pt
        if len(set(payload_types.values())) != len(payload_types) or \
                self.dtmf_payload_type in payload_types.values():
            raise ConfigurationError(f"codec_payload_types {payload_types} reuse a payload "
                                     f"type (telephone-event has {self.dtmf_payload_type})")
        object.__setattr__(self, "codec_payload_types", payload_types)
        bitrates: dict[str, int] = {}
        for name, bps in self.codec_bitrates.items():
            if not 4750 <= bps <= 510_000:
                raise ConfigurationError(
                    f"bitrate {bps} b/s for {name} is not within 4750-510000")
            bitrates[canonical_codec(name)] = bps
        object.__setattr__(self, "codec_bitrates", bitrates)
        if not 0.01 <= self.ptime <= 0.06:
            raise ConfigurationError(f"ptime {self.ptime} s is not within 0.01-0.06 s")
        if self.maxptime is not None and not self.ptime <= self.maxptime <= 0.2:
            raise ConfigurationError(
                f"maxptime {self.maxptime} s is not within ptime ({self.ptime}) - 0.2 s")
        if not isinstance(self.srtp_policy, SrtpPolicy):
            try:
                object.__setattr__(self, "srtp_policy", SrtpPolicy(self.srtp_policy))
            except ValueError:
                raise ConfigurationError(
                    f"srtp_policy {self.srtp_policy!r} is not 0 (none), 1 (force) or "
                    "2 (prefer)") from None
        if self.rtcp_bandwidth is not None and (len(self.rtcp_bandwidth) != 3 or any(
                v is not None and v < 0 for v in self.rtcp_bandwidth)):
            raise ConfigurationError(
                f"rtcp_bandwidth {self.rtcp_bandwidth} must be (RR bits/s, RS bits/s, "
                "AS kb/s), each None or >= 0")
        if not 96 <= self.dtmf_payload_type <= 127:
            raise ConfigurationError(
                f"dtmf_payload_type {self.dtmf_payload_type} is not a dynamic type (96-127)")
        if self.rtp_ip is not None:
            _check_ip("rtp_ip", self.rtp_ip)


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneConfig:
    """A user agent: its listeners, TLS, media and call policy (the manual's initialize)."""

    listen: tuple[Listen | str, ...] = ("udp:127.0.0.1:0",)
    "SIP listeners; port 0 picks a free port. Never a guessed address: give the IP."
    user_agent: str = "voipkit/0.1"
    "User-Agent of requests (the manual's sipAgent)."
    max_calls: int = 8
    "maxCallSessions: more concurrent calls are answered 486 Busy Here."
    tls: TlsSettings = field(default_factory=TlsSettings)
    media: MediaConfig = field(default_factory=MediaConfig)
    timers: TimerConfig = field(default_factory=TimerConfig)
    "RFC 3261 T1/T2/T4."
    session_timer: SessionTimerConfig = field(default_factory=SessionTimerConfig)
    "RFC 4028 (enableSessionTimer); off by default."
    reliable_provisional: ReliableProvisional = ReliableProvisional.NEVER
    "RFC 3262 mode (setReliableProvisional 0-3)."
    do_not_disturb: bool = False
    forward_to: str | None = None
    "Forward incoming calls to this URI with 302 (enableCallForward)."
    forward_busy_only: bool = False
    supported_info_types: tuple[str, ...] = ("application/dtmf-relay",)
    "INFO bodies we accept (addSupportedMimeType); others get 415."

    def __post_init__(self) -> None:
        if not self.listen:
            raise ConfigurationError("a phone needs at least one listener")
        parsed = tuple(Listen.parse(x) if isinstance(x, str) else x for x in self.listen)
        object.__setattr__(self, "listen", parsed)
        if not 1 <= self.max_calls <= 10000:
            raise ConfigurationError(f"max_calls {self.max_calls} is not within 1-10000")
        if not isinstance(self.reliable_provisional, ReliableProvisional):
            try:
                mode = ReliableProvisional(self.reliable_provisional)
            except ValueError:
                raise ConfigurationError(
                    f"reliable_provisional {self.reliable_provisional} is not 0-3") from None
            object.__setattr__(self, "reliable_provisional", mode)

    @property
    def listeners(self) -> tuple[Listen, ...]:
        return tuple(x for x in self.listen if isinstance(x, Listen))


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountConfig:
    """A SIP identity (the manual's setUser)."""

    user: str
    "The user part of our address (userName)."
    domain: str
    "The SIP domain (sipDomain): our address is sip:user@domain."
    password: str | None = field(default=None, repr=False)
    auth_name: str | None = None
    "Digest username when it differs from ``user`` (authName)."
    display_name: str | None = None
    server: str | None = None
    "Registrar/proxy as HOST[:PORT] (sipServerAddr/Port); None: the domain (RFC 3263)."
    transport: TransportKind | str = TransportKind.UDP
    "Transport towards the server."
    outbound_proxy: str | None = None
    "HOST[:PORT] every request is sent through (outboundServerAddr/Port)."
    stun: str | None = None
    "HOST[:PORT] of a STUN server for the public address (stunServerAddr/Port)."
    expires: int = 3600
    "Requested registration lifetime, 1-3600 s."
    retry_times: int = 3
    "registerServer's retryTimes: how often a failed registration is retried."
    instance_id: str | None = None
    "RFC 5626 instance id (setInstanceId), a UUID."

    def __post_init__(self) -> None:
        if not self.user or any(c in self.user for c in " <>\"\r\n"):
            raise ConfigurationError(f"user {self.user!r} is not a valid SIP user part")
        if not self.domain or any(c in self.domain for c in " <>\"@\r\n/"):
            raise ConfigurationError(f"domain {self.domain!r} is not a host name or address")
        if not 1 <= self.expires <= 3600:
            raise ConfigurationError(f"expires {self.expires} is not within 1-3600 s")
        if isinstance(self.transport, str):
            try:
                object.__setattr__(self, "transport", TransportKind.from_token(self.transport))
            except ValueError:
                raise ConfigurationError(
                    f"transport {self.transport!r} is not udp, tcp or tls") from None
        for name in ("server", "outbound_proxy", "stun"):
            value = getattr(self, name)
            if value is not None:
                split_host_port(value, what=name)

    @property
    def kind(self) -> TransportKind:
        assert isinstance(self.transport, TransportKind)
        return self.transport


def split_host_port(text: str, *, what: str = "address") -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` -> (host without brackets, port or None).

    Raises:
        ConfigurationError: empty host or a port outside 1-65535.
    """
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ConfigurationError(f"{what} {text!r} has no host")
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ConfigurationError(f"{what} {text!r}: port must be 1-65535")
        return host, int(port_text)
    return host, None


def _check_ip(name: str, value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigurationError(f"{name} {value!r} is not an IP address") from None
