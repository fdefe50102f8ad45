"""Resampler: one streaming soxr converter per leg, int16 in and out.

Proves:
- 8k -> 48k -> 8k keeps a 1 kHz tone's frequency and level (within 0.5 dB);
- the output does not depend on how the input is cut (1 sample at a time, 160 at a
  time and uneven chunks give the same samples);
- flush() releases what the filter holds, so the total length matches the rate
  ratio, and the resampler then starts afresh;
- equal rates pass samples through untouched; bad rates raise.
"""

from __future__ import annotations

import numpy as np
import pytest

from voipkit.media.frames import dominant_frequency, level_dbfs
from voipkit.media.resample import Resampler


def tone(samples: int, rate: int, freq: float = 1000.0, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(samples) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def run(resampler: Resampler, pcm: np.ndarray, chunk: int) -> np.ndarray:
    parts = [resampler.process(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)]
    parts.append(resampler.flush())
    return np.concatenate(parts)


def test_up_and_down_keeps_frequency_and_level() -> None:
    pcm = tone(8000, 8000)
    up = run(Resampler(8000, 48000), pcm, 160)
    assert len(up) == 48000
    assert dominant_frequency(up[4800:], 48000) == pytest.approx(1000.0, abs=2.0)
    back = run(Resampler(48000, 8000), up, 960)
    assert len(back) == 8000
    assert dominant_frequency(back[800:], 8000) == pytest.approx(1000.0, abs=2.0)
    assert level_dbfs(back[800:-800]) == pytest.approx(level_dbfs(pcm[800:-800]), abs=0.5)


@pytest.mark.parametrize(("in_rate", "out_rate"), [(8000, 48000), (48000, 8000), (16000, 8000)])
def test_output_does_not_depend_on_chunk_size(in_rate: int, out_rate: int) -> None:
    rng = np.random.default_rng(5)
    pcm = rng.integers(-20000, 20000, in_rate // 4).astype(np.int16)
    by_one = run(Resampler(in_rate, out_rate), pcm, 1)
    by_frame = run(Resampler(in_rate, out_rate), pcm, in_rate // 50)
    uneven = Resampler(in_rate, out_rate)
    cuts = np.cumsum(rng.integers(1, 400, 200))
    pieces = np.split(pcm, cuts[cuts < len(pcm)])
    by_uneven = np.concatenate([uneven.process(p) for p in pieces] + [uneven.flush()])
    assert np.array_equal(by_one, by_frame)
    assert np.array_equal(by_one, by_uneven)
    assert len(by_one) == len(pcm) * out_rate // in_rate


def test_flush_restarts_the_stream() -> None:
    resampler = Resampler(8000, 16000)
    pcm = tone(1600, 8000)
    first = run(resampler, pcm, 160)
    second = run(resampler, pcm, 160)
    assert np.array_equal(first, second)
    assert resampler.delay >= 0.0


def test_equal_rates_pass_through() -> None:
    resampler = Resampler(8000, 8000)
    pcm = tone(160, 8000)
    assert np.array_equal(resampler.process(pcm), pcm)
    assert len(resampler.flush()) == 0 and resampler.delay == 0.0


def test_rates_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Resampler(0, 8000)
