"""The frame assembler turns lost, late, duplicated and reordered RTP packets into
whole frames, in order, each once.

Proves:
- with reordering and duplicates (no loss), every frame comes out once, in order, intact,
  across the 16-bit sequence wrap, for H.264 and VP8 (hypothesis);
- with loss, exactly the frames that lost no packet come out (after the hole's wait),
  in order, and the first one after a hole is marked ``after_loss`` (hypothesis);
- the wait for a hole has an exact deadline (``max_wait`` after the packet behind it);
- a frame whose last packet lacks the marker ends where the next timestamp begins;
- late packets (before what was given out) and duplicates are counted and dropped;
- a malformed frame is dropped and the next one is marked ``after_loss``.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from voipkit.media.rtp import RtpPacket
from voipkit.media.video.assembler import AssembledFrame, FrameAssembler
from voipkit.media.video.h264 import H264PayloadFormat, join_annex_b
from voipkit.media.video.payload import PayloadFormat
from voipkit.media.video.vp8 import Vp8PayloadFormat


def h264_frame(index: int, size: int) -> bytes:
    # An AUD starts the picture; then one slice that is not the picture's first
    # (first_mb_in_slice > 0), so only the AUD marks the start.
    body = bytes((index * 7 + i) % 255 + 1 for i in range(size))
    return join_annex_b([b"\x09\xf0", bytes([0x41, 0x3A]) + body])


def vp8_frame(index: int, size: int) -> bytes:
    return bytes([0x51]) + bytes((index + i) % 256 for i in range(size))


def packetize(fmt: PayloadFormat, frames: list[bytes], first_seq: int) -> list[RtpPacket]:
    packets: list[RtpPacket] = []
    seq = first_seq
    for index, frame in enumerate(frames):
        payloads = fmt.packetize(frame)
        for j, payload in enumerate(payloads):
            packets.append(RtpPacket(96, seq & 0xFFFF, 3000 * index, 1, payload,
                                     marker=j == len(payloads) - 1))
            seq += 1
    return packets


def shuffle_locally(packets: list[RtpPacket], swaps: list[int]) -> list[RtpPacket]:
    out = list(packets)
    for i, distance in enumerate(swaps):
        j = min(len(out) - 1, i + distance)
        if i < len(out):
            out[i], out[j] = out[j], out[i]
    return out


def drain(asm: FrameAssembler, packets: list[RtpPacket]) -> list[AssembledFrame]:
    frames: list[AssembledFrame] = []
    now = 0.0
    for packet in packets:
        now += 0.001
        frames += asm.handle_timer(now=now)
        frames += asm.insert(packet, now=now)
    while (deadline := asm.get_timer()) is not None:
        frames += asm.handle_timer(now=deadline)
    return frames


scenario = st.tuples(
    st.sampled_from(["h264", "vp8"]),
    st.lists(st.integers(1, 3000), min_size=1, max_size=12),
    st.integers(0, 65535),
    st.lists(st.integers(0, 6), max_size=80),
)


def build(codec: str, sizes: list[int]) -> tuple[PayloadFormat, list[bytes]]:
    if codec == "h264":
        return H264PayloadFormat(max_payload=500), [h264_frame(i, s) for i, s in
                                                    enumerate(sizes)]
    return Vp8PayloadFormat(max_payload=500), [vp8_frame(i, s) for i, s in enumerate(sizes)]


@given(scenario, st.lists(st.integers(0, 200), max_size=10))
def test_reordered_and_duplicated_packets_give_every_frame_once(
    case: tuple[str, list[int], int, list[int]], duplicates: list[int]
) -> None:
    codec, sizes, first_seq, swaps = case
    fmt, frames = build(codec, sizes)
    packets = packetize(fmt, frames, first_seq)
    # The first packet leads (a receiver locks on the first frame it sees start).
    arrival = packets[:1] + shuffle_locally(packets[1:], swaps)
    arrival += [arrival[d % len(arrival)] for d in duplicates]
    asm = FrameAssembler(build(codec, sizes)[0])
    out = drain(asm, arrival)
    assert [f.data for f in out] == frames
    assert [f.timestamp for f in out] == [3000 * i for i in range(len(frames))]
    assert not any(f.after_loss for f in out)


@given(scenario, st.sets(st.integers(1, 400), max_size=20))
def test_lost_packets_lose_exactly_their_frames(
    case: tuple[str, list[int], int, list[int]], lost: set[int]
) -> None:
    codec, sizes, first_seq, swaps = case
    fmt, frames = build(codec, sizes)
    packets = packetize(fmt, frames, first_seq)
    lost = {i for i in lost if i < len(packets)}  # the first packet always arrives
    damaged = {p.timestamp // 3000 for i, p in enumerate(packets) if i in lost}
    kept = [p for i, p in enumerate(packets) if i not in lost]
    arrival = kept[:1] + shuffle_locally(kept[1:], swaps)
    out = drain(FrameAssembler(build(codec, sizes)[0]), arrival)
    expected = [i for i in range(len(frames)) if i not in damaged]
    # A damaged last frame cannot be told from one still arriving, so it never comes out;
    # every intact frame does, intact and in order.
    assert [f.timestamp // 3000 for f in out] == expected
    assert all(f.data == frames[f.timestamp // 3000] for f in out)
    for f in out:
        index = f.timestamp // 3000
        assert f.after_loss == (index - 1 in damaged)


def test_hole_deadline_is_exact() -> None:
    fmt = Vp8PayloadFormat(max_payload=100)
    packets = packetize(fmt, [vp8_frame(0, 150), vp8_frame(1, 50)], 10)
    asm = FrameAssembler(Vp8PayloadFormat(max_payload=100), max_wait=0.5)
    assert asm.insert(packets[0], now=1.0) == []
    assert asm.get_timer() is None  # frame 0 is still arriving: nothing is blocked
    assert asm.insert(packets[2], now=1.25) == []  # frame 1 is here, packet 11 is not
    assert asm.get_timer() == 1.75
    assert asm.handle_timer(now=1.7499) == []
    out = asm.handle_timer(now=1.75)
    assert [(f.timestamp, f.after_loss, f.first_sequence) for f in out] == [(3000, True, 12)]
    assert asm.get_timer() is None and asm.frames_skipped == 1
    assert asm.insert(packets[1], now=1.8) == [] and asm.late_packets == 1


def test_missing_marker_ends_at_the_next_timestamp() -> None:
    fmt = Vp8PayloadFormat(max_payload=100)
    packets = packetize(fmt, [vp8_frame(0, 150), vp8_frame(1, 50)], 0)
    packets[1].marker = False
    asm = FrameAssembler(Vp8PayloadFormat(max_payload=100))
    assert asm.insert(packets[0], now=0) == [] and asm.insert(packets[1], now=0) == []
    out = asm.insert(packets[2], now=0)
    assert [f.data for f in out] == [vp8_frame(0, 150), vp8_frame(1, 50)]
    assert asm.insert(packets[2], now=0) == [] and asm.late_packets == 1


def test_malformed_frame_is_dropped() -> None:
    fmt = H264PayloadFormat(max_payload=1000)
    good = packetize(fmt, [h264_frame(0, 10), h264_frame(1, 10)], 0)
    bad = RtpPacket(96, 1, 3000, 1, b"\x09\xf0", marker=False)  # AUD, then a lone FU-A end
    tail = RtpPacket(96, 2, 3000, 1, b"\x7c\x45ab", marker=True)
    nxt = RtpPacket(96, 3, 6000, 1, good[1].payload, marker=True)
    asm = FrameAssembler(H264PayloadFormat(max_payload=1000))
    out = [f for p in (good[0], bad, tail, nxt) for f in asm.insert(p, now=0)]
    assert [(f.timestamp, f.after_loss) for f in out] == [(0, False), (6000, True)]
    assert asm.malformed_frames == 1
    duplicate = asm.insert(nxt, now=0)
    assert duplicate == [] and asm.late_packets == 1
