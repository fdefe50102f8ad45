"""The VP8 RTP payload format follows RFC 7741.

Proves:
- the payload descriptor's golden bytes for a bare descriptor, 7- and 15-bit PictureIDs,
  TL0PICIDX and TID/Y/KEYIDX, and that any descriptor round-trips (hypothesis);
- truncated descriptors raise MalformedPayload;
- a frame is cut into packets within the payload budget, only the first with S=1 and
  PID=0, all with the frame's 15-bit PictureID, which counts frames and wraps at 2**15;
- the key frame flag is the payload header's inverse P bit (§4.3);
- any frame survives packetize -> depacketize at any payload size (hypothesis).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipkit.media.video.payload import MalformedPayload
from voipkit.media.video.vp8 import Vp8PayloadDescriptor, Vp8PayloadFormat


def test_descriptor_golden_bytes() -> None:
    assert bytes(Vp8PayloadDescriptor(True)) == b"\x10"
    assert bytes(Vp8PayloadDescriptor(False, partition_id=2, non_reference=True)) == b"\x22"
    assert bytes(Vp8PayloadDescriptor(True, picture_id=0x1234)) == b"\x90\x80\x92\x34"
    assert bytes(Vp8PayloadDescriptor(True, picture_id=17, picture_id_bits=7)) == b"\x90\x80\x11"
    full = Vp8PayloadDescriptor(True, picture_id=5, picture_id_bits=7, tl0picidx=9, tid=2,
                                layer_sync=True, keyidx=3)
    assert bytes(full) == b"\x90\xf0\x05\x09\xa3"
    assert Vp8PayloadDescriptor.parse(bytes(full) + b"x") == (full, 5)


def test_truncated_descriptors_raise() -> None:
    for data, reason in ((b"", "empty"), (b"\x90", "no extension"), (b"\x90\x80", "PictureID"),
                         (b"\x90\x80\x80", "15-bit"), (b"\x90\x40", "TL0PICIDX"),
                         (b"\x90\x20", "TID/KEYIDX"), (b"\x10", "no payload")):
        with pytest.raises(MalformedPayload, match=reason):
            Vp8PayloadDescriptor.parse(data)


def test_packetize_marks_the_first_packet_and_counts_pictures() -> None:
    fmt = Vp8PayloadFormat(max_payload=100, picture_id=0x7FFF)
    frame = bytes([0x50]) + bytes(i % 256 for i in range(249))  # P bit 0: a key frame
    payloads = fmt.packetize(frame)
    assert len(payloads) == 3 and all(len(p) <= 100 for p in payloads)
    descriptors = [Vp8PayloadDescriptor.parse(p)[0] for p in payloads]
    assert [d.partition_start for d in descriptors] == [True, False, False]
    assert {d.picture_id for d in descriptors} == {0x7FFF}
    assert fmt.is_frame_start(payloads[0]) and not fmt.is_frame_start(payloads[1])
    assert fmt.is_keyframe(payloads)
    assert fmt.depacketize(payloads) == frame
    second = fmt.packetize(b"\x51abc")  # P bit 1: an inter frame
    assert Vp8PayloadDescriptor.parse(second[0])[0].picture_id == 0  # wrapped
    assert not fmt.is_keyframe(second)
    with pytest.raises(MalformedPayload, match="S=1, PID=0"):
        fmt.depacketize(payloads[1:])
    with pytest.raises(ValueError, match="empty"):
        fmt.packetize(b"")


descriptors = st.builds(
    Vp8PayloadDescriptor,
    st.booleans(), st.integers(0, 7), st.booleans(),
    st.none() | st.integers(0, 127), st.just(7), st.none() | st.integers(0, 255),
    st.none() | st.integers(0, 3), st.booleans(), st.none() | st.integers(0, 31),
)


@given(descriptors)
def test_any_descriptor_round_trips(descriptor: Vp8PayloadDescriptor) -> None:
    parsed, offset = Vp8PayloadDescriptor.parse(bytes(descriptor) + b"\x00")
    expect_sync = descriptor.layer_sync if descriptor.tid is not None else False
    assert parsed.picture_id == descriptor.picture_id
    assert parsed.tl0picidx == descriptor.tl0picidx
    assert parsed.tid == descriptor.tid and parsed.layer_sync == expect_sync
    assert parsed.keyidx == descriptor.keyidx
    assert (parsed.partition_start, parsed.partition_id, parsed.non_reference) == (
        descriptor.partition_start, descriptor.partition_id, descriptor.non_reference)
    assert offset == len(bytes(descriptor))


@given(st.binary(min_size=1, max_size=5000), st.integers(8, 1500))
def test_any_frame_round_trips(frame: bytes, max_payload: int) -> None:
    fmt = Vp8PayloadFormat(max_payload=max_payload)
    payloads = fmt.packetize(frame)
    assert all(len(p) <= max_payload for p in payloads)
    assert fmt.depacketize(payloads) == frame
