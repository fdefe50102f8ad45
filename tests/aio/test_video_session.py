"""Two VideoSessions on loopback exchange the test pattern, and repair loss.

Proves (real UDP sockets on 127.0.0.1, the loop's clock, waits on events with timeouts):
- a two-way 640x480 H.264 video stream delivers frames whose barcode index and PSNR
  (>= 30 dB) match what was sent, each side from the other;
- through a relay that drops every 20th RTP packet (5 %), NACK retransmissions repair
  the loss: every VP8 frame arrives intact and in order, with no gap over 1 s, no frame
  dropped and no PLI, and the sender retransmitted what was NACKed;
- frames pushed by the application (PushedFrames) are what gets sent;
- with a 30,000-byte MTU, RTP packets larger than the audio sockets' 8 KiB buffer
  arrive (the video sockets read up to 65,508 bytes).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Callable, Coroutine
from typing import Any, cast

import numpy as np

from voipkit.aio.video_session import PushedFrames, VideoSession
from voipkit.base.ids import SequentialIds
from voipkit.media.rtcp import RtcpSrPacket, parse_rtcp
from voipkit.media.video import (
    DEFAULT_VIDEO_CODECS,
    VideoEncoderSettings,
    VideoFrame,
    pattern_frame,
    pattern_index,
    psnr,
)
from voipkit.sdp import create_offer, negotiate_answer, process_answer

HOST = "127.0.0.1"


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 20))


def connect(a: VideoSession, b: VideoSession, codec: str) -> None:
    caps = [c for c in DEFAULT_VIDEO_CODECS.capabilities() if c.encoding == codec]
    offer = create_offer(capabilities=caps, address=HOST, port=a.local_port, session_id=1,
                         session_version=1, kind="video", ptime=None, telephone_event=False)
    answer, (b_side,) = negotiate_answer(offer, capabilities=caps, address=HOST,
                                         port={"video": b.local_port}, session_id=2,
                                         session_version=1)
    (a_side,) = process_answer(offer, answer)
    a.configure(a_side)
    b.configure(b_side)


class Collector:
    def __init__(self, wanted: int) -> None:
        self.frames: list[tuple[float, VideoFrame]] = []
        self.wanted = wanted
        self.done = asyncio.Event()

    def __call__(self, frame: VideoFrame) -> None:
        self.frames.append((asyncio.get_running_loop().time(), frame))
        if len(self.frames) >= self.wanted:
            self.done.set()


async def pair(settings: VideoEncoderSettings, *, symmetric: bool = True
               ) -> tuple[VideoSession, VideoSession]:
    a = await VideoSession.open(HOST, (20000, 40000), SequentialIds("a"), symmetric=symmetric)
    b = await VideoSession.open(HOST, (20000, 40000), SequentialIds("b"), symmetric=symmetric)
    for session in (a, b):
        session.apply_settings(settings)
    return a, b


def check(frames: list[tuple[float, VideoFrame]], width: int, height: int) -> list[int]:
    indexes = []
    for _, frame in frames:
        index = pattern_index(frame)
        score = psnr(pattern_frame(width, height, index), frame)
        assert score >= 30.0, (index, score)
        indexes.append(index)
    assert indexes == sorted(indexes)
    return indexes


def test_two_way_h264_pattern() -> None:
    async def main() -> None:
        a, b = await pair(VideoEncoderSettings(width=640, height=480, frame_rate=30,
                                               bitrate=1_500_000))
        try:
            connect(a, b, "H264")
            at_a, at_b = Collector(10), Collector(10)
            a.sinks.append(at_a)
            b.sinks.append(at_b)
            a.start()
            b.start()
            await asyncio.wait_for(asyncio.gather(at_a.done.wait(), at_b.done.wait()), 10)
            check(at_a.frames, 640, 480)
            assert check(at_b.frames, 640, 480)[0] == 0  # nothing lost on loopback
            stream = a.stream
            assert stream is not None and stream.counters.keyframes_sent == 1
        finally:
            a.abort()
            b.abort()

    run(main)


class DroppingRelay(asyncio.DatagramProtocol):
    """Forwards datagrams to ``target``, dropping every ``nth`` one."""

    def __init__(self, target: tuple[str, int], nth: int) -> None:
        self.target = target
        self.nth = nth
        self.seen = 0
        self.dropped = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen += 1
        if self.seen % self.nth == 0:
            self.dropped += 1
            return
        assert self.transport is not None
        self.transport.sendto(data, self.target)


def test_nack_repairs_five_percent_loss() -> None:
    async def main() -> None:
        a, b = await pair(VideoEncoderSettings(width=320, height=240, frame_rate=30,
                                               bitrate=800_000, mtu=600), symmetric=False)
        loop = asyncio.get_running_loop()
        relay_transport, relay = await loop.create_datagram_endpoint(
            lambda: DroppingRelay((HOST, b.local_port), 20), local_addr=(HOST, 0),
            family=socket.AF_INET)
        try:
            connect(a, b, "VP8")
            relay_port = relay_transport.get_extra_info("sockname")[1]
            # A's RTP goes through the relay; RTCP both ways is direct.
            a.sockets.set_remote((HOST, relay_port), (HOST, b.local_port + 1))
            at_b = Collector(45)
            b.sinks.append(at_b)
            a.start()
            await asyncio.wait_for(at_b.done.wait(), 10)
            indexes = check(at_b.frames, 320, 240)
            times = [t for t, _ in at_b.frames]
            assert max(later - earlier for earlier, later in itertools.pairwise(times)) < 1.0
            assert relay.dropped >= 3
            sent, received = a.stream, b.stream
            assert sent is not None and received is not None
            # NACK, not PLI, did the repair: no frame was lost or dropped.
            assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))
            assert received.counters.frames_dropped == 0 and received.counters.plis_sent == 0
            assert sent.counters.retransmissions >= relay.dropped - 1  # the last may be pending
            assert received.statistics(0.0)["nack_recovered"] >= relay.dropped - 1
        finally:
            relay_transport.close()
            a.abort()
            b.abort()

    run(main)


def test_pushed_frames_are_sent() -> None:
    async def main() -> None:
        a, b = await pair(VideoEncoderSettings(width=320, height=240, frame_rate=30))
        try:
            connect(a, b, "H264")
            pushed = PushedFrames()
            a.source = pushed
            at_b = Collector(3)
            b.sinks.append(at_b)
            a.start()
            pushed.push(pattern_frame(320, 240, 4242))
            await asyncio.wait_for(at_b.done.wait(), 5)
            assert {pattern_index(f) for _, f in at_b.frames} == {4242}
        finally:
            a.abort()
            b.abort()

    run(main)


def test_packets_larger_than_audio_buffers_arrive() -> None:
    async def main() -> None:
        a, b = await pair(VideoEncoderSettings(width=640, height=480, frame_rate=15,
                                               bitrate=8_000_000, mtu=30_000))
        try:
            connect(a, b, "VP8")
            noise = np.random.default_rng(5).integers(0, 256, (720, 640), dtype=np.uint8)
            pushed = PushedFrames()
            pushed.push(VideoFrame(noise))
            a.source = pushed
            at_b = Collector(2)
            b.sinks.append(at_b)
            a.start()
            await asyncio.wait_for(at_b.done.wait(), 10)
            stream = a.stream
            assert stream is not None
            report = parse_rtcp(stream.build_rtcp(now=asyncio.get_running_loop().time()))[0]
            assert isinstance(report, RtcpSrPacket)
            assert report.octet_count / report.packet_count > 8192  # beyond audio's buffer
            assert b.sockets.counters.dropped == 0
            assert psnr(VideoFrame(noise), at_b.frames[0][1]) > 10
        finally:
            a.abort()
            b.abort()

    run(main)
