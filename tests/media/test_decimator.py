"""frames.Decimator: StreamingResampler's output for integer ratios down, computed sparsely.

Proves:
- for 48 -> 16 kHz, 48 -> 8 kHz and 16 -> 8 kHz, over the same random signal cut
  into the same random chunks (empty ones included), Decimator returns as many
  samples per call as StreamingResampler and the same samples to within 1 LSB (the
  stated tolerance: only floating-point summation order differs), here all equal;
- the stream's receive leg from Opus' 48 kHz to a 16 kHz device is a Decimator;
- rates that are not an integer ratio down are refused;
- an empty chunk pushed into StreamingResampler changes nothing (np.convolve used to
  swap a too-short input with the taps and append two stray samples).
"""

from __future__ import annotations

import numpy as np
import pytest

from voipkit.base.ids import SequentialIds
from voipkit.media.codecs import OPUS
from voipkit.media.frames import Decimator, Pcm, StreamingResampler
from voipkit.media.stream import RtpStream, StreamConfig, _resampler


@pytest.mark.parametrize(("in_rate", "out_rate"), [(48000, 16000), (48000, 8000),
                                                   (16000, 8000)])
def test_decimator_matches_the_streaming_resampler(in_rate: int, out_rate: int) -> None:
    rng = np.random.default_rng(in_rate + out_rate)
    signal: Pcm = np.clip(rng.standard_normal(in_rate * 2) * 12000, -32768, 32767
                          ).astype(np.int16)
    cuts = np.cumsum(rng.integers(0, 2 * in_rate // 50, size=400))
    cuts = cuts[cuts < len(signal)]
    chunks: list[Pcm] = np.split(signal, cuts)
    chunks[::7] = [np.zeros(0, np.int16)] * len(chunks[::7])  # and some empty pushes
    signal = np.concatenate(chunks)
    reference, fast = StreamingResampler(in_rate, out_rate), Decimator(in_rate, out_rate)
    for chunk in chunks:
        expected, got = reference.process(chunk), fast.process(chunk)
        assert len(got) == len(expected)
        assert np.abs(got.astype(np.int32) - expected).max(initial=0) <= 1
        assert np.array_equal(got, expected)  # as measured: no sample differs at all
    assert sum(len(c) for c in chunks) == len(signal)


def test_the_opus_receive_leg_to_a_16khz_device_is_a_decimator() -> None:
    assert isinstance(_resampler(48000, 16000), Decimator)
    assert isinstance(_resampler(16000, 48000), StreamingResampler)
    assert isinstance(_resampler(44100, 16000), StreamingResampler)
    stream = RtpStream(StreamConfig(payload_type=111, codec=OPUS, device_rate=16000),
                       ids=SequentialIds("d"), now=0.0)
    assert len(stream.pull_audio(320, now=0.0)) == 320


@pytest.mark.parametrize(("in_rate", "out_rate"), [(16000, 48000), (44100, 16000),
                                                   (16000, 16000), (16000, 0)])
def test_decimator_refuses_other_ratios(in_rate: int, out_rate: int) -> None:
    with pytest.raises(ValueError, match="integer ratio down"):
        Decimator(in_rate, out_rate)


def test_an_empty_chunk_leaves_the_streaming_resampler_unchanged() -> None:
    signal = (np.arange(960) % 100 * 200 - 10000).astype(np.int16)
    plain, poked = StreamingResampler(48000, 16000), StreamingResampler(48000, 16000)
    assert len(poked.process(np.zeros(0, np.int16))) == 0
    assert np.array_equal(poked.process(signal), plain.process(signal))
