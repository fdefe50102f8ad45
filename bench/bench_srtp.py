"""Micro-benchmark: SRTP protect + unprotect of one 172-byte RTP packet (G.711, 20 ms).

Not a test. Prints the median µs per protect+unprotect pair over several runs for each
suite SrtpContext supports (DESIGN.md budgets ~5.5 µs). Each iteration uses a new
sequence number, so libsrtp's replay checks pass as they would in a call. Run with:

    .venv/bin/python bench/bench_srtp.py
"""

from __future__ import annotations

import statistics
import struct
import time

from voipkit.media.srtp import SUITES, SrtpContext
from voipkit.sdp.model import Crypto

RUNS = 7
LOOPS = 20_000
PAYLOAD = bytes(range(160))  # 12-byte header + 160 bytes = 172


def packets(start: int, count: int) -> list[bytes]:
    return [struct.pack("!BBHII", 0x80, 0, (start + i) & 0xFFFF, (start + i) * 160 & 0xFFFFFFFF,
                        0x1234_5678) + PAYLOAD for i in range(count)]


def main() -> None:
    for name, suite in SUITES.items():
        key_a = bytes(range(suite.key_salt_length))
        key_b = bytes(range(100, 100 + suite.key_salt_length))
        alice = SrtpContext(Crypto.inline(1, name, key_a), Crypto.inline(1, name, key_b))
        bob = SrtpContext(Crypto.inline(1, name, key_b), Crypto.inline(1, name, key_a))
        results: list[float] = []
        seq = 0
        for _ in range(RUNS):
            batch = packets(seq, LOOPS)
            seq += LOOPS
            protect, unprotect = alice.protect, bob.unprotect
            started = time.perf_counter()
            for packet in batch:
                unprotect(protect(packet))
            results.append((time.perf_counter() - started) / LOOPS * 1e6)
        assert bob.counters.unprotected == RUNS * LOOPS, bob.counters
        print(f"{name:24} protect+unprotect {statistics.median(results):6.2f} µs/packet "
              f"(172 bytes)")


if __name__ == "__main__":
    main()
