"""SrtpContext protects and unprotects RTP/RTCP as RFC 3711 says, keyed from SDES lines.

Proves:
- an independent SRTP written here from RFC 3711 (§4.3 key derivation, §4.1.1 AES-CM,
  §4.2 HMAC-SHA1) and RFC 7714 (§8 AES-GCM) with the ``cryptography`` package
  reproduces the RFC 3711 Appendix B.3 key derivation vectors, and produces the very
  bytes SrtpContext.protect produces for every suite; SrtpContext unprotects packets
  the independent implementation made (interop both ways);
- the SRTP tag is 10 / 4 / 16 bytes and the SRTCP trailer 14 / 14 / 20 bytes;
- RTP and RTCP round trip between two contexts made from each other's crypto lines;
- a replayed packet, a tampered packet, a wrong key and runt packets are dropped and
  counted (replayed, auth_failed, malformed), never raised; RTCP likewise;
- any inbound SSRC is accepted (a remote restart with a new SSRC keeps working);
- RFC 4568 inline keys decode to key and salt, lifetimes like 2^20 are read, and an
  MKI, several keys, a wrong length, an unknown suite or session parameter are
  refused with a sentence naming the problem (status 488); WSH sets the window;
- the key lifetime is enforced on both directions;
- the setSrtpPolicy decisions for offers we make and offers we receive, table-tested.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voipkit.base.ids import SequentialIds
from voipkit.media.srtp import (
    SUITES,
    SrtpContext,
    SrtpError,
    SrtpKeyExpiredError,
    SrtpPolicy,
    answer_uses_srtp,
    decide_offer,
    key_from_crypto,
    plan_offer,
    select_crypto,
)
from voipkit.sdp.model import Crypto
from voipkit.sdp.negotiate import new_crypto

ALL_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM")
SSRC = 0x1234_5678


def rtp(seq: int, *, ssrc: int = SSRC, payload: bytes = bytes(range(160))) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + payload


def rtcp_rr(ssrc: int = SSRC) -> bytes:
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


def key_bytes(n: int, start: int) -> bytes:
    return bytes((start + i) & 0xFF for i in range(n))


def crypto_for(suite: str, start: int, tag: int = 1) -> Crypto:
    return Crypto.inline(tag, suite, key_bytes(SUITES[suite].key_salt_length, start))


def pair(suite: str) -> tuple[SrtpContext, SrtpContext]:
    """Alice and Bob, each keyed with its own line and the other's, as after SDES."""
    a, b = crypto_for(suite, 1), crypto_for(suite, 101)
    return SrtpContext(a, b), SrtpContext(b, a)


# -- an independent SRTP, from the RFCs ---------------------------------------------------


