"""Cost of each offered codec: µs per 20 ms frame (30 ms for G.723.1), encode + decode, median.

Not a test. Run: ``.venv/bin/python bench/bench_codecs.py [--frames N]``.
Also times Opus at several complexities (fed 48 kHz, and fed 16 kHz with its output
decimated to 16 kHz, as a call on a 16 kHz device runs it) and the per-leg resampler.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from voipkit.media.codecs import FULL_CODECS, CodecSpec
from voipkit.media.codecs.opus import OpusOptions, encoder_for, opus_decoder
from voipkit.media.frames import Decimator
from voipkit.media.resample import Resampler


def speechlike(samples: int, rate: int) -> np.ndarray:
    t = np.arange(samples) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    signal = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((220, 440, 880, 1760), 1))
    return np.round(6000 * envelope * signal).astype(np.int16)


def median_us(step: object, frames: int) -> float:
    times = []
    for i in range(frames):
        start = time.perf_counter()
        step(i)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def bench_spec(spec: CodecSpec, frames: int) -> float:
    size = round(spec.sample_rate * spec.frame_duration)
    pcm = speechlike(size * frames, spec.sample_rate)
    encoder, decoder = spec.encoder(), spec.decoder()
    return median_us(
        lambda i: decoder.decode(encoder.encode(pcm[i * size : (i + 1) * size])), frames
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=500)
    args = parser.parse_args()
    print(f"{'codec':<18} µs/frame (encode+decode, median of {args.frames})")
    for spec in FULL_CODECS:
        if spec.is_audio:
            print(f"{spec.name:<18} {bench_spec(spec, args.frames):8.1f}")
    # Opus cost depends on the signal (SILK vs CELP); noise is the harsher case
    rng = np.random.default_rng(1)
    pcm = (rng.standard_normal(960 * args.frames) * 3000).astype(np.int16)
    for complexity in (0, 5, 10):
        opts = OpusOptions(
            bitrate=32000, channels=1, fec=False, frame_ms=20, cutoff=None, complexity=complexity
        )
        encoder, decoder = encoder_for(opts), opus_decoder()
        cost = median_us(
            lambda i, e=encoder, d=decoder: d.decode(e.encode(pcm[i * 960 : (i + 1) * 960])),
            args.frames,
        )
        print(f"opus complexity {complexity:<2} {cost:8.1f}")
    # what a call on a 16 kHz device runs: libopus fed 16 kHz, its 48 kHz output decimated
    narrow_noise = (rng.standard_normal(320 * args.frames) * 3000).astype(np.int16)
    for complexity in (0, 5, 10):
        opts = OpusOptions(
            bitrate=32000, channels=1, fec=False, frame_ms=20, cutoff=None, complexity=complexity
        )
        encoder, decoder = encoder_for(opts, input_rate=16000), opus_decoder()
        to_device = Decimator(48000, 16000)
        cost = median_us(
            lambda i, e=encoder, d=decoder, r=to_device: r.process(
                d.decode(e.encode(narrow_noise[i * 320 : (i + 1) * 320]))
            ),
            args.frames,
        )
        print(f"opus complexity {complexity:<2} 16 kHz in, decimated out {cost:8.1f}")
    for quality in ("QQ", "LQ", "HQ"):
        up, down = Resampler(8000, 48000, quality=quality), Resampler(48000, 8000, quality=quality)
        narrow = speechlike(160 * args.frames, 8000)
        cost = median_us(
            lambda i, u=up, d=down, x=narrow: d.process(u.process(x[i * 160 : (i + 1) * 160])),
            args.frames,
        )
        print(f"resample 8k<->48k {quality} {cost:6.1f}")


if __name__ == "__main__":
    main()
