"""RTCP feedback messages for video parse and serialize exactly.

Proves:
- a generic NACK (RFC 4585 §6.2.1) packs lost sequence numbers into PID + BLP entries
  (golden bytes), across the 16-bit wrap, and parses back to the same numbers;
- PLI (RFC 4585 §6.3.1) has no FCI and a length field of 2; FIR (RFC 5104 §4.3.1) carries
  (SSRC, command sequence number) entries and a zero media source SSRC;
- feedback packets sit in compound packets beside an RR; truncated or malformed FCI
  raises MalformedPacket; other feedback formats stay RtcpUnknownPacket;
- any set of lost numbers round-trips (hypothesis).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipkit.media.rtcp import (
    RtcpFirPacket,
    RtcpNackPacket,
    RtcpPliPacket,
    RtcpRrPacket,
    RtcpUnknownPacket,
    build_compound,
    parse_rtcp,
)
from voipkit.media.rtp import MalformedPacket


def test_nack_golden_bytes() -> None:
    nack = RtcpNackPacket(sender_ssrc=0x11111111, media_ssrc=0x22222222, lost=(100, 101, 116, 118))
    raw = bytes(nack)
    # V=2 FMT=1, PT=205, length 4 words: two SSRCs, then PID 100 with BLP bits 0 (101)
    # and 15 (116), then PID 118 (118 - 100 > 16 does not fit the first entry's mask).
    assert raw == (
        b"\x81\xcd\x00\x04" + b"\x11\x11\x11\x11" + b"\x22\x22\x22\x22"
        + b"\x00\x64\x80\x01" + b"\x00\x76\x00\x00"
    )
    assert parse_rtcp(raw) == [nack]


def test_nack_groups_across_the_wrap() -> None:
    nack = RtcpNackPacket(sender_ssrc=1, media_ssrc=2, lost=(0, 65535, 1))
    raw = bytes(nack)
    assert len(raw) == 16  # one entry: PID 65535 with bits for 0 and 1
    assert raw[12:] == b"\xff\xff\x00\x03"
    assert parse_rtcp(raw)[0] == RtcpNackPacket(1, 2, (65535, 0, 1))


def test_pli_and_fir_golden_bytes() -> None:
    pli = RtcpPliPacket(sender_ssrc=5, media_ssrc=6)
    assert bytes(pli) == b"\x81\xce\x00\x02" + bytes([0, 0, 0, 5, 0, 0, 0, 6])
    fir = RtcpFirPacket(sender_ssrc=5, entries=((6, 7),))
    assert bytes(fir) == b"\x84\xce\x00\x04" + bytes([0, 0, 0, 5]) + bytes(4) + bytes(
        [0, 0, 0, 6, 7, 0, 0, 0])
    assert parse_rtcp(build_compound([RtcpRrPacket(ssrc=5), pli, fir])) == [
        RtcpRrPacket(ssrc=5), pli, fir]


def test_malformed_feedback_raises() -> None:
    with pytest.raises(MalformedPacket, match="two SSRCs"):
        parse_rtcp(b"\x81\xce\x00\x01" + bytes(4))
    with pytest.raises(MalformedPacket, match="allows none"):
        parse_rtcp(b"\x81\xce\x00\x03" + bytes(12))
    with pytest.raises(MalformedPacket, match="NACK FCI is 0 bytes"):
        parse_rtcp(b"\x81\xcd\x00\x02" + bytes(8))
    with pytest.raises(MalformedPacket, match="FIR FCI is 4 bytes"):
        parse_rtcp(b"\x84\xce\x00\x03" + bytes(12))
    with pytest.raises(ValueError, match="at least one"):
        bytes(RtcpNackPacket(1, 2, ()))


def test_other_feedback_formats_stay_raw() -> None:
    remb = RtcpUnknownPacket(packet_type=206, count=15, body=bytes(8) + b"REMB" + bytes(8))
    assert parse_rtcp(bytes(remb)) == [remb]


@given(st.sets(st.integers(0, 65535), min_size=1, max_size=60), st.integers(0, 2**32 - 1))
def test_nack_round_trips_any_loss_set(lost: set[int], ssrc: int) -> None:
    packet = parse_rtcp(bytes(RtcpNackPacket(ssrc, 9, tuple(lost))))[0]
    assert isinstance(packet, RtcpNackPacket)
    assert sorted(packet.lost) == sorted(lost)
    assert len(packet.lost) == len(lost)
