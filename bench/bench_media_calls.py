"""Benchmark: how many two-way calls with media one voipkit process carries on one core.

Not a test. Each call is a real ``voipkit.aio.media_session.AudioSession`` (UDP RTP and
RTCP sockets, the virtual device's media clock, a looped 440 Hz tone encoded every 20 ms, the
RTP stream's jitter buffer and decoder playing every 20 ms) whose far end is a UDP
reflector in another process, so every call sends and receives 50 packets/s: the
voipkit process does the work of both directions of a call, as a B2BUA leg or a
softphone would. The reflector sends each datagram back to where it came from (the
stream then receives its own packets: the same decoding work as a peer's). SIP is not
involved: calls are configured as after an offer/answer.

The voipkit process is pinned to CPU 0 and the reflector to CPU 1
(``os.sched_setaffinity``). Call starts are spread over one ptime. After a warm-up,
for ``--seconds`` it measures, over all calls: loss (packets missing from the received
sequence numbers, RFC 3550 A.3, over those expected), playout underruns (frames the
jitter buffer had nothing for, per frame played), ticks the media clocks skipped, the
process's CPU use (process time / wall time) and the resident memory added per call.
Run with:

    .venv/bin/python bench/bench_media_calls.py                       # G.711
    .venv/bin/python bench/bench_media_calls.py --codec opus --calls 10,20,30,40

Each level runs ``--runs`` times; the table gives medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

from voipkit.aio.loop import run as run_loop
from voipkit.aio.loop import uvloop_available
from voipkit.aio.media_session import AudioSession
from voipkit.media.codecs import FULL_CODECS
from voipkit.media.frames import Pcm
from voipkit.media.ports import ToneSource
from voipkit.sdp import Direction, NegotiatedMedia
from voipkit.sdp.model import RtpMap

CODECS = {"pcmu": RtpMap(0, "PCMU", 8000), "opus": RtpMap(111, "opus", 48000, 2)}
WARMUP = 3.0


# --- the reflector (CPU 1) ---------------------------------------------------------------


def reflector() -> None:
    """Send every datagram back to its source until SIGTERM; prints the port first."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    buffer = bytearray(2048)
    view = memoryview(buffer)
    recv, send = sock.recvfrom_into, sock.sendto
    while True:
        size, source = recv(buffer)
        send(view[:size], source)


# --- the voipkit worker (CPU 0) ----------------------------------------------------------


class LoopedTone:
    """One second of a 440 Hz tone read over and over (a file played in a loop, without
    the cost of computing a sine every frame)."""

    def __init__(self, rate: int) -> None:
        self._pcm: Pcm = ToneSource(440.0, -20.0).read_frame(rate, rate)
        self._at = 0

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        start = self._at
        self._at = (start + samples) % len(self._pcm)
        if start + samples <= len(self._pcm):
            return self._pcm[start:start + samples]
        return np.concatenate((self._pcm[start:], self._pcm[:samples - len(self._pcm) + start]))


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _media(codec: str, port: int) -> NegotiatedMedia:
    rtpmap = CODECS[codec]
    return NegotiatedMedia(
        index=0, kind="audio", remote_address="127.0.0.1", remote_port=port,
        remote_rtcp=("127.0.0.1", port), rtcp_mux=False, send_codec=rtpmap, send_fmtp={},
        payload_types={rtpmap.payload_type: rtpmap}, telephone_event_pt=None,
        direction=Direction.SENDRECV, ptime=0.02)


def _snapshot(sessions: list[AudioSession]) -> dict[str, int]:
    total = {"sent": 0, "received": 0, "lost": 0, "underruns": 0, "played": 0,
             "skipped": 0, "concealed": 0}
    for session in sessions:
        stream = session.stream
        assert stream is not None
        lost = stream.statistics(0.0)["lost"]
        assert isinstance(lost, int)
        total["lost"] += lost
        total["sent"] += stream.counters.packets_sent
        total["received"] += stream.counters.packets_received
        total["underruns"] += stream.jitter_buffer.stats.underruns
        total["concealed"] += stream.counters.concealed_frames
        device = session._device
        assert device is not None
        total["played"] += device.frames_played
        total["skipped"] += device.skipped
    return total


