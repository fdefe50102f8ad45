"""Opus settings against speech quality and cost: what a 16 kHz call's encoder should be fed.

Not a test. For each libopus ``application`` and ``complexity``, and for the two ways of
feeding a call's 16 kHz device audio to the encoder (upsampled to 48 kHz first, as
voipkit did, or as it is: libopus takes 16 kHz input), it runs the bundled speech
(``voipkit/data/speech-8k.wav`` read at 16 kHz) through encoder -> decoder (48 kHz) ->
48 to 16 kHz, and prints the wideband PESQ of the result against the input and the
encoder's CPU time per 20 ms frame (thread time, the least of ``--runs`` passes, so
other jobs on the machine count for little). 32 kb/s mono, 20 ms frames.

    .venv/bin/python bench/bench_opus_chain.py [--complexity 0,3,5,6,10] [--runs 3]

Needs ``pesq`` (the test extra).
"""

from __future__ import annotations

import argparse
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
from pesq import pesq  # type: ignore[import-untyped]

from voipkit.media.codecs.opus import opus_decoder
from voipkit.media.codecs.pyav import PyAvEncoder
from voipkit.media.frames import Decimator, Pcm, StreamingResampler
from voipkit.media.ports import WavFileSource

SPEECH = Path(str(files("voipkit.data") / "speech-8k.wav"))


def speech16() -> list[Pcm]:
    source = WavFileSource(SPEECH)
    frames = []
    try:
        while not source.finished:
            frames.append(source.read_frame(320, 16000))
    finally:
        source.close()
    return frames


def encoder(rate: int, application: str, complexity: int) -> PyAvEncoder:
    return PyAvEncoder("libopus", sample_rate=rate, frame_samples=rate // 50, bit_rate=32000,
                       options={"application": application, "frame_duration": "20",
                                "compression_level": str(complexity)})


def encoder_input(frames: list[Pcm], rate: int) -> list[Pcm]:
    """The device's 16 kHz frames as the encoder gets them (upsampled, for 48 kHz)."""
    if rate == 16000:
        return frames
    up = StreamingResampler(16000, rate).process(np.concatenate(frames + frames[:2]))
    size = rate // 50
    return [up[i * size:(i + 1) * size] for i in range(len(frames))]


def chain_pesq(frames: list[Pcm], rate: int, application: str, complexity: int) -> float:
    enc, dec, down = encoder(rate, application, complexity), opus_decoder(), Decimator(48000, 16000)
    fed = encoder_input(frames, rate) + [np.zeros(rate // 50, np.int16)] * 10
    degraded = np.concatenate([down.process(dec.decode(enc.encode(f))) for f in fed])
    reference = np.concatenate(frames).astype(np.float64)
    size = 1 << (len(reference) + len(degraded)).bit_length()
    spectrum = np.fft.rfft(degraded.astype(np.float64), size)
    corr = np.fft.irfft(spectrum * np.conj(np.fft.rfft(reference, size)), size)
    lag = int(np.argmax(corr[:len(degraded)]))
    aligned = degraded[lag:lag + len(reference)].astype(np.float64)
    aligned = np.concatenate((aligned, np.zeros(len(reference) - len(aligned))))
    return float(pesq(16000, reference.astype(np.float32), aligned.astype(np.float32), "wb"))


def encode_us(frames: list[Pcm], rate: int, application: str, complexity: int,
              runs: int) -> float:
    fed = encoder_input(frames, rate)
    best = float("inf")
    for _ in range(runs):
        enc = encoder(rate, application, complexity)
        start = time.thread_time()
        for frame in fed:
            enc.encode(frame)
        best = min(best, (time.thread_time() - start) / len(fed))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--complexity", default="0,3,5,6,10")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    frames = speech16()
    print(f"{'application':<12} {'cx':>3} {'input':>6} {'PESQ-WB':>8} {'encode µs':>10}")
    for application in ("voip", "audio"):
        for complexity in (int(c) for c in args.complexity.split(",")):
            for rate in (48000, 16000):
                score = chain_pesq(frames, rate, application, complexity)
                cost = encode_us(frames, rate, application, complexity, args.runs)
                print(f"{application:<12} {complexity:>3} {rate // 1000:>4}k {score:>8.3f} "
                      f"{cost:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
