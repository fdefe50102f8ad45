"""Micro-benchmark: capture-side audio processing, µs per 20 ms frame.

Not a test. Prints the median µs per frame over several runs for the WebRTC
VAD, the silence suppressor, the speex echo canceller (128 ms tail), the speex
preprocessor (ANS, AGC, both) and the whole ProcessingChain with every switch
on, at 8 kHz (160 samples) and 16 kHz (320 samples). Run with:

    .venv/bin/python bench/bench_dsp.py
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable

import numpy as np

from voipkit.media.dsp import (
    EchoCanceller,
    Preprocessor,
    ProcessingChain,
    SilenceSuppressor,
    VoiceActivityDetector,
)
from voipkit.media.frames import Pcm

RUNS = 7
LOOPS = 2_000


def median_us(fn: Callable[[], object]) -> float:
    times = timeit.repeat(fn, number=LOOPS, repeat=RUNS)
    return statistics.median(times) / LOOPS * 1e6


def bench_rate(rate: int, mic: Pcm, far: Pcm) -> dict[str, float]:
    size = len(mic)
    vad = VoiceActivityDetector(2, rate)
    suppressor = SilenceSuppressor(VoiceActivityDetector(2, rate), cng=True)
    results = {
        "VAD (webrtcvad)": median_us(lambda: vad.is_speech(mic)),
        "VAD + hangover + CN": median_us(lambda: suppressor.process(mic)),
    }
    with EchoCanceller(size, round(0.128 * rate), rate) as ec:
        results["AEC (speex, 128 ms)"] = median_us(lambda: ec.process(mic, far))
    with Preprocessor(size, rate, denoise=True) as ans:
        results["ANS (speex)"] = median_us(lambda: ans.process(mic))
    with Preprocessor(size, rate, denoise=False, agc=True) as agc:
        results["AGC (speex)"] = median_us(lambda: agc.process(mic))
    with Preprocessor(size, rate, denoise=True, agc=True) as both:
        results["ANS + AGC (speex)"] = median_us(lambda: both.process(mic))
    with ProcessingChain(
        sample_rate=rate, frame_samples=size, vad=True, cng=True, aec=True, ans=True, agc=True
    ) as chain:
        results["chain, all five on"] = median_us(lambda: chain.process_capture(mic, far))
    return results


def main() -> None:
    rng = np.random.default_rng(1)
    for rate in (8000, 16000):
        size = rate // 50
        mic = (rng.standard_normal(size) * 1000).astype(np.int16)
        far = (rng.standard_normal(size) * 1000).astype(np.int16)
        for label, us in bench_rate(rate, mic, far).items():
            print(f"{rate:5d} Hz  {label:22s} {us:7.2f} µs/frame")


if __name__ == "__main__":
    main()
