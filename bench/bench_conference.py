"""Micro-benchmark: one ConferenceBridge tick (put + mix-minus + resampling) for 10 members.

Not a test. Prints the median µs per tick (20 ms at a 16 kHz bridge) for ten
members, in three line-ups: all at the bridge rate (mixing alone, no
resampling), all narrowband G.711 legs at 8 kHz, and a mix of 8/16/48 kHz legs
with the local device at 48 kHz. A tick must stay well under 20 000 µs. Run with:

    .venv/bin/python bench/bench_conference.py
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Hashable

import numpy as np

from voipkit.media.conference import LOCAL_DEVICE, ConferenceBridge

MEMBERS = 10
RUNS = 7
LOOPS = 500


def build(rates: list[int]) -> tuple[ConferenceBridge, dict[Hashable, np.ndarray]]:
    bridge = ConferenceBridge(sample_rate=16000, ptime=0.02)
    rng = np.random.default_rng(1)
    frames: dict[Hashable, np.ndarray] = {}
    for i, rate in enumerate(rates):
        member: Hashable = LOCAL_DEVICE if i == 0 and rate == 48000 else i
        bridge.add(member, rate)
        frames[member] = rng.integers(-8000, 8000, rate // 50, dtype=np.int16)
    return bridge, frames


def tick_us(rates: list[int]) -> float:
    bridge, frames = build(rates)

    def one_tick() -> None:
        for member, frame in frames.items():
            bridge.put(member, frame)
        bridge.tick()

    for _ in range(100):  # past the resamplers' start-up
        one_tick()
    times = timeit.repeat(one_tick, number=LOOPS, repeat=RUNS)
    return statistics.median(times) / LOOPS * 1e6


def main() -> None:
    lineups = {
        "10 x 16 kHz (no resampling)": [16000] * MEMBERS,
        "10 x 8 kHz": [8000] * MEMBERS,
        "local 48 kHz + 3 x 8k, 3 x 16k, 3 x 48k": [48000] + [8000] * 3 + [16000] * 3 + [48000] * 3,
    }
    for name, rates in lineups.items():
        print(f"{name:42s} {tick_us(rates):8.1f} µs/tick")


if __name__ == "__main__":
    main()
