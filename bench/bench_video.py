"""Video calls per core: codec ceiling, sans-IO stream cost, and paced calls on loopback.

Not a test. Run: ``.venv/bin/python bench/bench_video.py [--codec H264|VP8] [--calls N]
[--seconds S]``. Three figures for 640x480 at 30 fps (the moving test pattern, ~1.5
Mbit/s; camera content costs more):

1. codec ceiling: median encode + decode ms per frame, and the endpoints one core could
   run on codec work alone (1 / (30 * (encode + decode)));
2. sans-IO endpoint cost: a VideoStream pair exchanging frames both ways in one process
   (encode, packetize, RTP, reassemble, decode), CPU ms per frame per endpoint;
3. paced calls: N two-way VideoSession pairs on 127.0.0.1 (2N endpoints, real sockets,
   MediaClock pacing) for S seconds: process CPU, frames delivered, ticks skipped, and
   endpoints per core = 2N / (CPU seconds / wall seconds), compared with the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from voipkit.aio.video_session import VideoSession
from voipkit.base.ids import SequentialIds
from voipkit.media.video import (
    DEFAULT_VIDEO_CODECS,
    VideoEncoderSettings,
    VideoStream,
    VideoStreamConfig,
    pattern_frame,
)
from voipkit.sdp import create_offer, negotiate_answer, process_answer

W, H, FPS, BITRATE = 640, 480, 30, 1_500_000
SETTINGS = VideoEncoderSettings(width=W, height=H, frame_rate=FPS, bitrate=BITRATE)


def codec_ceiling(name: str, frames: int) -> tuple[float, float]:
    spec = DEFAULT_VIDEO_CODECS.find(name)
    assert spec is not None
    encoder, decoder = spec.encoder(SETTINGS), spec.decoder()
    enc, dec = [], []
    for i in range(frames):
        frame = pattern_frame(W, H, i)
        start = time.perf_counter()
        encoded = encoder.encode(frame)
        enc.append(time.perf_counter() - start)
        for e in encoded:
            start = time.perf_counter()
            decoder.decode(e.data)
            dec.append(time.perf_counter() - start)
    return statistics.median(enc) * 1e3, statistics.median(dec) * 1e3


def sans_io_cost(name: str, frames: int) -> float:
    spec = DEFAULT_VIDEO_CODECS.find(name)
    assert spec is not None
    config = VideoStreamConfig(codec=spec, payload_type=spec.preferred_payload_type,
                               receive_codecs={spec.preferred_payload_type: spec},
                               settings=VideoEncoderSettings(
                                   width=W, height=H, frame_rate=FPS, bitrate=BITRATE,
                                   remote_fmtp=dict(spec.fmtp)))
    a, b = VideoStream(config, ids=SequentialIds("a")), VideoStream(config, ids=SequentialIds("b"))
    source = [pattern_frame(W, H, i) for i in range(frames)]
    start = time.process_time()
    for i, frame in enumerate(source):
        now = i / FPS
        for datagram in a.send_frame(frame, now=now):
            b.receive_rtp(datagram, arrival=now)
        for datagram in b.send_frame(frame, now=now):
            a.receive_rtp(datagram, arrival=now)
        a.pop_frames()
        b.pop_frames()
    return (time.process_time() - start) / frames / 2 * 1e3  # per endpoint per frame


async def paced_calls(name: str, calls: int, seconds: float) -> dict[str, float]:
    sessions: list[VideoSession] = []
    received = [0] * (2 * calls)
    caps = [c for c in DEFAULT_VIDEO_CODECS.capabilities() if c.encoding == name][:1]
    for n in range(calls):
        a = await VideoSession.open("127.0.0.1", (46000, 47999), SequentialIds(f"a{n}"))
        b = await VideoSession.open("127.0.0.1", (46000, 47999), SequentialIds(f"b{n}"))
        for index, session in ((2 * n, a), (2 * n + 1, b)):
            session.apply_settings(SETTINGS)

            def count(frame: object, index: int = index) -> None:
                received[index] += 1
            session.sinks.append(count)
        offer = create_offer(capabilities=caps, address="127.0.0.1", port=a.local_port,
                             session_id=1, session_version=1, kind="video", ptime=None,
                             telephone_event=False)
        answer, (b_side,) = negotiate_answer(offer, capabilities=caps, address="127.0.0.1",
                                             port={"video": b.local_port}, session_id=2,
                                             session_version=1)
        (a_side,) = process_answer(offer, answer)
        a.configure(a_side)
        b.configure(b_side)
        sessions += [a, b]
    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.process_time(), loop.time()
    for session in sessions:
        session.start()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, loop.time() - wall0
    skipped = sum(s.ticks_skipped for s in sessions)
    for session in sessions:
        session.abort()
    expected = 2 * calls * FPS * wall
    return {"cpu_share": cpu / wall, "delivered": sum(received) / expected,
            "skipped": float(skipped), "endpoints_per_core": 2 * calls / (cpu / wall)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codec", choices=["H264", "VP8"], action="append")
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--frames", type=int, default=90)
    args = parser.parse_args()
    for name in args.codec or ["H264", "VP8"]:
        enc, dec = codec_ceiling(name, args.frames)
        ceiling = 1000 / (FPS * (enc + dec))
        endpoint = sans_io_cost(name, args.frames)
        print(f"{name}: encode {enc:.2f} ms + decode {dec:.2f} ms per frame -> ceiling "
              f"{ceiling:.1f} endpoints/core; sans-IO endpoint {endpoint:.2f} ms/frame "
              f"({1000 / (FPS * endpoint):.1f} endpoints/core)", flush=True)
        paced = asyncio.run(paced_calls(name, args.calls, args.seconds))
        print(f"{name}: {args.calls} two-way calls paced for {args.seconds:.0f} s: CPU "
              f"{paced['cpu_share'] * 100:.0f}% of a core, frames delivered "
              f"{paced['delivered'] * 100:.1f}%, ticks skipped {paced['skipped']:.0f}, "
              f"{paced['endpoints_per_core']:.1f} endpoints/core = "
              f"{paced['endpoints_per_core'] / ceiling * 100:.0f}% of the ceiling", flush=True)


if __name__ == "__main__":
    main()