def aes_cm(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def kdf(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 §4.3.1 with key_derivation_rate 0: x = (label || 0^48) XOR salt."""
    salt = master_salt.ljust(14, b"\0")  # RFC 7714 §11: a 96-bit salt is padded
    x = bytearray(salt)
    x[7] ^= label
    return aes_cm(master_key, bytes(x) + b"\0\0", bytes(length))


def reference_protect(suite: str, key_salt: bytes, packet: bytes, roc: int = 0) -> bytes:
    s = SUITES[suite]
    master_key, master_salt = key_salt[:s.key_length], key_salt[s.key_length:]
    session_key = kdf(master_key, master_salt, 0, s.key_length)
    session_salt = kdf(master_key, master_salt, 2, s.salt_length)
    header, payload = packet[:12], packet[12:]
    seq, ssrc = struct.unpack("!H", packet[2:4])[0], struct.unpack("!I", packet[8:12])[0]
    if suite == "AEAD_AES_128_GCM":
        # RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR salt; AAD = header.
        iv = bytes(a ^ b for a, b in zip(struct.pack("!HIIH", 0, ssrc, roc, seq),
                                         session_salt, strict=True))
        return header + AESGCM(session_key).encrypt(iv, payload, header)
    # RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
    index = (roc << 16) | seq
    iv = int.from_bytes(session_salt, "big") << 16 ^ ssrc << 64 ^ index << 16
    encrypted = header + aes_cm(session_key, iv.to_bytes(16, "big"), payload)
    # RFC 3711 §4.2: HMAC-SHA1 over the packet and the ROC, truncated.
    auth_key = kdf(master_key, master_salt, 1, 20)
    tag = hmac.new(auth_key, encrypted + struct.pack("!I", roc), hashlib.sha1).digest()
    return encrypted + tag[:s.rtp_tag]


def test_reference_kdf_matches_rfc_3711_appendix_b3() -> None:
    master_key = bytes.fromhex("E1F97A0D3E018BE0D64FA32C06DE4139")
    master_salt = bytes.fromhex("0EC675AD498AFEEBB6960B3AABE6")
    assert kdf(master_key, master_salt, 0, 16).hex().upper() == \
        "C61E7A93744F39EE10734AFE3FF7A087"
    assert kdf(master_key, master_salt, 2, 14).hex().upper() == \
        "30CBBC08863D8C85D49DB34A9AE1"
    assert kdf(master_key, master_salt, 1, 20).hex().upper() == \
        "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_protect_gives_the_bytes_of_the_rfc(suite: str) -> None:
    crypto = crypto_for(suite, 7)
    context = SrtpContext(crypto, crypto_for(suite, 9))
    for seq in (1, 2, 500):
        packet = rtp(seq)
        assert context.protect(packet) == reference_protect(suite, crypto.key_salt, packet)


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_unprotect_accepts_packets_of_the_independent_implementation(suite: str) -> None:
    remote = crypto_for(suite, 42)
    context = SrtpContext(crypto_for(suite, 1), remote)
    for seq in (10, 11, 13, 12):
        packet = rtp(seq, payload=bytes([seq]) * 33)
        assert context.unprotect(reference_protect(suite, remote.key_salt, packet)) == packet
    assert context.counters.unprotected == 4


# -- round trips, sizes and drops ---------------------------------------------------------


@pytest.mark.parametrize(("suite", "tag", "trailer"), [
    ("AES_CM_128_HMAC_SHA1_80", 10, 14),
    ("AES_CM_128_HMAC_SHA1_32", 4, 14),
    ("AEAD_AES_128_GCM", 16, 20),
])
def test_round_trip_and_overhead(suite: str, tag: int, trailer: int) -> None:
    alice, bob = pair(suite)
    packet = rtp(1)
    protected = alice.protect(packet)
    assert len(protected) == len(packet) + tag
    assert protected[:12] == packet[:12] and protected[12:172] != packet[12:]
    assert bob.unprotect(protected) == packet
    report = rtcp_rr()
    srtcp = bob.protect_rtcp(report)
    assert len(srtcp) == len(report) + trailer
    assert alice.unprotect_rtcp(srtcp) == report
    assert (alice.counters.protected, bob.counters.unprotected) == (1, 1)
    assert (bob.counters.rtcp_protected, alice.counters.rtcp_unprotected) == (1, 1)


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_replayed_packets_are_dropped_and_counted(suite: str) -> None:
    alice, bob = pair(suite)
    first, second = alice.protect(rtp(1)), alice.protect(rtp(2))
    assert bob.unprotect(second) == rtp(2)
    assert bob.unprotect(first) == rtp(1)  # late but inside the window: fine
    assert bob.unprotect(second) is None
    assert bob.unprotect(first) is None
    report = alice.protect_rtcp(rtcp_rr())
    assert bob.unprotect_rtcp(report) == rtcp_rr()
    assert bob.unprotect_rtcp(report) is None
    c = bob.counters
    assert (c.unprotected, c.replayed, c.auth_failed, c.malformed) == (2, 2, 0, 0)
    assert (c.rtcp_unprotected, c.rtcp_replayed) == (1, 1)


@pytest.mark.parametrize("suite", ALL_SUITES)
def test_tampered_and_forged_packets_are_dropped_and_counted(suite: str) -> None:
    alice, bob = pair(suite)
    protected = bytearray(alice.protect(rtp(1)))
    protected[20] ^= 0x01
    assert bob.unprotect(bytes(protected)) is None
    protected[20] ^= 0x01
    protected[-1] ^= 0x80  # the tag itself
    assert bob.unprotect(bytes(protected)) is None
    stranger = SrtpContext(crypto_for(suite, 200), crypto_for(suite, 201))
    assert bob.unprotect(stranger.protect(rtp(2))) is None
    assert bob.unprotect_rtcp(stranger.protect_rtcp(rtcp_rr())) is None
    assert (bob.counters.auth_failed, bob.counters.rtcp_auth_failed) == (3, 1)
    # The genuine packet still gets through after the forgeries.
    protected[-1] ^= 0x80
    assert bob.unprotect(bytes(protected)) == rtp(1)


def test_runts_and_non_rtp_are_malformed() -> None:
    alice, bob = pair("AES_CM_128_HMAC_SHA1_80")
    protected = alice.protect(rtp(1))
    assert bob.unprotect(b"") is None
    assert bob.unprotect(protected[:21]) is None  # 12-byte header + 10-byte tag at least
    assert bob.unprotect(b"\x40" + protected[1:]) is None  # version 1
    assert bob.unprotect_rtcp(b"\x80\xc9\x00\x01") is None
    assert (bob.counters.malformed, bob.counters.rtcp_malformed) == (3, 1)
    assert bob.unprotect(protected) == rtp(1)


def test_any_inbound_ssrc_is_accepted() -> None:
    alice, bob = pair("AES_CM_128_HMAC_SHA1_80")
    assert bob.unprotect(alice.protect(rtp(1, ssrc=1))) == rtp(1, ssrc=1)
    assert bob.unprotect(alice.protect(rtp(1, ssrc=2))) == rtp(1, ssrc=2)
    assert bob.counters.unprotected == 2


def test_protecting_the_same_sequence_number_twice_raises() -> None:
    alice, _ = pair("AES_CM_128_HMAC_SHA1_80")
    alice.protect(rtp(5))
    with pytest.raises(SrtpError, match="SRTP protect failed"):
        alice.protect(rtp(5))


# -- SDES keys (RFC 4568) -------------------------------------------------------------------


def test_inline_key_of_rfc_4568_decodes_to_key_salt_and_lifetime() -> None:
    # RFC 4568 §9.1's example line, minus its MKI (refused below).
    crypto = Crypto.parse("1 AES_CM_128_HMAC_SHA1_80 "
                          "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20")
    key = key_from_crypto(crypto)
    assert key.suite.name == "AES_CM_128_HMAC_SHA1_80"
    assert key.master_key == b"=-n@%^x!Bjufr9)?"
    assert key.master_salt == b",#5h\\`=&]{qiPQ"
    assert key.lifetime == 1 << 20
    assert key.window_size == 128


def test_gcm_key_is_16_bytes_and_salt_12() -> None:
    key = key_from_crypto(new_crypto(1, "AEAD_AES_128_GCM", SequentialIds()))
    assert (len(key.master_key), len(key.master_salt)) == (16, 12)


@pytest.mark.parametrize(("line", "message"), [
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
     "MKI 1:4 is not supported"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR;"
     "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", "2 keys"),
    ("1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
     "crypto suite not supported"),
    ("1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
     "30 bytes, the suite needs 16 key \\+ 12 salt"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywj", "18 bytes"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB!",
     "not valid base64"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^49",
     "lifetime 2\\^49"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR KDR=20",
     "'KDR=20' is not supported"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR "
     "UNENCRYPTED_SRTP", "'UNENCRYPTED_SRTP' is not supported"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR WSH=32",
     "WSH=32 outside 64"),
])
def test_unusable_crypto_lines_are_refused_with_a_reason(line: str, message: str) -> None:
    with pytest.raises(SrtpError, match=message) as info:
        key_from_crypto(Crypto.parse(line))
    assert info.value.status_hint == 488


def test_session_parameters_we_can_honour() -> None:
    key = key_from_crypto(Crypto.parse(
        "1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR "
        "KDR=0 WSH=256 FEC_ORDER=FEC_SRTP -X_VENDOR=1"))
    assert key.window_size == 256


def test_select_crypto_skips_unusable_lines_in_offer_order() -> None:
    mki = Crypto.parse("1 AES_CM_128_HMAC_SHA1_80 "
                       "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4")
    good32 = crypto_for("AES_CM_128_HMAC_SHA1_32", 3, tag=2)
    gcm = crypto_for("AEAD_AES_128_GCM", 3, tag=3)
    assert select_crypto([mki, good32, gcm]) == good32
    assert select_crypto([mki, good32, gcm], ["AEAD_AES_128_GCM"]) == gcm
    assert select_crypto([mki]) is None


def test_key_lifetime_is_enforced_both_ways() -> None:
    suite = "AES_CM_128_HMAC_SHA1_80"
    text = base64.b64encode(key_bytes(30, 1)).decode()
    short = Crypto.parse(f"1 {suite} inline:{text}|2")
    alice, bob = SrtpContext(short, crypto_for(suite, 50)), SrtpContext(crypto_for(suite, 50),
                                                                        short)
    sent = [alice.protect(rtp(1)), alice.protect_rtcp(rtcp_rr())]
    with pytest.raises(SrtpKeyExpiredError, match="re-key"):
        alice.protect(rtp(2))
    assert bob.unprotect(sent[0]) == rtp(1)
    assert bob.unprotect_rtcp(sent[1]) == rtcp_rr()
    assert bob.unprotect(reference_protect(suite, short.key_salt, rtp(3))) is None
    assert bob.counters.expired == 1


# -- setSrtpPolicy ----------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "tls", "allow", "proto", "crypto"), [
    (SrtpPolicy.NONE, True, True, "RTP/AVP", False),
    (SrtpPolicy.PREFER, True, False, "RTP/AVP", True),
    (SrtpPolicy.PREFER, False, True, "RTP/AVP", True),
    (SrtpPolicy.PREFER, False, False, "RTP/AVP", False),
    (SrtpPolicy.FORCE, True, False, "RTP/SAVP", True),
    (SrtpPolicy.FORCE, False, True, "RTP/SAVP", True),
])
def test_offer_plan(policy: SrtpPolicy, tls: bool, allow: bool, proto: str,
                    crypto: bool) -> None:
    plan = plan_offer(policy, secure_signalling=tls, allow_unsecure=allow)
    assert (plan.proto, plan.crypto) == (proto, crypto)


def test_offer_plan_keeps_feedback_profiles_and_refuses_force_without_tls() -> None:
    plan = plan_offer(SrtpPolicy.FORCE, secure_signalling=True, allow_unsecure=False,
                      proto="RTP/AVPF")
    assert plan.proto == "RTP/SAVPF"
    with pytest.raises(SrtpError, match=r"RFC 4568 §8\.1"):
        plan_offer(SrtpPolicy.FORCE, secure_signalling=False, allow_unsecure=False)


def test_the_manual_numbers_the_policies() -> None:
    assert [p.value for p in (SrtpPolicy.NONE, SrtpPolicy.FORCE, SrtpPolicy.PREFER)] == \
        [0, 1, 2]


GOOD = crypto_for("AES_CM_128_HMAC_SHA1_80", 5)
MKI_ONLY = Crypto.parse("1 AES_CM_128_HMAC_SHA1_80 "
                        "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4")


@pytest.mark.parametrize(("policy", "proto", "crypto", "tls", "allow", "accept", "srtp"), [
    # NONE: SAVP rejected, AVP plain even with crypto lines.
    (SrtpPolicy.NONE, "RTP/SAVP", [GOOD], True, False, False, False),
    (SrtpPolicy.NONE, "RTP/AVP", [GOOD], True, False, True, False),
    # PREFER
    (SrtpPolicy.PREFER, "RTP/SAVP", [GOOD], True, False, True, True),
    (SrtpPolicy.PREFER, "RTP/SAVP", [GOOD], False, True, True, True),
    (SrtpPolicy.PREFER, "RTP/SAVP", [GOOD], False, False, False, False),
    (SrtpPolicy.PREFER, "RTP/SAVP", [MKI_ONLY], True, False, False, False),
    (SrtpPolicy.PREFER, "RTP/AVP", [GOOD], True, False, True, True),
    (SrtpPolicy.PREFER, "RTP/AVP", [GOOD], False, False, True, False),
    (SrtpPolicy.PREFER, "RTP/AVP", [], True, False, True, False),
    # FORCE
    (SrtpPolicy.FORCE, "RTP/SAVPF", [MKI_ONLY, GOOD], True, False, True, True),
    (SrtpPolicy.FORCE, "RTP/SAVP", [GOOD], False, False, False, False),
    (SrtpPolicy.FORCE, "RTP/AVP", [GOOD], True, False, True, True),
    (SrtpPolicy.FORCE, "RTP/AVP", [], True, True, False, False),
])
def test_offer_decisions(policy: SrtpPolicy, proto: str, crypto: list[Crypto], tls: bool,
                         allow: bool, accept: bool, srtp: bool) -> None:
    decision = decide_offer(policy, proto=proto, crypto=crypto, secure_signalling=tls,
                            allow_unsecure=allow)
    assert decision.accept is accept
    assert decision.status == (None if accept else 488)
    assert (decision.crypto == GOOD) is srtp
    assert decision.reason


def test_answers_to_our_offers() -> None:
    assert answer_uses_srtp(SrtpPolicy.PREFER, proto="RTP/AVP", crypto=[GOOD]) is True
    assert answer_uses_srtp(SrtpPolicy.PREFER, proto="RTP/AVP", crypto=[]) is False
    assert answer_uses_srtp(SrtpPolicy.FORCE, proto="RTP/SAVP", crypto=[GOOD]) is True
    with pytest.raises(SrtpError, match="without a=crypto"):
        answer_uses_srtp(SrtpPolicy.FORCE, proto="RTP/SAVP", crypto=[])
    with pytest.raises(SrtpError, match="forced"):
        answer_uses_srtp(SrtpPolicy.FORCE, proto="RTP/AVP", crypto=[])
