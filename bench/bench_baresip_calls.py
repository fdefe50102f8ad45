"""Benchmark: the same two-way G.711 calls as bench_media_calls.py, carried by baresip.

Not a test. A voipkit Phone (CPU 0, uvloop) places N peer-to-peer calls to one baresip
1.0.0 process (Debian ``baresip``, pinned to CPU 1) that answers them all: each call
sends a 440 Hz tone both ways (baresip's ``aufile`` source, voipkit's looped tone),
PCMU, 20 ms. After a warm-up it measures for ``--seconds``: baresip's CPU use (utime +
stime of /proc/PID/stat over wall time) and the resident memory the calls added, per
call, and, at the
voipkit end, the loss and playout underruns of what baresip sent. It is the baresip
side of the comparison in docs/performance.md (bench_media_calls.py is voipkit's);
voipkit's own CPU is printed too, for its side of the same calls. Run with:

    .venv/bin/python bench/bench_baresip_calls.py --calls 50,100,200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from voipkit.aio.loop import run as run_loop
from voipkit.api import Call, CallState, MediaConfig, Phone, PhoneConfig
from voipkit.media.ports import ToneSource

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_media_calls import LoopedTone

WARMUP = 3.0
CONFIG = """poll_method\t\tepoll
sip_listen\t\t127.0.0.1:{sip_port}
net_interface\t\t127.0.0.1
dns_server\t\t127.0.0.1:{dns_port}
call_local_timeout\t120
call_max_calls\t\t{max_calls}
audio_path\t\t/usr/share/baresip
audio_source\t\taufile,{tone}
audio_player\t\taubridge,nullsink
audio_alert\t\taubridge,nullsink
audio_level\t\tno
audio_buffer\t\t20-160
rtp_ports\t\t{rtp_min}-{rtp_max}
rtcp_mux\t\tno
jitter_buffer_delay\t5-10
statmode_default\toff
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\taufile.so
module\t\t\taubridge.so
module_tmp\t\tuuid.so
module_tmp\t\taccount.so
module_app\t\tmenu.so
"""


def _free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _tone_file(path: Path, seconds: float) -> Path:
    pcm = ToneSource(440.0, -20.0).read_frame(round(8000 * seconds), 8000)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path


def start_baresip(state: Path, calls: int, seconds: float, cpu: int) -> tuple[
        subprocess.Popen[bytes], int]:
    binary = shutil.which("baresip")
    if binary is None:
        raise SystemExit("baresip is not installed (Debian package baresip)")
    sip_port = _free_port()
    rtp_min = 50000
    (state / "config").write_text(CONFIG.format(
        sip_port=sip_port, dns_port=_free_port(), max_calls=calls + 4,
        tone=_tone_file(state / "tone.wav", WARMUP + seconds + 60), rtp_min=rtp_min,
        rtp_max=rtp_min + 4 * calls + 40))
    (state / "accounts").write_text(
        f"<sip:alice@127.0.0.1:{sip_port}>;regint=0;answermode=auto;audio_codecs=PCMU\n")
    (state / "contacts").write_text("# none\n")
    log = (state / "baresip.log").open("wb")
    proc = subprocess.Popen([binary, "-f", str(state)], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, cwd=state,
                            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    deadline = time.monotonic() + 10
    while True:  # up when its SIP port is taken
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", sip_port))
        except OSError:
            return proc, sip_port
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((state / "baresip.log").read_text()[-2000:])
        time.sleep(0.05)


async def drive(calls: int, sip_port: int, pid: int, seconds: float) -> dict[str, Any]:
    config = PhoneConfig(listen=("udp:127.0.0.1:0",),
                         media=MediaConfig(codecs=("PCMU",), rtp_port_range=(20000, 32000)))
    baseline = _proc_rss_kb(pid)
    async with Phone(config) as phone:
        placed: list[Call] = []
        for _ in range(calls):
            call = await phone.call(f"sip:alice@127.0.0.1:{sip_port}")
            assert call.audio is not None
            call.audio.microphone = LoopedTone(8000)
            placed.append(call)
            await asyncio.sleep(0.02 / 4)
        for call in placed:
            await call.answered(timeout=20)
        await asyncio.sleep(WARMUP)
        connected = [c for c in placed if c.state is CallState.CONNECTED]

        def snapshot() -> dict[str, float]:
            total = {"lost": 0.0, "received": 0.0, "underruns": 0.0, "played": 0.0}
            for call in connected:
                stream = call.audio.stream if call.audio is not None else None
                assert stream is not None
                lost = stream.statistics(0.0)["lost"]
                assert isinstance(lost, int)
                total["lost"] += lost
                total["received"] += stream.counters.packets_received
                total["underruns"] += stream.jitter_buffer.stats.underruns
                device = call.audio._device if call.audio is not None else None
                total["played"] += device.frames_played if device is not None else 0
            return total

        before, cpu0, own0, wall0 = snapshot(), _proc_cpu(pid), time.process_time(), \
            time.monotonic()
        await asyncio.sleep(seconds)
        after, cpu1, own1, wall1 = snapshot(), _proc_cpu(pid), time.process_time(), \
            time.monotonic()
        rss = _proc_rss_kb(pid)
        for call in placed:
            if call.state is CallState.CONNECTED:
                await call.hangup()
    delta = {k: after[k] - before[k] for k in after}
    wall = wall1 - wall0
    return {
        "calls": len(connected),
        "baresip_cpu_pct": 100 * (cpu1 - cpu0) / wall,
        "baresip_kb_per_call": (rss - baseline) / max(1, len(connected)),
        "voipkit_cpu_pct": 100 * (own1 - own0) / wall,
        "loss_pct": 100 * delta["lost"] / max(1.0, delta["lost"] + delta["received"]),
        "underrun_pct": 100 * delta["underruns"] / max(1.0, delta["played"]),
    }


def one_level(calls: int, seconds: float) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-baresip-") as tmp:
        proc, sip_port = start_baresip(Path(tmp), calls, seconds, cpus[-1])
        try:
            os.sched_setaffinity(0, {cpus[0]})
            return run_loop(drive(calls, sip_port, proc.pid, seconds))
        finally:
            os.sched_setaffinity(0, set(cpus))
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"baresip answering N PCMU calls from voipkit, {args.seconds:.0f} s per level "
          f"after {WARMUP:.0f} s warm-up, medians of {args.runs} runs")
    print(f"{'calls':>6} {'baresip CPU %':>14} {'KB/call':>8} {'voipkit CPU %':>14} "
          f"{'loss %':>8} {'underrun %':>11}")
    for calls in (int(c) for c in args.calls.split(",")):
        runs = [one_level(calls, args.seconds) for _ in range(args.runs)]

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(float(r[key]) for r in runs)
        print(f"{med('calls'):>6.0f} {med('baresip_cpu_pct'):>14.1f} "
              f"{med('baresip_kb_per_call'):>8.0f} {med('voipkit_cpu_pct'):>14.1f} "
              f"{med('loss_pct'):>8.3f} {med('underrun_pct'):>11.3f}", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
