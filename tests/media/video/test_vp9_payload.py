"""The VP9 RTP payload format follows RFC 9628.

Proves:
- the payload descriptor's golden bytes (I with a 15-bit PictureID, B/E/P bits, layer
  indices with TL0PICIDX, flexible-mode P_DIFFs, an SS with a resolution and a picture
  group) and that any descriptor round-trips (hypothesis);
- truncated descriptors raise MalformedPayload;
- a libvpx-vp9 key frame is sent with P=0 and an SS carrying its 640x480 size on the
  first packet only, inter frames with P=1; B on the first and E on the last packet;
  PictureIDs count pictures and wrap at 2**15; every packet fits the budget;
- any picture survives packetize -> depacketize at any payload size (hypothesis), and a
  picture missing its B or E packet is refused.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipkit.media.video import VP9, VideoEncoderSettings, pattern_frame
from voipkit.media.video.payload import MalformedPayload
from voipkit.media.video.vp9 import Vp9PayloadDescriptor, Vp9PayloadFormat


def test_descriptor_golden_bytes() -> None:
    assert bytes(Vp9PayloadDescriptor(True, False, picture_id=0x1234)) == b"\x88\x92\x34"
    layered = Vp9PayloadDescriptor(False, True, inter_picture=True, picture_id=5,
                                   picture_id_bits=7, tid=2, switching_up=True, sid=1,
                                   tl0picidx=9)
    assert bytes(layered) == b"\xe4\x05\x52\x09"
    flexible = Vp9PayloadDescriptor(True, True, inter_picture=True, flexible=True,
                                    p_diffs=(1, 3))
    assert bytes(flexible) == b"\x5c\x03\x06"
    ss = Vp9PayloadDescriptor(True, False, ss=True, resolutions=((640, 480),),
                              ss_groups=((0, False, (1,)),))
    assert bytes(ss) == b"\x0a\x18\x02\x80\x01\xe0\x01\x04\x01"
    for descriptor in (layered, flexible, ss):
        assert Vp9PayloadDescriptor.parse(bytes(descriptor) + b"x") == (
            descriptor, len(bytes(descriptor)))


def test_truncated_descriptors_raise() -> None:
    for data, where in ((b"", "first octet"), (b"\x88", "PictureID"),
                        (b"\x88\x80", "15-bit"), (b"\x28", "layer indices"),
                        (b"\x28\x00", "TL0PICIDX"), (b"\x58", "reference indices"),
                        (b"\x0a", "scalability structure"), (b"\x0a\x10\x00", "resolutions"),
                        (b"\x0a\x08", "picture group count")):
        with pytest.raises(MalformedPayload, match=where):
            Vp9PayloadDescriptor.parse(data)
    with pytest.raises(MalformedPayload, match="more than 3 P_DIFF"):
        Vp9PayloadDescriptor.parse(b"\x58\x03\x03\x03\x03")


def test_real_frames_are_marked_as_rfc_9628_says() -> None:
    encoder = VP9.encoder(VideoEncoderSettings(width=640, height=480))
    fmt = Vp9PayloadFormat(max_payload=700, picture_id=0x7FFF)
    pictures = [encoder.encode(pattern_frame(640, 480, i))[0] for i in range(2)]
    key = fmt.packetize(pictures[0].data)
    inter = fmt.packetize(pictures[1].data)
    assert pictures[0].keyframe and not pictures[1].keyframe
    assert len(key) > 1 and all(len(p) <= 700 for p in key + inter)
    first, _ = Vp9PayloadDescriptor.parse(key[0])
    assert first.start_of_frame and not first.inter_picture and first.ss
    assert first.resolutions == ((640, 480),) and first.picture_id == 0x7FFF
    others = [Vp9PayloadDescriptor.parse(p)[0] for p in key[1:]]
    assert not any(d.ss or d.start_of_frame for d in others) and others[-1].end_of_frame
    assert Vp9PayloadDescriptor.parse(inter[0])[0].inter_picture
    assert Vp9PayloadDescriptor.parse(inter[0])[0].picture_id == 0  # wrapped
    assert fmt.is_keyframe(key) and not fmt.is_keyframe(inter)
    assert fmt.is_frame_start(key[0]) and not fmt.is_frame_start(key[1])
    assert fmt.depacketize(key) == pictures[0].data
    with pytest.raises(MalformedPayload, match="B=1"):
        fmt.depacketize(key[1:])
    with pytest.raises(MalformedPayload, match="E=1"):
        fmt.depacketize(key[:-1])
    with pytest.raises(ValueError, match="empty"):
        fmt.packetize(b"")


descriptors = st.builds(
    Vp9PayloadDescriptor,
    st.booleans(), st.booleans(), st.booleans(), st.just(False), st.booleans(),
    st.none() | st.integers(0, 0x7FFF), st.just(15), st.none() | st.integers(0, 7),
    st.booleans(), st.integers(0, 7), st.booleans(), st.integers(0, 255),
)


@given(descriptors)
def test_any_descriptor_round_trips(descriptor: Vp9PayloadDescriptor) -> None:
    parsed, offset = Vp9PayloadDescriptor.parse(bytes(descriptor) + b"\x00")
    assert offset == len(bytes(descriptor))
    assert parsed.picture_id == descriptor.picture_id
    assert (parsed.start_of_frame, parsed.end_of_frame, parsed.inter_picture) == (
        descriptor.start_of_frame, descriptor.end_of_frame, descriptor.inter_picture)
    if descriptor.tid is not None:
        assert (parsed.tid, parsed.sid, parsed.switching_up, parsed.inter_layer,
                parsed.tl0picidx) == (descriptor.tid, descriptor.sid, descriptor.switching_up,
                                      descriptor.inter_layer, descriptor.tl0picidx)


@given(st.binary(min_size=1, max_size=5000), st.integers(16, 1500))
def test_any_picture_round_trips(frame: bytes, max_payload: int) -> None:
    fmt = Vp9PayloadFormat(max_payload=max_payload)
    payloads = fmt.packetize(frame)
    assert all(len(p) <= max_payload for p in payloads)
    assert fmt.depacketize(payloads) == frame
