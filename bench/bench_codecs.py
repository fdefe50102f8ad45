"""Cost of each offered codec: µs per 20 ms frame (30 ms for G.723.1), encode + decode, median.

Not a test. Run: ``.venv/bin/python bench/bench_codecs.py [--frames N]``.
Also times Opus at several complexities (fed 48 kHz, and fed 16 kHz and decoded straight
at 16 kHz, as a call on a 16 kHz device runs it), Opus decoding alone (PyAV's FFmpeg
wrapper at 48 kHz then decimated to 16 kHz, as calls did before, against our libopus
binding at 48 and at 16 kHz) and the per-leg resampler.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from voipkit.media.codecs import FULL_CODECS, CodecSpec
from voipkit.media.codecs.libopus import OpusDecoder
from voipkit.media.codecs.opus import OpusOptions, encoder_for, opus_decoder
from voipkit.media.codecs.pyav import PyAvDecoder
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
    # what a call on a 16 kHz device runs: libopus fed 16 kHz and decoding at 16 kHz
    narrow_noise = (rng.standard_normal(320 * args.frames) * 3000).astype(np.int16)
    for complexity in (0, 5, 10):
        opts = OpusOptions(
            bitrate=32000, channels=1, fec=False, frame_ms=20, cutoff=None, complexity=complexity
        )
        encoder, decoder = encoder_for(opts, input_rate=16000), OpusDecoder(16000)
        cost = median_us(
            lambda i, e=encoder, d=decoder: d.decode(
                e.encode(narrow_noise[i * 320 : (i + 1) * 320])
            ),
            args.frames,
        )
        print(f"opus complexity {complexity:<2} 16 kHz in, 16 kHz out {cost:8.1f}")
    # decoding alone, the same packets (speech-like, fed 16 kHz, complexity 5)
    opts = OpusOptions(bitrate=32000, channels=1, fec=False, frame_ms=20, cutoff=None,
                       complexity=5)
    encoder = encoder_for(opts, input_rate=16000)
    tone = speechlike(320 * args.frames, 16000)
    packets = [encoder.encode(tone[i * 320 : (i + 1) * 320]) for i in range(args.frames)]
    pyav, to_device = PyAvDecoder("libopus", sample_rate=48000), Decimator(48000, 16000)
    ours48, ours16 = OpusDecoder(48000), OpusDecoder(16000)
    decoders = {
        "PyAV 48 kHz + decimator": lambda i: to_device.process(pyav.decode(packets[i])),
        "libopus binding 48 kHz": lambda i: ours48.decode(packets[i]),
        "libopus binding 16 kHz": lambda i: ours16.decode(packets[i]),
    }
    for name, step in decoders.items():
        print(f"opus decode, {name:<24} {median_us(step, args.frames):8.1f}")
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
