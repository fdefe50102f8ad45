#!/usr/bin/env python3
"""Calls per second that `voipkit agent --auto-answer 0` sustains as a UAS under SIPp.

Method (issue: "Calls per second that voipkit agent --auto-answer sustains as UAS
under sipp -sn uac for 10 s with 0 failed calls and no retransmissions, with CPU
and RSS"): for each offered rate, `sipp -sn uac -r RATE` places RATE x SECONDS
calls; a level passes when every call succeeded and SIPp counted no
retransmission. The rate climbs until a level fails; the figure is the highest
passing rate. The UAS process's CPU (user+system over wall time) and peak RSS
are read from /proc. The same ladder is run against SIPp's own UAS (`sipp -sn
uas`) in the same run, for scale. Everything stays on 127.0.0.1.

Usage: python bench/bench_uas_calls.py [--seconds 10] [--runs 3] [--rates 200,400,...]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for_sip(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            me = s.getsockname()[1]
            probe = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-bench;rport\r\n"
                     "Max-Forwards: 70\r\nTo: <sip:x@127.0.0.1>\r\n"
                     "From: <sip:b@127.0.0.1>;tag=b\r\nCall-ID: bench-probe\r\n"
                     "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()
            s.settimeout(0.3)
            s.sendto(probe, ("127.0.0.1", port))
            with contextlib.suppress(OSError):
                if s.recv(65535).startswith(b"SIP/2.0"):
                    return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answers SIP on 127.0.0.1:{port}")


@dataclass
class Level:
    rate: int
    successful: int
    failed: int
    retransmissions: int
    cpu_percent: float
    rss_mb: float

    @property
    def clean(self) -> bool:
        return self.failed == 0 and self.retransmissions == 0 and self.successful > 0


def run_level(uas_pid: int, port: int, rate: int, seconds: int, workdir: Path) -> Level:
    calls = rate * seconds
    stat = workdir / f"uac-{port}-{rate}.csv"
    cpu0, t0 = cpu_seconds(uas_pid), time.monotonic()
    proc = subprocess.run(
        ["sipp", f"127.0.0.1:{port}", "-sn", "uac", "-i", "127.0.0.1", "-p", str(free_port()),
         "-r", str(rate), "-m", str(calls), "-l", str(max(rate * 4, 100)), "-nostdin",
         "-timeout", str(seconds * 3 + 30), "-timeout_error", "-trace_stat", "-stf", str(stat),
         "-fd", "1"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        timeout=seconds * 3 + 60)
    cpu = (cpu_seconds(uas_pid) - cpu0) / (time.monotonic() - t0) * 100
    rows = list(csv.reader(stat.open(), delimiter=";"))
    head, last = rows[0], rows[-1]
    def field(name: str) -> int:
        return int(last[head.index(name)])
    level = Level(rate, field("SuccessfulCall(C)"), field("FailedCall(C)"),
                  field("Retransmissions(C)"), cpu, rss_mb(uas_pid))
    if proc.returncode not in (0, 1):  # 1: some calls failed (reported in the level)
        level.failed = max(level.failed, 1)
    return level


def ladder(command: list[str], port: int, rates: list[int], seconds: int) -> list[Level]:
    with tempfile.TemporaryDirectory(prefix="voipkit-bench-") as tmp:
        uas = subprocess.Popen(command, cwd=tmp, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            time.sleep(0.2)
            if uas.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {uas.returncode} at start")
            if command[0] == "sipp":
                time.sleep(0.5)  # SIPp's UAS answers INVITEs only; give it time to bind
            else:
                wait_for_sip(port)
            levels: list[Level] = []
            for rate in rates:
                level = run_level(uas.pid, port, rate, seconds, Path(tmp))
                levels.append(level)
                print(f"    {rate:>5} calls/s offered: {level.successful} ok,"
                      f" {level.failed} failed,"
                      f" {level.retransmissions} retrans, CPU {level.cpu_percent:.0f}%,"
                      f" RSS {level.rss_mb:.0f} MB", flush=True)
                if not level.clean:
                    break
            return levels
        finally:
            uas.send_signal(signal.SIGTERM)
            try:
                uas.wait(10)
            except subprocess.TimeoutExpired:
                uas.kill()
                uas.wait()


def best(levels: list[Level]) -> Level | None:
    clean = [lv for lv in levels if lv.clean]
    return clean[-1] if clean else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", default="100,200,300,400,500,600,800,1000,1200,1500")
    parser.add_argument("--skip-sipp-uas", action="store_true")
    args = parser.parse_args()
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian package sip-tester)", file=sys.stderr)
        return 2
    rates = [int(r) for r in args.rates.split(",")]
    results: dict[str, list[int]] = {"voipkit agent": [], "sipp -sn uas": []}
    for run in range(1, args.runs + 1):
        port = free_port()
        agent = [sys.executable, "-m", "voipkit", "agent", "--listen", f"udp:127.0.0.1:{port}",
                 "--auto-answer", "0", "--max-calls", "10000", "-q", "--rtp-ports", "20000-60000",
                 "--log-level", "ERROR"]
        print(f"run {run}: voipkit agent", flush=True)
        top = best(ladder(agent, port, rates, args.seconds))
        results["voipkit agent"].append(top.rate if top else 0)
        if not args.skip_sipp_uas:
            port = free_port()
            sipp_uas = ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin"]
            print(f"run {run}: sipp -sn uas", flush=True)
            top = best(ladder(sipp_uas, port, rates, args.seconds))
            results["sipp -sn uas"].append(top.rate if top else 0)
    print("\nhighest clean rate (0 failed, 0 retransmissions), median of runs:")
    for name, values in results.items():
        if values:
            print(f"  {name:<16} {statistics.median(values):>6.0f} calls/s   runs: {values}")
    ours, theirs = results["voipkit agent"], results["sipp -sn uas"]
    if ours and theirs and statistics.median(theirs):
        print(f"  ratio voipkit/sipp-uas: {statistics.median(ours) / statistics.median(theirs):.2f}"
              f" (rates tested up to {rates[-1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
