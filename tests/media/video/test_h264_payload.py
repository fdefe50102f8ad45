"""The H.264 RTP payload format follows RFC 6184 for packetization modes 0 and 1.

Proves:
- Annex B streams split at 3- and 4-byte start codes and join back;
- mode 1 aggregates small NAL units into one STAP-A (golden bytes: F is the OR, NRI the
  maximum, 16-bit sizes) and fragments large ones into FU-A packets whose S/E bits,
  indicator and header are right, all within the payload budget;
- mode 0 sends one NAL unit per packet and refuses one that does not fit;
- the depacketizer refuses what RFC 6184 forbids (FU-A without start or end, S and E
  together, STAP-B/MTAP/FU-B outside interleaved mode, truncated STAP-A) and ignores
  types 0, 30 and 31;
- frame starts are found from the slice header's first_mb_in_slice; IDR is a key frame;
- any access unit survives packetize -> depacketize at any payload size (hypothesis).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipkit.media.video.h264 import (
    FuA,
    H264PayloadFormat,
    StapA,
    join_annex_b,
    split_annex_b,
)
from voipkit.media.video.payload import MalformedPayload, max_payload_for_mtu

SPS = bytes([0x67, 0x42, 0xC0, 0x1E, 0xD9])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR_FIRST = bytes([0x65, 0x88]) + bytes(range(200))  # first_mb_in_slice = 0 (top bit 1)
SLICE_NOT_FIRST = bytes([0x41, 0x3A, 0x01, 0x02])  # top bit 0: first_mb_in_slice > 0


def test_annex_b_split_and_join() -> None:
    stream = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x01" + IDR_FIRST
    assert split_annex_b(stream) == [SPS, PPS, IDR_FIRST]
    assert split_annex_b(join_annex_b([SPS, PPS])) == [SPS, PPS]
    assert split_annex_b(b"") == []


def test_mtu_rule() -> None:
    assert max_payload_for_mtu(1450) == 1438
    for bad in (511, 65508):
        with pytest.raises(ValueError, match="outside 512-65507"):
            max_payload_for_mtu(bad)


def test_stap_a_golden_bytes() -> None:
    fmt = H264PayloadFormat(max_payload=1438)
    payloads = fmt.packetize(join_annex_b([SPS, PPS]))
    assert payloads == [b"\x78" + b"\x00\x05" + SPS + b"\x00\x04" + PPS]  # NRI 3, type 24
    assert StapA.parse(payloads[0]).nal_units == (SPS, PPS)
    assert bytes(StapA((bytes([0x21]), bytes([0x41])))) == b"\x58\x00\x01\x21\x00\x01\x41"


def test_fu_a_fragments_within_the_budget() -> None:
    nal = bytes([0x65]) + bytes(i % 251 for i in range(3000))
    fmt = H264PayloadFormat(max_payload=1000)
    payloads = fmt.packetize(join_annex_b([SPS, PPS, nal]))
    assert payloads[0][0] & 0x1F == 24  # SPS+PPS in one STAP-A
    fragments = [FuA.parse(p) for p in payloads[1:]]
    assert len(fragments) == 4  # 2999 body bytes in 998-byte rooms -> 4 equal pieces
    assert [f.start for f in fragments] == [True, False, False, False]
    assert [f.end for f in fragments] == [False, False, False, True]
    assert all(p[0] == 0x7C and p[1] & 0x1F == 5 for p in payloads[1:])  # NRI 3, type 28
    assert all(len(p) <= 1000 for p in payloads)
    assert fmt.depacketize(payloads) == join_annex_b([SPS, PPS, nal])
    assert fmt.is_keyframe(payloads)


def test_mode_0_is_single_nal_only() -> None:
    fmt = H264PayloadFormat(max_payload=300, packetization_mode=0)
    assert fmt.packetize(join_annex_b([SPS, PPS, IDR_FIRST])) == [SPS, PPS, IDR_FIRST]
    with pytest.raises(ValueError, match="cannot fragment"):
        fmt.packetize(join_annex_b([bytes([0x65]) + bytes(400)]))
    with pytest.raises(ValueError, match="not supported"):
        H264PayloadFormat(max_payload=1000, packetization_mode=2)


def test_depacketizer_refuses_what_the_rfc_forbids() -> None:
    fmt = H264PayloadFormat(max_payload=1438)
    start = bytes(FuA(0x65, True, False, b"ab"))
    middle = bytes(FuA(0x65, False, False, b"cd"))
    with pytest.raises(MalformedPayload, match="without its start"):
        fmt.depacketize([middle])
    with pytest.raises(MalformedPayload, match="no end fragment"):
        fmt.depacketize([start, middle])
    with pytest.raises(MalformedPayload, match="both the S and E"):
        fmt.depacketize([b"\x7c\xc5ab"])
    with pytest.raises(MalformedPayload, match="interrupted"):
        fmt.depacketize([start, SPS])
    with pytest.raises(MalformedPayload, match="STAP-B"):
        fmt.depacketize([b"\x19\x00\x00\x00\x01\x67"])
    with pytest.raises(MalformedPayload, match="does not fit"):
        fmt.depacketize([b"\x78\x00\x09\x67\x42"])
    with pytest.raises(MalformedPayload, match="empty"):
        fmt.depacketize([b""])
    # RFC 6184 §5.4: undefined types are ignored.
    assert fmt.depacketize([b"\x1f\x01", SPS, b"\x00"]) == join_annex_b([SPS])


def test_frame_start_follows_first_mb_in_slice() -> None:
    fmt = H264PayloadFormat(max_payload=100)
    assert fmt.is_frame_start(SPS)
    assert fmt.is_frame_start(IDR_FIRST[:10])
    assert not fmt.is_frame_start(SLICE_NOT_FIRST)
    assert fmt.is_frame_start(bytes(FuA(0x65, True, False, IDR_FIRST[1:20])))
    assert not fmt.is_frame_start(bytes(FuA(0x65, False, False, IDR_FIRST[1:20])))
    assert fmt.is_frame_start(bytes(StapA((SPS, PPS))))
    assert not fmt.is_keyframe([SLICE_NOT_FIRST])


nal_units = st.builds(
    lambda kind, nri, body: bytes([nri << 5 | kind]) + body,
    st.sampled_from([1, 5, 6, 7, 8, 9]),
    st.integers(0, 3),
    st.binary(min_size=0, max_size=3000).map(lambda b: b.replace(b"\x00\x00", b"\x00\x01")),
)


@given(st.lists(nal_units, min_size=1, max_size=8), st.integers(100, 1500))
def test_any_access_unit_round_trips_in_mode_1(nals: list[bytes], max_payload: int) -> None:
    # Annex B: a NAL unit cannot end in a zero byte (it would merge into the start code).
    nals = [n.rstrip(b"\x00") or n[:1] for n in nals]
    fmt = H264PayloadFormat(max_payload=max_payload)
    payloads = fmt.packetize(join_annex_b(nals))
    assert all(len(p) <= max_payload for p in payloads)
    assert fmt.depacketize(payloads) == join_annex_b(nals)


@given(st.lists(nal_units, min_size=1, max_size=8))
def test_any_access_unit_round_trips_in_mode_0(nals: list[bytes]) -> None:
    nals = [n.rstrip(b"\x00") or n[:1] for n in nals]
    fmt = H264PayloadFormat(max_payload=65495, packetization_mode=0)
    payloads = fmt.packetize(join_annex_b(nals))
    assert payloads == nals
    assert fmt.depacketize(payloads) == join_annex_b(nals)
