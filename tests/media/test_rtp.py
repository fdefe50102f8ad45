"""RtpPacket parses strictly and serializes byte-exactly (RFC 3550 §5).

Proves:
- golden packets under tests/data/rtp parse to the expected fields and
  ``bytes(RtpPacket.parse(x)) == x`` (plain PCMU; marker + CSRCs + header
  extension + padding);
- every malformed input raises MalformedPacket with a precise sentence: truncated
  fixed header, version != 2, truncated CSRC list, truncated extension header,
  bad extension length, padding without payload room, zero padding count,
  padding longer than the packet;
- serialization rejects fields that do not fit;
- RFC 5761 §4 demultiplexing (second octet 192-223 is RTCP);
- RFC 8285 one-byte and two-byte header extension elements pack and unpack;
- a hypothesis round trip over all field values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipkit.media.rtp import (
    ONE_BYTE_PROFILE,
    TWO_BYTE_PROFILE,
    MalformedPacket,
    RtpPacket,
    is_rtcp,
    pack_header_extensions,
    unpack_header_extensions,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "rtp"


def test_golden_pcmu_packet() -> None:
    raw = (DATA / "pcmu_basic.bin").read_bytes()
    packet = RtpPacket.parse(raw)
    assert packet == RtpPacket(
        payload_type=0, sequence_number=0x1234, timestamp=160, ssrc=0xDEADBEEF,
        payload=b"\xff" * 160,
    )
    assert bytes(packet) == raw


def test_golden_packet_with_marker_csrc_extension_and_padding() -> None:
    raw = (DATA / "dtmf_csrc_ext_padding.bin").read_bytes()
    packet = RtpPacket.parse(raw)
    assert packet.marker is True
    assert packet.payload_type == 101
    assert packet.sequence_number == 0xFFFF
    assert packet.timestamp == 0xFFFFFFFF
    assert packet.ssrc == 0x01020304
    assert packet.csrc == (0x11111111, 0x22222222)
    assert packet.extension == (ONE_BYTE_PROFILE, b"\x10\xaa\x00\x00")
    assert packet.payload == b"\x03\x0a\x00\xa0"
    assert packet.padding == 4
    assert bytes(packet) == raw
    assert unpack_header_extensions(*packet.extension) == [(1, b"\xaa")]


HEADER = bytes.fromhex("80001234000000a0deadbeef")


@pytest.mark.parametrize(
    "data,message",
    [
        (HEADER[:11], "RTP packet is 11 bytes, shorter than the 12-byte fixed header"),
        (b"", "RTP packet is 0 bytes, shorter than the 12-byte fixed header"),
        (b"\x40" + HEADER[1:], "RTP version is 1, not 2"),
        (b"\xc0" + HEADER[1:], "RTP version is 3, not 2"),
        (b"\x82" + HEADER[1:] + b"\x00\x00\x00\x01",
         "RTP header announces 2 CSRCs (8 bytes) but only 4 bytes follow the fixed header"),
        (b"\x90" + HEADER[1:] + b"\xbe\xde",
         "RTP X bit is set but only 2 bytes remain for the 4-byte extension header"),
        (b"\x90" + HEADER[1:] + b"\xbe\xde\x00\x02" + b"\x00" * 4,
         "RTP header extension length is 2 words (8 bytes) but only 4 bytes remain"),
        (b"\xa0" + HEADER[1:], "RTP P bit is set but the packet has no payload octets"),
        (b"\xa0" + HEADER[1:] + b"\x01\x02\x00", "RTP padding count is 0; it must include itself"),
        (b"\xa0" + HEADER[1:] + b"\x01\x02\x09",
         "RTP padding count is 9 but only 3 bytes follow the header"),
    ],
)
def test_malformed_packets_say_why(data: bytes, message: str) -> None:
    with pytest.raises(MalformedPacket) as info:
        RtpPacket.parse(data)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_padding_may_consume_the_whole_payload() -> None:
    packet = RtpPacket.parse(b"\xa0" + HEADER[1:] + b"\x00\x00\x00\x04")
    assert packet.payload == b"" and packet.padding == 4


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(payload_type=128, sequence_number=0, timestamp=0, ssrc=0),
        RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0, csrc=tuple(range(16))),
        RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0, padding=256),
        RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0, extension=(1, b"abc")),
    ],
)
def test_serialization_rejects_fields_that_do_not_fit(packet: RtpPacket) -> None:
    with pytest.raises(ValueError):
        bytes(packet)


def test_is_rtcp_follows_rfc_5761() -> None:
    assert not is_rtcp(HEADER)  # PT 0
    assert not is_rtcp(b"\x80\xe5")  # marker + PT 101 = 229
    assert is_rtcp(b"\x80\xc8")  # SR = 200
    assert is_rtcp(b"\x81\xc0")  # 192
    assert is_rtcp(b"\x81\xdf")  # 223
    assert not is_rtcp(b"\x81\xbf")  # 191
    assert not is_rtcp(b"\x81\xe0")  # 224
    assert not is_rtcp(b"\x80")


def test_rfc8285_one_byte_elements_round_trip() -> None:
    profile, data = pack_header_extensions([(1, b"\x01"), (3, b"abcd")])
    assert profile == ONE_BYTE_PROFILE
    assert data == b"\x10\x01\x33abcd\x00"
    assert unpack_header_extensions(profile, data) == [(1, b"\x01"), (3, b"abcd")]
    # ID 15 stops parsing (RFC 8285 §4.2)
    assert unpack_header_extensions(ONE_BYTE_PROFILE, b"\x10\x01\xf0\x20\x02\x00\x00\x00") == [
        (1, b"\x01")
    ]


def test_rfc8285_two_byte_elements_round_trip() -> None:
    elements = [(1, b""), (200, b"x" * 20)]
    profile, data = pack_header_extensions(elements)
    assert profile == TWO_BYTE_PROFILE
    assert len(data) % 4 == 0
    assert unpack_header_extensions(profile, data) == elements
    assert unpack_header_extensions(0x1005, b"\x00\x07\x01z") == [(7, b"z")]


@pytest.mark.parametrize(
    "profile,data,message",
    [
        (ONE_BYTE_PROFILE, b"\x13ab", "one-byte header extension element 1 of 4 bytes overruns"),
        (TWO_BYTE_PROFILE, b"\x05", "two-byte header extension element 5 has no length octet"),
        (TWO_BYTE_PROFILE, b"\x05\x09ab", "two-byte header extension element 5 of 9 bytes"),
        (0xABCD, b"", "header extension profile 0xABCD is not an RFC 8285 form"),
    ],
)
def test_rfc8285_errors(profile: int, data: bytes, message: str) -> None:
    with pytest.raises(MalformedPacket, match=message):
        unpack_header_extensions(profile, data)


def test_rfc8285_rejects_elements_too_large() -> None:
    with pytest.raises(ValueError):
        pack_header_extensions([(1, b"x" * 256)])


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4])),
    padding=st.integers(0, 255),
)


@given(packets)
def test_round_trip(packet: RtpPacket) -> None:
    assert RtpPacket.parse(bytes(packet)) == packet


@given(st.binary(max_size=80))
def test_parse_never_raises_anything_but_malformed(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except MalformedPacket:
        return
    if packet.padding == 0:  # padding octets other than the count are not kept
        assert bytes(packet) == data
    else:
        assert bytes(packet)[:-packet.padding] == data[:-packet.padding]
