"""SRTP and SRTCP (RFC 3711) keyed by SDES (RFC 4568), over libsrtp through pylibsrtp.

Knows: the SDES crypto suites we can run (AES_CM_128_HMAC_SHA1_80 and _32 of RFC 4568
§6.2, AEAD_AES_128_GCM of RFC 7714 §14.2), how an ``a=crypto`` line's inline key,
lifetime, MKI and session parameters map onto a libsrtp policy, and which packets to
drop (replayed, forged, malformed) while counting them. Also the pure SRTP policy of
the vendor manual's ``setSrtpPolicy`` (none / prefer / force, and whether SDES keys may
travel over signalling that is not TLS): what to offer, and whether to accept an offer.
Must not know: sockets, SIP, the clock, or how keys are made (``sdp.negotiate.new_crypto``
makes them from an injected ``IdSource``). libsrtp does the cryptography; this module
only decides which packets reach it and what its answers mean.

Wire input is never raised: ``unprotect``/``unprotect_rtcp`` return None for a packet
that must be dropped and count why in :class:`SrtpCounters`. Local input raises:
an unusable crypto line raises :class:`SrtpError` (status_hint 488, RFC 4568 §7.1.2:
an answerer that cannot use any offered crypto attribute rejects the stream), and
``protect`` raises when the send key is exhausted or libsrtp refuses the packet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import pylibsrtp

from voipkit.sdp.errors import SdpError
from voipkit.sdp.model import Crypto

__all__ = [
    "MAX_SRTP_LIFETIME",
    "SECURE_PROTOS",
    "SUITES",
    "SrtpAnswerDecision",
    "SrtpContext",
    "SrtpCounters",
    "SrtpError",
    "SrtpKey",
    "SrtpKeyExpiredError",
    "SrtpOfferPlan",
    "SrtpPolicy",
    "SrtpSuite",
    "answer_uses_srtp",
    "decide_offer",
    "key_from_crypto",
    "plan_offer",
    "select_crypto",
]

#: RFC 3711 §9.2: "2^48 SRTP packets" at most under one master key.
MAX_SRTP_LIFETIME = 1 << 48
#: RFC 4568 §6.3.7: "The minimum value of WSH is 64"; libsrtp's window is below 2^15.
_MIN_WINDOW, _MAX_WINDOW = 64, 0x7FFF
SECURE_PROTOS = frozenset({"RTP/SAVP", "RTP/SAVPF"})
_PLAIN_PROTOS = {"RTP/SAVP": "RTP/AVP", "RTP/SAVPF": "RTP/AVPF"}


@dataclass(frozen=True, slots=True)
class SrtpSuite:
    """One crypto suite: its libsrtp profile and its sizes in bytes.

    ``rtp_tag`` is the SRTP authentication tag; ``rtcp_trailer`` is what SRTCP adds
    (the 4-byte E-flag/index word, RFC 3711 §3.4, plus the tag; RFC 4568 §6.2.2: the
    _32 suite still uses an 80-bit SRTCP tag).
    """

    name: str
    profile: int
    key_length: int
    salt_length: int
    rtp_tag: int
    rtcp_trailer: int

    @property
    def key_salt_length(self) -> int:
        return self.key_length + self.salt_length


SUITES: dict[str, SrtpSuite] = {
    s.name: s
    for s in (
        # RFC 4568 §6.2.1: 128-bit key, 112-bit salt, 80-bit tag.
        SrtpSuite("AES_CM_128_HMAC_SHA1_80", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
                  16, 14, 10, 14),
        # RFC 4568 §6.2.2: the same with a 32-bit SRTP tag (SRTCP keeps 80 bits).
        SrtpSuite("AES_CM_128_HMAC_SHA1_32", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
                  16, 14, 4, 14),
        # RFC 7714 §14.2: 16-byte key, 12-byte salt (§8.1), 16-byte tag (§8.2).
        SrtpSuite("AEAD_AES_128_GCM", pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
                  16, 12, 16, 20),
    )
}


class SrtpError(SdpError):
    """A crypto line we cannot use, or an SRTP operation on our side that failed.

    ``status_hint`` is 488 (Not Acceptable Here) for an offer carrying it.
    """

    def __init__(self, reason: str, *, status_hint: int = 488) -> None:
        super().__init__(reason, status_hint=status_hint)


class SrtpKeyExpiredError(SrtpError):
    """The send master key reached its lifetime; a new offer must re-key (RFC 4568 §6.1)."""


@dataclass(frozen=True, slots=True)
class SrtpKey:
    """A master key, salt and limits read from one ``a=crypto`` line.

    ``lifetime`` is the number of packets the key may protect (RFC 4568 §6.1), None
    for the suite's maximum; ``window_size`` is the replay window (RFC 4568 §6.3.7
    WSH, default 128 as libsrtp).
    """

    suite: SrtpSuite
    master_key: bytes
    master_salt: bytes
    lifetime: int | None = None
    window_size: int = 128

    def policy(self, ssrc_type: int) -> pylibsrtp.Policy:
        policy = pylibsrtp.Policy(key=self.master_key + self.master_salt, ssrc_type=ssrc_type,
                                  srtp_profile=self.suite.profile)
        policy.window_size = self.window_size
        return policy


def key_from_crypto(crypto: Crypto) -> SrtpKey:
    """Read the key of ``crypto`` and check that libsrtp can run it.

    Raises:
        SrtpError: an unsupported suite; more than one key or an MKI (RFC 4568 §6.1:
            several keys need MKIs, and pylibsrtp 1.0 exposes no MKI setting); a key
            of the wrong length or bad base64; a zero lifetime or one above 2^48
            (RFC 3711 §9.2); a session parameter libsrtp cannot honour (KDR other
            than 0, UNENCRYPTED_*, UNAUTHENTICATED_SRTP, FEC_KEY, an unknown one
            without the "-" that marks it optional, RFC 4568 §6.3).
    """
    where = f"a=crypto:{crypto.tag} {crypto.suite}"
    suite = SUITES.get(crypto.suite)
    if suite is None:
        raise SrtpError(f"{where}: crypto suite not supported (we run "
                        f"{', '.join(SUITES)})")
    if len(crypto.key_params) != 1:
        raise SrtpError(f"{where}: {len(crypto.key_params)} keys; several keys need MKIs "
                        "(RFC 4568 §6.1), which are not supported")
    param = crypto.key_params[0]
    if param.mki is not None:
        raise SrtpError(f"{where}: MKI {param.mki} is not supported (pylibsrtp has no MKI "
                        "setting); offer the key without an MKI")
    try:
        key_salt = param.key_salt_bytes
    except SdpError as exc:
        raise SrtpError(f"{where}: {exc.reason}") from None
    if len(key_salt) != suite.key_salt_length:
        raise SrtpError(f"{where}: inline key is {len(key_salt)} bytes, the suite needs "
                        f"{suite.key_length} key + {suite.salt_length} salt bytes")
    lifetime: int | None = None
    if param.lifetime is not None:
        try:
            lifetime = param.lifetime_packets
        except ValueError:
            raise SrtpError(f"{where}: lifetime {param.lifetime!r} is not a number") from None
        if lifetime is None or not 0 < lifetime <= MAX_SRTP_LIFETIME:
            raise SrtpError(f"{where}: lifetime {param.lifetime} must be 1..2^48 packets "
                            "(RFC 3711 §9.2)")
    window = 128
    for session_param in crypto.session_params:
        name, _, value = session_param.partition("=")
        if name == "KDR" and value == "0":
            continue  # RFC 4568 §6.3.1: 0 means no re-keying by derivation rate
        if name == "WSH":
            if not value.isdigit() or not _MIN_WINDOW <= int(value) <= _MAX_WINDOW:
                raise SrtpError(f"{where}: WSH={value} outside {_MIN_WINDOW}..{_MAX_WINDOW} "
                                "(RFC 4568 §6.3.7)")
            window = int(value)
            continue
        if name == "FEC_ORDER":
            continue  # no FEC is applied, so the order does not matter (RFC 4568 §6.3.5)
        if name.startswith("-"):
            continue  # RFC 4568 §9.1: a "-" marks an extension we may ignore
        raise SrtpError(f"{where}: session parameter {session_param!r} is not supported")
    return SrtpKey(suite, key_salt[:suite.key_length], key_salt[suite.key_length:],
                   lifetime, window)


def select_crypto(offered: Sequence[Crypto], suites: Sequence[str] = tuple(SUITES)
                  ) -> Crypto | None:
    """The first offered crypto line (offerer's preference) whose suite is in ``suites``
    and whose key we can run; None when there is none (RFC 4568 §7.1.2: reject)."""
    for crypto in offered:
        if crypto.suite not in suites:
            continue
        try:
            key_from_crypto(crypto)
        except SrtpError:
            continue
        return crypto
    return None


@dataclass(slots=True)
class SrtpCounters:
    """What happened to packets since the context was made.

    Dropped inbound packets are counted by cause: ``replayed`` (RFC 3711 §3.3.2 replay
    list), ``auth_failed`` (the tag did not verify: forged or corrupted, §3.3),
    ``malformed`` (too short or otherwise unparsable), ``expired`` (arrived after the
    peer's key lifetime ran out, RFC 4568 §6.1).
    """

    protected: int = 0
    unprotected: int = 0
    replayed: int = 0
    auth_failed: int = 0
    malformed: int = 0
    expired: int = 0
    rtcp_protected: int = 0
    rtcp_unprotected: int = 0
    rtcp_replayed: int = 0
    rtcp_auth_failed: int = 0
    rtcp_malformed: int = 0
    rtcp_expired: int = 0


_AUTH_FAILURE = "authentication failure"
_REPLAY = ("replay check failed (bad index)", "replay check failed (index too old)",
           "packet index is too old to consider")
_MIN_RTP, _MIN_RTCP = 12, 8  # RFC 3550 §5.1 fixed header; §6.4.2 RR header with SSRC


class SrtpContext:
    """Both directions of one SRTP session (RTP and its RTCP, muxed or not).

    ``local`` is the crypto line we sent (it keys what we send), ``remote`` the peer's
    (it keys what we receive), RFC 4568 §6.1. Both directions accept any SSRC, so a
    remote that restarts with a new SSRC keeps working (libsrtp's wildcard SSRC
    templates; each SSRC gets its own replay window and rollover counter).

    Args:
        local: our crypto attribute.
        remote: the peer's crypto attribute.

    Raises:
        SrtpError: either line cannot be used (see :func:`key_from_crypto`).
    """

    def __init__(self, local: Crypto, remote: Crypto) -> None:
        self.send_key = key_from_crypto(local)
        self.receive_key = key_from_crypto(remote)
        self.counters = SrtpCounters()
        self._tx = pylibsrtp.Session(self.send_key.policy(pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
        self._rx = pylibsrtp.Session(self.receive_key.policy(pylibsrtp.Policy.SSRC_ANY_INBOUND))
        self._sent = 0
        self._received = 0

    # -- send ---------------------------------------------------------------------------

    def _spend_send_key(self) -> None:
        lifetime = self.send_key.lifetime
        if lifetime is not None and self._sent >= lifetime:
            raise SrtpKeyExpiredError(f"send key lifetime of {lifetime} packets used up; "
                                 "re-key with a new offer (RFC 4568 §6.1)")
        self._sent += 1

    def protect(self, rtp: bytes) -> bytes:
        """Encrypt and authenticate one RTP packet (RFC 3711 §3.3).

        Raises:
            SrtpKeyExpiredError: the send key's lifetime is used up.
            SrtpError: libsrtp refused it (shorter than an RTP header, longer than
                libsrtp's buffer, or a sequence number protected before).
        """
        self._spend_send_key()
        try:
            out = self._tx.protect(rtp)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(f"SRTP protect failed: {exc}") from None
        self.counters.protected += 1
        return out

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        """Encrypt and authenticate one compound RTCP packet (RFC 3711 §3.4)."""
        self._spend_send_key()
        try:
            out = self._tx.protect_rtcp(rtcp)
        except (pylibsrtp.Error, ValueError) as exc:
            raise SrtpError(f"SRTCP protect failed: {exc}") from None
        self.counters.rtcp_protected += 1
        return out

    # -- receive ------------------------------------------------------------------------

    def _receive_key_spent(self) -> bool:
        lifetime = self.receive_key.lifetime
        return lifetime is not None and self._received >= lifetime

    def unprotect(self, srtp: bytes) -> bytes | None:
        """The RTP packet inside ``srtp``, or None (counted) when it must be dropped."""
        c = self.counters
        if len(srtp) < _MIN_RTP + self.receive_key.suite.rtp_tag or srtp[0] >> 6 != 2:
            c.malformed += 1
            return None
        if self._receive_key_spent():
            c.expired += 1
            return None
        try:
            out = self._rx.unprotect(srtp)
        except (pylibsrtp.Error, ValueError) as exc:
            reason = str(exc)
            if reason == _AUTH_FAILURE:
                c.auth_failed += 1
            elif reason in _REPLAY:
                c.replayed += 1
            else:
                c.malformed += 1
            return None
        self._received += 1
        c.unprotected += 1
        return out

    def unprotect_rtcp(self, srtcp: bytes) -> bytes | None:
        """The compound RTCP packet inside ``srtcp``, or None (counted) when dropped."""
        c = self.counters
        if len(srtcp) < _MIN_RTCP + self.receive_key.suite.rtcp_trailer or srtcp[0] >> 6 != 2:
            c.rtcp_malformed += 1
            return None
        if self._receive_key_spent():
            c.rtcp_expired += 1
            return None
        try:
            out = self._rx.unprotect_rtcp(srtcp)
        except (pylibsrtp.Error, ValueError) as exc:
            reason = str(exc)
            if reason == _AUTH_FAILURE:
                c.rtcp_auth_failed += 1
            elif reason in _REPLAY:
                c.rtcp_replayed += 1
            else:
                c.rtcp_malformed += 1
            return None
        self._received += 1
        c.rtcp_unprotected += 1
        return out


# -- policy (the manual's setSrtpPolicy) ----------------------------------------------------


class SrtpPolicy(Enum):
    """The manual's ``SRTP_POLICY``; the values are the manual's numbers.

    NONE: plain RTP only. PREFER: offer keys but accept a peer without SRTP.
    FORCE: SRTP or no call.
    """

    NONE = 0
    FORCE = 1
    PREFER = 2


@dataclass(frozen=True, slots=True)
class SrtpOfferPlan:
    """How to write an m= line of an offer we make.

    ``proto`` is the transport protocol; ``crypto`` says whether to add a=crypto lines.
    PREFER offers RTP/AVP with a=crypto lines ("best effort" SRTP as PJSIP's optional
    mode and Asterisk do): a peer without SRTP ignores the unknown attribute and the
    call goes on in plain RTP; a peer with SRTP answers a crypto line.
    """

    proto: str
    crypto: bool


def _keys_may_travel(secure_signalling: bool, allow_unsecure: bool) -> bool:
    # RFC 4568 §8.1: SDES keys are in the clear in SDP, so "the signaling protocol
    # MUST provide confidentiality"; allowSrtpOverUnsecureTransport waives it.
    return secure_signalling or allow_unsecure


def plan_offer(policy: SrtpPolicy, *, secure_signalling: bool, allow_unsecure: bool,
               proto: str = "RTP/AVP") -> SrtpOfferPlan:
    """The m= line protocol and keys for an offer under ``policy``.

    Args:
        policy: the configured SRTP policy.
        secure_signalling: the SIP transport to the next hop is TLS (sips or ;transport=tls).
        allow_unsecure: the manual's ``allowSrtpOverUnsecureTransport``.
        proto: the plain profile to start from (RTP/AVP or RTP/AVPF).

    Raises:
        SrtpError: FORCE over a transport that may not carry keys (RFC 4568 §8.1).
    """
    plain = _PLAIN_PROTOS.get(proto, proto)
    if policy is SrtpPolicy.NONE:
        return SrtpOfferPlan(plain, False)
    if not _keys_may_travel(secure_signalling, allow_unsecure):
        if policy is SrtpPolicy.FORCE:
            raise SrtpError("SRTP is forced but SDES keys may not travel over signalling "
                            "without TLS (RFC 4568 §8.1; allowSrtpOverUnsecureTransport is "
                            "off)")
        return SrtpOfferPlan(plain, False)
    if policy is SrtpPolicy.FORCE:
        return SrtpOfferPlan("RTP/S" + plain.removeprefix("RTP/"), True)
    return SrtpOfferPlan(plain, True)


@dataclass(frozen=True, slots=True)
class SrtpAnswerDecision:
    """What to do with one offered m= line.

    ``accept`` False means reject the stream (port 0) and, when no stream is left,
    answer ``status`` (488). When accepted, ``crypto`` is the offered line to answer
    (same tag and suite, our own key: ``sdp.negotiate.new_crypto``), or None for
    plain RTP; the answer keeps the offer's ``proto`` (RFC 3264 §6).
    """

    accept: bool
    crypto: Crypto | None
    status: int | None
    reason: str


def decide_offer(policy: SrtpPolicy, *, proto: str, crypto: Sequence[Crypto],
                 secure_signalling: bool, allow_unsecure: bool) -> SrtpAnswerDecision:
    """Accept or reject one offered m= line under ``policy``.

    ========  ==========================  ===========================================
    policy    RTP/SAVP(F)                 RTP/AVP(F)
    ========  ==========================  ===========================================
    NONE      reject 488                  plain RTP (a=crypto lines ignored)
    PREFER    SRTP, else reject 488       SRTP if a usable a=crypto, else plain RTP
    FORCE     SRTP, else reject 488       SRTP if a usable a=crypto, else reject 488
    ========  ==========================  ===========================================

    "SRTP" needs a usable crypto line (:func:`select_crypto`) and signalling that may
    carry our key back (TLS, or ``allow_unsecure``; RFC 4568 §8.1).
    """
    secure = proto in SECURE_PROTOS
    if policy is SrtpPolicy.NONE:
        if secure:
            return SrtpAnswerDecision(False, None, 488, f"{proto} offered, SRTP is disabled")
        return SrtpAnswerDecision(True, None, None, "plain RTP")
    chosen = select_crypto(crypto)
    may_travel = _keys_may_travel(secure_signalling, allow_unsecure)
    if chosen is not None and may_travel:
        return SrtpAnswerDecision(True, chosen, None, f"SRTP with {chosen.suite}")
    if chosen is None:
        why = "no usable a=crypto line (RFC 4568 §7.1.2)"
    else:
        why = "SDES keys may not travel over signalling without TLS (RFC 4568 §8.1)"
    if secure or policy is SrtpPolicy.FORCE:
        return SrtpAnswerDecision(False, None, 488, why)
    return SrtpAnswerDecision(True, None, None, f"plain RTP: {why}")


def answer_uses_srtp(policy: SrtpPolicy, *, proto: str, crypto: Sequence[Crypto]) -> bool:
    """Whether an answer to our offer turns SRTP on for its stream.

    An answer with an a=crypto line uses SRTP (RTP/SAVP, or RTP/AVP answering our
    best-effort PREFER offer); one without uses plain RTP, which FORCE refuses.

    Raises:
        SrtpError: RTP/SAVP without a=crypto (RFC 4568 §7.1.2), or plain RTP under FORCE.
    """
    if crypto:
        return True
    if proto in SECURE_PROTOS:
        raise SrtpError(f"answer is {proto} without a=crypto (RFC 4568 §7.1.2)")
    if policy is SrtpPolicy.FORCE:
        raise SrtpError("SRTP is forced but the answer is plain RTP")
    return False
