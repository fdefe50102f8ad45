"""Video codecs over PyAV carry the test pattern through RTP with PSNR >= 30 dB.

Proves:
- the registry offers exactly the codecs this PyAV build encodes and decodes and has an
  RTP payload format for (H.264 mode 1 as 125, then mode 0 on a free dynamic type, VP8
  as 120, kind video), and leaves out a row whose encoder is missing;
- encode -> packetize -> RTP bytes -> assemble -> decode of the 640x480 pattern keeps
  PSNR >= 30 dB for H.264 packetization modes 1 and 0, VP8 and VP9, every packet within
  the MTU (mode 0 relies on x264 cutting slices to the MTU);
- a forced key frame is a key frame on the wire (IDR / VP8 P bit 0), and a size change
  restarts with one;
- garbage input to a decoder is counted, never raised;
- I420 frames convert to and from raw bytes; the pattern is deterministic and carries
  its index, which survives encoding; PSNR of identical frames is infinite;
- rotation by 90/180/270 degrees and mirroring move every plane's samples as expected
  and compose to the identity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from voipkit.media.rtp import RtpPacket
from voipkit.media.video.assembler import FrameAssembler
from voipkit.media.video.codecs import (
    ALL_VIDEO_CODECS,
    DEFAULT_VIDEO_CODECS,
    H264,
    VP8,
    VP9,
    VideoCodecRegistry,
    VideoCodecSpec,
    VideoEncoderSettings,
)
from voipkit.media.video.frames import (
    VideoFrame,
    i420_size,
    mirror,
    pattern_frame,
    pattern_index,
    psnr,
    rotate,
)

FRAMES = 8


def test_registry_offers_what_runs() -> None:
    assert [spec.name for spec in DEFAULT_VIDEO_CODECS] == ["H264", "VP8"]
    caps = DEFAULT_VIDEO_CODECS.capabilities()
    assert [(c.encoding, c.clock_rate, c.payload_type, c.kind) for c in caps] == [
        ("H264", 90000, 125, "video"), ("H264", 90000, None, "video"),
        ("VP8", 90000, 120, "video")]
    assert [c.fmtp["packetization-mode"] for c in caps[:2]] == ["1", "0"]
    assert caps[0].fmtp["profile-level-id"] == "42e01f"
    missing = VideoCodecSpec(name="H264", preferred_payload_type=96,
                             encoder_name="no-such-encoder", decoder_name="h264")
    assert len(VideoCodecRegistry([missing, VP8])) == 1
    assert DEFAULT_VIDEO_CODECS.find("h264") is H264
    assert DEFAULT_VIDEO_CODECS.find("VP9") is None  # not offered unless enabled
    assert [spec.name for spec in ALL_VIDEO_CODECS] == ["H264", "VP8", "VP9"]


@pytest.mark.parametrize(("spec", "fmtp", "mtu"), [
    (H264, {"packetization-mode": "1"}, 1450),
    (H264, {"packetization-mode": "0"}, 512),
    (H264, {}, 1450),  # no packetization-mode: mode 0 (RFC 6184 §8.1)
    (VP8, {}, 512),
    (VP9, {}, 1450),
], ids=["h264-mode1", "h264-mode0-mtu512", "h264-default-mode0", "vp8-mtu512", "vp9"])
def test_pattern_survives_rtp(spec: VideoCodecSpec, fmtp: dict[str, str], mtu: int) -> None:
    settings = VideoEncoderSettings(width=640, height=480, bitrate=1_500_000, mtu=mtu,
                                    remote_fmtp=fmtp)
    encoder = spec.encoder(settings)
    sender = spec.payload_format(mtu=mtu, remote_fmtp=fmtp)
    assembler = FrameAssembler(spec.payload_format(mtu=mtu, remote_fmtp=fmtp))
    decoder = spec.decoder()
    seq = 65530  # crosses the sequence wrap
    scores: list[float] = []
    sizes: list[int] = []
    for index in range(FRAMES):
        source = pattern_frame(640, 480, index)
        for encoded in encoder.encode(source):
            payloads = sender.packetize(encoded.data)
            for j, payload in enumerate(payloads):
                wire = bytes(RtpPacket(spec.preferred_payload_type, seq & 0xFFFF,
                                       3000 * index, 7, payload, marker=j == len(payloads) - 1))
                sizes.append(len(wire))
                seq += 1
                for frame in assembler.insert(RtpPacket.parse(wire), now=index / 30):
                    assert not frame.after_loss
                    for out in decoder.decode(frame.data):
                        assert pattern_index(out) == index
                        scores.append(psnr(source, out))
    assert len(scores) == FRAMES
    assert min(scores) >= 30.0, scores
    assert max(sizes) <= mtu
    assert sender.max_payload == mtu - 12


@pytest.mark.parametrize("spec", [H264, VP8, VP9], ids=["h264", "vp8", "vp9"])
def test_forced_key_frames(spec: VideoCodecSpec) -> None:
    encoder = spec.encoder(VideoEncoderSettings(width=320, height=240))
    fmt = spec.payload_format()
    kinds = []
    for index in range(4):
        (encoded,) = encoder.encode(pattern_frame(320, 240, index), keyframe=index == 2)
        kinds.append((encoded.keyframe, fmt.is_keyframe(fmt.packetize(encoded.data))))
    assert kinds == [(True, True), (False, False), (True, True), (False, False)]
    (resized,) = encoder.encode(pattern_frame(160, 120, 4))
    assert resized.keyframe
    decoder = spec.decoder()
    assert decoder.decode(b"\x00\x01garbage" * 10) == []


def test_decoder_counts_corrupt_input() -> None:
    decoder = VP8.decoder()
    assert decoder.decode(bytes([0x50]) + bytes(40)) == []
    assert decoder.errors == 1


def test_i420_frames() -> None:
    frame = pattern_frame(64, 48, 5)
    assert (frame.width, frame.height) == (64, 48)
    raw = frame.to_i420()
    assert len(raw) == i420_size(64, 48) == 64 * 48 * 3 // 2
    again = VideoFrame.from_i420(raw, 64, 48)
    assert np.array_equal(again.data, frame.data)
    assert np.array_equal(pattern_frame(64, 48, 5).data, frame.data)
    y, u, v = frame.planes()
    assert y.shape == (48, 64) and u.shape == v.shape == (24, 32)
    assert math.isinf(psnr(frame, again))
    assert pattern_index(pattern_frame(320, 240, 40503)) == 40503
    with pytest.raises(ValueError, match="carries no index"):
        pattern_index(frame)
    assert psnr(frame, pattern_frame(64, 48, 6)) < 30
    with pytest.raises(ValueError, match="not one 64x48"):
        VideoFrame.from_i420(raw[:-1], 64, 48)
    with pytest.raises(ValueError, match="even"):
        VideoFrame.from_i420(raw, 63, 48)
    with pytest.raises(ValueError, match="differ in size"):
        psnr(frame, pattern_frame(32, 24, 0))


def test_rotate_and_mirror() -> None:
    frame = pattern_frame(64, 48, 3)
    turned = rotate(frame, 90)
    assert (turned.width, turned.height) == (48, 64)
    y, u, _ = frame.planes()
    ty, tu, _ = turned.planes()
    assert ty[0, -1] == y[0, 0] and ty[-1, -1] == y[0, -1]  # clockwise: top row -> right
    assert tu[0, -1] == u[0, 0]
    assert np.array_equal(rotate(rotate(frame, 180), 180).data, frame.data)
    assert np.array_equal(rotate(turned, 270).data, frame.data)
    assert rotate(frame, 0) is frame
    flipped = mirror(frame)
    assert flipped.planes()[0][5, 0] == y[5, -1]
    assert np.array_equal(mirror(flipped).data, frame.data)
    with pytest.raises(ValueError, match="not 0, 90, 180 or 270"):
        rotate(frame, 45)
