"""Frames and passive media ports.

Proves:
- ``mix`` sums in int32 and clips (two full-scale frames saturate, never wrap);
  ``mix_minus`` gives each participant everyone but itself;
- ``ToneSource`` has the asked level and frequency, and its phase is continuous
  across frames (20 frames of 160 equal one frame of 3200), also for dual tones;
- ``StreamingResampler`` gives the same output in one call or frame by frame,
  has the exact output count (no drift), and keeps a tone's frequency;
- ``WavFileSource`` reads 8-bit and 16-bit, mono and stereo WAV to mono int16,
  resamples 16 kHz and 44.1 kHz files to 8 kHz keeping the tone, signals
  ``finished`` at the end and then returns silence, or loops when asked;
- ``WavFileSink`` writes a file whose header lengths match after close(), even
  when close() is the only call after the writes; it is idempotent, a context
  manager, resamples frames at other rates, and writes stereo (left local,
  right remote);
- ``NullSink`` counts; the classes satisfy the ``MediaSource``/``MediaSink`` protocols.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from voipkit.media.frames import (
    StreamingResampler,
    dominant_frequency,
    level_dbfs,
    mix,
    mix_minus,
    silence,
)
from voipkit.media.ports import (
    MediaSink,
    MediaSource,
    NullSink,
    SilenceSource,
    ToneSource,
    WavFileSink,
    WavFileSource,
)


def _write_wav(path: Path, data: np.ndarray, *, rate: int, channels: int, width: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def _tone(freq: float, rate: int, seconds: float, amplitude: float = 10000.0) -> np.ndarray:
    n = np.arange(int(rate * seconds))
    return np.rint(amplitude * np.sin(2 * np.pi * freq * n / rate)).astype(np.int16)


def test_mix_accumulates_in_int32_and_clips() -> None:
    full = np.full(4, 30000, dtype=np.int16)
    assert mix([full, full]).tolist() == [32767] * 4
    assert mix([-full, -full]).tolist() == [-32768] * 4
    assert mix([np.array([1, 2, 3], np.int16), np.array([10], np.int16)]).tolist() == [11, 2, 3]
    assert mix([]).dtype == np.int16 and len(mix([])) == 0


def test_mix_minus_leaves_out_own_voice() -> None:
    frames = {"a": np.array([100], np.int16), "b": np.array([20], np.int16),
              "c": np.array([3], np.int16)}
    out = mix_minus(frames)
    assert {k: v.tolist() for k, v in out.items()} == {"a": [23], "b": [103], "c": [120]}


def test_tone_level_frequency_and_phase_continuity() -> None:
    whole = ToneSource(1000.0, -6.0).read_frame(3200, 8000)
    tone = ToneSource(1000.0, -6.0)
    pieces = np.concatenate([tone.read_frame(160, 8000) for _ in range(20)])
    assert np.max(np.abs(pieces.astype(np.int32) - whole.astype(np.int32))) <= 1
    assert dominant_frequency(whole, 8000) == pytest.approx(1000.0, abs=2.5)
    assert level_dbfs(whole) == pytest.approx(-6.0, abs=0.05)
    assert isinstance(tone, MediaSource)


def test_dual_tone_peak_stays_under_level() -> None:
    frame = ToneSource((440.0, 480.0), -3.0).read_frame(8000, 8000)
    assert np.max(np.abs(frame)) <= int(32767 * 10 ** (-3 / 20)) + 1
    spectrum = np.abs(np.fft.rfft(frame.astype(float)))
    assert sorted(np.argsort(spectrum)[-2:].tolist()) == [440, 480]


def test_silence_source_and_null_sink() -> None:
    assert SilenceSource().read_frame(160, 8000).tolist() == [0] * 160
    sink = NullSink()
    sink.write_frame(silence(160), 8000)
    sink.write_frame(silence(80), 8000)
    assert (sink.frames, sink.samples) == (2, 240)
    assert isinstance(sink, MediaSink)


@pytest.mark.parametrize(("src", "dst"), [(16000, 8000), (44100, 8000), (8000, 48000)])
def test_resampler_streams_exactly_and_keeps_frequency(src: int, dst: int) -> None:
    signal = _tone(700.0, src, 1.0)
    one_shot = StreamingResampler(src, dst).process(signal)
    rs = StreamingResampler(src, dst)
    chunked = np.concatenate([rs.process(signal[i:i + 441]) for i in range(0, len(signal), 441)])
    assert chunked.tolist() == one_shot.tolist()
    assert 0 <= dst - len(one_shot) <= -(-dst // src)  # at most one input sample behind
    assert dominant_frequency(one_shot, dst) == pytest.approx(700.0, abs=dst / len(one_shot) * 1.5)
    pulled = StreamingResampler(src, dst)
    frames = []
    for _ in range(50):
        need = pulled.input_needed(dst // 50)
        pulled.push(np.zeros(need, np.int16))
        frames.append(len(pulled.pull(dst // 50)))
    assert frames == [dst // 50] * 50


@pytest.mark.parametrize(("rate", "channels", "width"), [
    (8000, 1, 2), (8000, 2, 2), (8000, 1, 1), (16000, 1, 2), (44100, 2, 2)])
def test_wav_source_converts_to_mono_8k(tmp_path: Path, rate: int, channels: int,
                                        width: int) -> None:
    mono = _tone(500.0, rate, 0.5)
    if width == 1:
        data = ((mono.astype(np.int32) >> 8) + 128).astype(np.uint8)
    else:
        data = mono
    if channels == 2:
        data = np.repeat(data, 2)
    path = tmp_path / "in.wav"
    _write_wav(path, data, rate=rate, channels=channels, width=width)
    with WavFileSource(path) as src:
        frames = [src.read_frame(160, 8000) for _ in range(25)]  # exactly 0.5 s
        played = np.concatenate(frames[:-1])
        assert all(f.dtype == np.int16 and len(f) == 160 for f in frames)
        assert dominant_frequency(played, 8000) == pytest.approx(500.0, abs=12)
        assert level_dbfs(played) == pytest.approx(level_dbfs(mono), abs=0.6)
        for _ in range(3):
            tail = src.read_frame(160, 8000)
        assert src.finished
        assert tail.tolist() == [0] * 160


def test_wav_source_same_rate_is_bit_exact_and_loops(tmp_path: Path) -> None:
    data = np.arange(-200, 200, dtype=np.int16)  # 400 samples
    path = tmp_path / "ramp.wav"
    _write_wav(path, data, rate=8000, channels=1, width=2)
    src = WavFileSource(path, loop=True)
    got = np.concatenate([src.read_frame(160, 8000) for _ in range(5)])  # 800 samples
    assert got.tolist() == data.tolist() * 2
    assert not src.finished and src.loops >= 1
    src.close()
    once = WavFileSource(path)
    first = np.concatenate([once.read_frame(160, 8000) for _ in range(3)])
    assert first.tolist() == data.tolist() + [0] * 80
    assert once.finished
    once.close()


def _header_lengths(path: Path) -> tuple[int, int, int]:
    raw = path.read_bytes()
    riff = int.from_bytes(raw[4:8], "little")
    data_at = raw.index(b"data")
    data_len = int.from_bytes(raw[data_at + 4:data_at + 8], "little")
    return riff, data_len, len(raw)


def test_wav_sink_header_matches_after_close_only(tmp_path: Path) -> None:
    path = tmp_path / "rec.wav"
    sink = WavFileSink(path, 8000)
    tone = ToneSource(1000.0)
    for _ in range(50):
        sink.write_frame(tone.read_frame(160, 8000), 8000)
    sink.close()  # the only finalisation a hangup path performs
    sink.close()
    riff, data_len, size = _header_lengths(path)
    assert data_len == 50 * 160 * 2
    assert riff == size - 8
    with wave.open(str(path), "rb") as w:
        assert (w.getnframes(), w.getframerate(), w.getsampwidth()) == (8000, 8000, 2)
    with pytest.raises(ValueError, match="closed"):
        sink.write_frame(silence(160), 8000)


def test_wav_sink_is_a_context_manager_and_resamples(tmp_path: Path) -> None:
    path = tmp_path / "wide.wav"
    with WavFileSink(path, 16000) as sink:
        tone = ToneSource(600.0)
        for _ in range(50):
            sink.write_frame(tone.read_frame(160, 8000), 8000)
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 16000
        assert abs(w.getnframes() - 16000) <= 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert dominant_frequency(pcm.astype(np.int16), 16000) == pytest.approx(600.0, abs=2)
    riff, _, size = _header_lengths(path)
    assert riff == size - 8


def test_wav_sink_stereo_left_local_right_remote(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    sink = WavFileSink(path, 8000, channels=2)
    local, remote = ToneSource(400.0), ToneSource(1200.0)
    for _ in range(50):
        sink.write_stereo(local.read_frame(160, 8000), remote.read_frame(160, 8000))
    sink.close()
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getnframes()) == (2, 8000)
        both = np.frombuffer(w.readframes(8000), dtype="<i2").reshape(-1, 2)
    assert dominant_frequency(both[:, 0].copy(), 8000) == pytest.approx(400.0, abs=2)
    assert dominant_frequency(both[:, 1].copy(), 8000) == pytest.approx(1200.0, abs=2)
    mono = WavFileSink(tmp_path / "m.wav", 8000)
    with pytest.raises(ValueError, match="mono"):
        mono.write_stereo(silence(1), silence(1))
    mono.close()
