"""RTCP packets parse strictly, serialize byte-exactly, and the time helpers follow §6.4.1.

Proves:
- golden compound packets (SR + SDES, RR + BYE) parse to the expected fields and
  ``build_compound(parse_rtcp(x)) == x``;
- report blocks carry a signed 24-bit cumulative loss, saturating on output;
- unknown types (APP, RTPFB formats other than NACK) are kept raw and round-trip;
  padding on the last packet is stripped and re-emitted;
- malformed compounds raise MalformedPacket with a precise sentence: empty, short
  header, bad version, length past the end, padding on a non-last packet, bad padding
  count, SR/RR/SDES/BYE bodies too short for what their counts announce, non-UTF-8 reason;
- NTP conversion, middle 32 bits, and RTT = A - LSR - DLSR with its edge cases;
- a hypothesis round trip over SR/RR/SDES/BYE compounds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipkit.media.rtcp import (
    NTP_EPOCH_OFFSET,
    REPORT_BLOCK_SIZE,
    ReportBlock,
    RtcpByePacket,
    RtcpFirPacket,
    RtcpNackPacket,
    RtcpPliPacket,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSrPacket,
    RtcpUnknownPacket,
    SdesChunk,
    SdesItemType,
    build_compound,
    ntp_from_seconds,
    ntp_middle32,
    parse_rtcp,
    rtt,
    seconds_from_ntp,
)
from voipkit.media.rtp import MalformedPacket, is_rtcp

DATA = Path(__file__).resolve().parent.parent / "data" / "rtp"


def test_golden_sr_plus_sdes() -> None:
    raw = (DATA / "rtcp_sr_sdes.bin").read_bytes()
    assert is_rtcp(raw)
    sr, sdes = parse_rtcp(raw)
    assert sr == RtcpSrPacket(
        ssrc=0x01020304,
        ntp_timestamp=0xE4A1B2C3_80000000,
        rtp_timestamp=16000,
        packet_count=100,
        octet_count=16000,
        reports=[
            ReportBlock(ssrc=0xA1A2A3A4, fraction_lost=64, packets_lost=5,
                        highest_sequence=0x10010, jitter=32, lsr=0x12345678, dlsr=65536)
        ],
    )
    assert sdes == RtcpSdesPacket.cname(0x01020304, "user@host")
    assert isinstance(sdes, RtcpSdesPacket)
    assert sdes.chunks[0].get(SdesItemType.CNAME) == b"user@host"
    assert sdes.chunks[0].get(SdesItemType.NAME) is None
    assert build_compound([sr, sdes]) == raw


def test_golden_rr_plus_bye() -> None:
    raw = (DATA / "rtcp_rr_bye.bin").read_bytes()
    rr, bye = parse_rtcp(raw)
    assert rr == RtcpRrPacket(
        ssrc=0x0A0B0C0D,
        reports=[ReportBlock(ssrc=0x01020304, fraction_lost=0, packets_lost=-2,
                             highest_sequence=0x20005, jitter=3)],
    )
    assert bye == RtcpByePacket(ssrcs=(0x0A0B0C0D,), reason="hangup")
    assert build_compound([rr, bye]) == raw


def test_report_block_loss_saturates_at_24_bits() -> None:
    block = ReportBlock(ssrc=1, packets_lost=10_000_000)
    assert ReportBlock.parse(bytes(block)).packets_lost == 0x7FFFFF
    assert ReportBlock.parse(bytes(ReportBlock(ssrc=1, packets_lost=-9_000_000))).packets_lost == (
        -0x800000
    )
    assert len(bytes(block)) == REPORT_BLOCK_SIZE == 24


def test_unknown_types_are_kept_raw() -> None:
    app = RtcpUnknownPacket(packet_type=204, count=3, body=b"\x00\x00\x00\x01name" + b"data")
    # FMT 3 is TMMBR (RFC 5104 §4.2.1), which voipkit does not parse.
    nack = RtcpUnknownPacket(packet_type=205, count=3, body=bytes(8) + b"\x00\x05\x00\x00")
    rr = RtcpRrPacket(ssrc=7)
    raw = build_compound([rr, app, nack])
    assert parse_rtcp(raw) == [rr, app, nack]
    assert bytes(app)[:4] == b"\x83\xcc\x00\x03"


def test_padding_on_the_last_packet() -> None:
    bye = RtcpByePacket(ssrcs=(5,), padding=8)
    raw = build_compound([RtcpRrPacket(ssrc=5), bye])
    assert raw[8] & 0x20 and raw[-1] == 8
    assert parse_rtcp(raw)[1] == bye
    with pytest.raises(ValueError, match="only the last packet"):
        build_compound([bye, RtcpRrPacket(ssrc=5)])


def test_sr_keeps_profile_extension_octets() -> None:
    sr = RtcpSrPacket(ssrc=1, ntp_timestamp=2, rtp_timestamp=3, packet_count=4, octet_count=5,
                      extension=b"\xaa\xbb\xcc\xdd")
    assert parse_rtcp(bytes(sr)) == [sr]


RR = bytes(RtcpRrPacket(ssrc=1))


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "RTCP packet is empty"),
        (RR + b"\x81\xc9", "RTCP packet at offset 8 has 2 bytes, shorter than the 4-byte header"),
        (b"\x41" + RR[1:], "RTCP version at offset 0 is 1, not 2"),
        (b"\x80\xc9\x00\x02" + bytes(4),
         "RTCP packet at offset 0 has length 2 (12 bytes) but only 8 bytes remain"),
        (b"\xa0\xc9\x00\x01\x00\x00\x00\x04" + RR,
         "RTCP packet at offset 0 is padded but is not the last in the compound"),
        (b"\xa0\xc9\x00\x01\x00\x00\x00\x00",
         "RTCP padding count at offset 0 is 0, invalid for a 4-byte body"),
        (b"\xa0\xc9\x00\x01\x00\x00\x00\x09",
         "RTCP padding count at offset 0 is 9, invalid for a 4-byte body"),
        (b"\x80\xc8\x00\x01" + bytes(4),
         "RTCP SR body is 4 bytes, shorter than SSRC plus the 20-byte sender info"),
        (b"\x81\xc8\x00\x06" + bytes(24),
         "RTCP SR announces 1 report blocks (24 bytes) but only 0 bytes follow"),
        (b"\x80\xc9\x00\x00", "RTCP RR body is 0 bytes, shorter than its SSRC"),
        (b"\x82\xc9\x00\x07" + bytes(28),
         "RTCP RR announces 2 report blocks (48 bytes) but only 24 bytes follow"),
        (b"\x82\xca\x00\x02" + b"\x00\x00\x00\x01\x01\x00\x00\x00",
         "RTCP SDES announces 2 chunks but chunk 2 is truncated"),
        (b"\x81\xca\x00\x03" + b"\x00\x00\x00\x01\x01\x09abcdef",
         "RTCP SDES item type 1 for SSRC 0x00000001 overruns the packet"),
        (b"\x81\xca\x00\x03" + b"\x00\x00\x00\x01\x01\x02ab\x03\x05xy",
         "RTCP SDES item type 3 for SSRC 0x00000001 overruns the packet"),
        (b"\x81\xca\x00\x01" + b"\x00\x00\x00\x01",
         "RTCP SDES chunk for SSRC 0x00000001 has no terminating null octet"),
        (b"\x82\xcb\x00\x01" + b"\x00\x00\x00\x01",
         "RTCP BYE announces 2 SSRCs but the body is 4 bytes"),
        (b"\x81\xcb\x00\x02" + b"\x00\x00\x00\x01\x07abc",
         "RTCP BYE reason of 7 bytes overruns the packet"),
    ],
)
def test_malformed_compounds_say_why(data: bytes, message: str) -> None:
    with pytest.raises(MalformedPacket) as info:
        parse_rtcp(data)
    assert str(info.value) == message


def test_bye_reason_must_be_utf8() -> None:
    with pytest.raises(MalformedPacket, match="RTCP BYE reason is not UTF-8"):
        parse_rtcp(b"\x81\xcb\x00\x02" + b"\x00\x00\x00\x01\x02\xff\xfe\x00")


def test_serialization_rejects_fields_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        bytes(RtcpRrPacket(ssrc=1, reports=[ReportBlock(ssrc=i) for i in range(32)]))
    with pytest.raises(ValueError):
        bytes(RtcpByePacket(ssrcs=(1,), reason="x" * 256))
    with pytest.raises(ValueError):
        bytes(RtcpSdesPacket([SdesChunk(1, ((1, b"x" * 256),))]))
    with pytest.raises(ValueError):
        bytes(RtcpUnknownPacket(packet_type=204, count=0, body=b"abc"))


def test_ntp_helpers() -> None:
    assert ntp_from_seconds(0.0) == NTP_EPOCH_OFFSET << 32
    assert ntp_from_seconds(1.5) == (NTP_EPOCH_OFFSET + 1) << 32 | 0x80000000
    assert seconds_from_ntp(ntp_from_seconds(1_700_000_000.25)) == 1_700_000_000.25
    assert ntp_middle32(0xE4A1B2C3_80000000) == 0xB2C38000


def test_rtt_is_a_minus_lsr_minus_dlsr() -> None:
    # RFC 3550 §6.4.1 figure: A = 0xb710:8000 (46864.5 s), LSR = 0xb705:2000
    # (46853.125 s), DLSR = 0x0005:4000 (5.25 s) -> delay 6.125 s.
    assert rtt(0xB7108000, 0xB7052000, 0x00054000) == 6.125
    assert rtt(0x00001000, 0xFFFFF000, 0) == 0x2000 / 65536  # wraps through 2**32
    assert rtt(0x10000, 0x10000, 0x10) == 0.0  # skew makes it negative: clamp
    assert rtt(0x10000, 0, 0) is None  # no SR received yet


blocks = st.builds(
    ReportBlock,
    ssrc=st.integers(0, 2**32 - 1),
    fraction_lost=st.integers(0, 255),
    packets_lost=st.integers(-0x800000, 0x7FFFFF),
    highest_sequence=st.integers(0, 2**32 - 1),
    jitter=st.integers(0, 2**32 - 1),
    lsr=st.integers(0, 2**32 - 1),
    dlsr=st.integers(0, 2**32 - 1),
)
u32 = st.integers(0, 2**32 - 1)
rtcp_packets = st.one_of(
    st.builds(RtcpSrPacket, ssrc=u32, ntp_timestamp=st.integers(0, 2**64 - 1), rtp_timestamp=u32,
              packet_count=u32, octet_count=u32, reports=st.lists(blocks, max_size=3)),
    st.builds(RtcpRrPacket, ssrc=u32, reports=st.lists(blocks, max_size=3)),
    st.builds(
        RtcpSdesPacket,
        chunks=st.lists(
            st.builds(SdesChunk, ssrc=u32, items=st.lists(
                st.tuples(st.integers(1, 8), st.binary(max_size=20)), max_size=3).map(tuple)),
            max_size=3),
    ),
    st.builds(RtcpByePacket, ssrcs=st.lists(u32, max_size=3).map(tuple),
              reason=st.none() | st.text(max_size=30).filter(lambda t: len(t.encode()) < 256)),
)


@given(st.lists(rtcp_packets, min_size=1, max_size=4))
def test_compound_round_trip(packets: list[object]) -> None:
    raw = build_compound(packets)  # type: ignore[arg-type]
    assert parse_rtcp(raw) == packets
    assert build_compound(parse_rtcp(raw)) == raw


@given(st.binary(max_size=100))
def test_parse_raises_only_malformed(data: bytes) -> None:
    try:
        packets = parse_rtcp(data)
    except MalformedPacket:
        return
    kinds = (RtcpSrPacket, RtcpRrPacket, RtcpSdesPacket, RtcpByePacket, RtcpNackPacket,
             RtcpPliPacket, RtcpFirPacket, RtcpUnknownPacket)
    assert packets and all(isinstance(p, kinds) for p in packets)