async def worker(calls: int, codec: str, port: int, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    baseline = _rss_kb()
    sessions = []
    for _ in range(calls):
        session = await AudioSession.open("127.0.0.1", (20000, 32000), registry=FULL_CODECS)
        session.configure(_media(codec, port))
        session.microphone = LoopedTone(session.sample_rate)
        sessions.append(session)
    for i, session in enumerate(sessions):  # spread the starts over one ptime
        loop.call_later(i * 0.02 / calls, session.start)
    await asyncio.sleep(WARMUP)
    rss = _rss_kb()
    before, cpu0, wall0 = _snapshot(sessions), time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    after, cpu1, wall1 = _snapshot(sessions), time.process_time(), time.monotonic()
    for session in sessions:
        session.abort()
    delta = {k: after[k] - before[k] for k in after}
    return {
        "calls": calls,
        "codec": codec,
        "loss_pct": 100 * delta["lost"] / max(1, delta["lost"] + delta["received"]),
        "underrun_pct": 100 * delta["underruns"] / max(1, delta["played"]),
        "concealed_pct": 100 * delta["concealed"] / max(1, delta["played"]),
        "skipped": delta["skipped"],
        "cpu_pct": 100 * (cpu1 - cpu0) / (wall1 - wall0),
        "kb_per_call": (rss - baseline) / calls,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "packets_per_s": (delta["sent"] + delta["received"]) / (wall1 - wall0),
    }


# --- the orchestrator ----------------------------------------------------------------------


def _pinned(cpu: int) -> Any:
    def pin() -> None:
        os.sched_setaffinity(0, {cpu})
    return pin


def one_level(calls: int, codec: str, seconds: float, use_uvloop: bool) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    worker_cpu, reflector_cpu = cpus[0], cpus[-1]
    refl = subprocess.Popen([sys.executable, __file__, "--reflector"], stdout=subprocess.PIPE,
                            text=True, preexec_fn=_pinned(reflector_cpu))
    try:
        assert refl.stdout is not None
        port = int(refl.stdout.readline())
        args = [sys.executable, __file__, "--worker", str(calls), "--codec", codec,
                "--port", str(port), "--seconds", str(seconds)]
        if not use_uvloop:
            args.append("--no-uvloop")
        done = subprocess.run(args, capture_output=True, text=True, check=True,
                              preexec_fn=_pinned(worker_cpu), timeout=seconds + 120)
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    finally:
        refl.send_signal(signal.SIGTERM)
        refl.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codec", choices=sorted(CODECS), default="pcmu")
    parser.add_argument("--calls", default="100,200,300,400")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--reflector", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reflector:
        reflector()
        return
    use_uvloop = not args.no_uvloop and uvloop_available()
    if args.worker is not None:
        result = run_loop(worker(args.worker, args.codec, args.port, args.seconds),
                          use_uvloop=use_uvloop)
        print(json.dumps(result))
        return
    print(f"codec {args.codec}, {'uvloop' if use_uvloop else 'asyncio'} loop, "
          f"{args.seconds:.0f} s per level after {WARMUP:.0f} s warm-up, medians of "
          f"{args.runs} runs")
    print(f"{'calls':>6} {'CPU %':>7} {'loss %':>8} {'underrun %':>11} {'concealed %':>12} "
          f"{'skipped':>8} {'KB/call':>8} {'pkt/s':>8}")
    for calls in (int(c) for c in args.calls.split(",")):
        runs = [one_level(calls, args.codec, args.seconds, use_uvloop)
                for _ in range(args.runs)]

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(r[key] for r in runs)
        print(f"{calls:>6} {med('cpu_pct'):>7.1f} {med('loss_pct'):>8.3f} "
              f"{med('underrun_pct'):>11.3f} {med('concealed_pct'):>12.3f} "
              f"{med('skipped'):>8.0f} {med('kb_per_call'):>8.0f} "
              f"{med('packets_per_s'):>8.0f}", flush=True)


if __name__ == "__main__":
    main()
