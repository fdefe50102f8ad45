"""Micro-benchmark: G.711 encode/decode of one 20 ms frame (160 samples at 8 kHz).

Not a test. Prints the median µs per frame over several runs for each law and
direction, plus PCMU concealment of one frame. Run with:

    .venv/bin/python bench/bench_g711.py
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable

import numpy as np

from voipkit.media.codecs.g711 import G711Decoder, G711Encoder

FRAME = 160
RUNS = 7
LOOPS = 20_000


def median_us(fn: Callable[[], object]) -> float:
    times = timeit.repeat(fn, number=LOOPS, repeat=RUNS)
    return statistics.median(times) / LOOPS * 1e6


def main() -> None:
    rng = np.random.default_rng(1)
    pcm = rng.integers(-32768, 32768, FRAME, dtype=np.int16)
    for law, name in (("u", "PCMU"), ("a", "PCMA")):
        encoder, decoder = G711Encoder(law), G711Decoder(law)
        payload = encoder.encode(pcm)
        print(f"{name} encode  {median_us(lambda e=encoder: e.encode(pcm)):6.2f} µs/frame")
        print(f"{name} decode  {median_us(lambda d=decoder, p=payload: d.decode(p)):6.2f} µs/frame")
    decoder = G711Decoder("u")
    decoder.decode(G711Encoder("u").encode(np.tile(pcm, 3)))

    def conceal() -> None:
        decoder.decode(payload)
        decoder.conceal(FRAME)

    print(f"PCMU decode+conceal {median_us(conceal):6.2f} µs/frame (pitch search each erasure)")


if __name__ == "__main__":
    main()
