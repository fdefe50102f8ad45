"""Call recording (``voipkit.media.recorder``).

Proves:
- duration is frame-exact: 1500 frames of 20 ms give exactly 30.00 s of WAV,
  mono and stereo, and Opus in Ogg reads back (PyAV) within one 20 ms codec
  frame of 30 s; AAC in M4A, FLAC and Opus in Matroska carry 30 s (within
  25 ms) in their headers, and the mix of both legs' tones comes back; MP3
  too when this FFmpeg encodes it;
- stereo puts the local leg on the left and the remote leg on the right; a
  missing leg is silence and the legs stay aligned (shorter frames are padded);
- modes: mono SEND is the local leg, RECV the remote leg, BOTH their sum
  clipped once; stereo SEND silences the right channel and RECV the left;
- a WAV is never truncated: after N writes without close() it opens with
  exactly N frames of audio and the same samples;
- frames at another rate are resampled without drift and keep their tone, and a
  rate the encoder lacks (44.1 kHz for Opus) is converted keeping the duration;
- ``append_timestamp`` inserts ``_YYYYMMDD-HHMMSS`` of the given time before
  the extension and needs that time;
- counters (frames, samples, seconds); close() is idempotent and the recorder
  a context manager; writing after close, or a tick with no leg, is refused;
- unsupported extensions and uncreatable files raise ``MediaFileError`` naming
  the file at construction.
"""

from __future__ import annotations

import datetime
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from voipkit.base.errors import VoipkitError
from voipkit.media.frames import dominant_frequency, silence
from voipkit.media.recorder import (
    MediaFileError,
    Recorder,
    RecordMode,
    timestamped_path,
)

RATE = 8000
PTIME_SAMPLES = 160  # 20 ms at 8 kHz
CALL_FRAMES = 1500  # 30 s


def _tone(freq: float, samples: int, *, rate: int = RATE, amplitude: float = 8000.0,
          start: int = 0) -> np.ndarray:
    n = np.arange(start, start + samples)
    return np.rint(amplitude * np.sin(2 * np.pi * freq * n / rate)).astype(np.int16)


def _read_wav(path: Path) -> tuple[int, int, int, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getnchannels(), w.getframerate(), w.getnframes(), data


def _record_call(recorder: Recorder, frames: int = CALL_FRAMES) -> None:
    for i in range(frames):
        local = _tone(440.0, PTIME_SAMPLES, start=i * PTIME_SAMPLES)
        remote = _tone(1000.0, PTIME_SAMPLES, start=i * PTIME_SAMPLES)
        recorder.write(local, remote)


def _decoded_samples(path: Path) -> tuple[int, int, int]:
    """(decoded samples per channel, stream rate, channels) of a file read with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        total = sum(frame.samples for frame in container.decode(stream))
        return total, stream.rate, stream.channels


@pytest.mark.parametrize("stereo", [False, True])
def test_wav_call_of_30_seconds_is_exactly_30_seconds(tmp_path: Path, stereo: bool) -> None:
    path = tmp_path / "call.wav"
    with Recorder(path, stereo=stereo, sample_rate=RATE) as rec:
        _record_call(rec)
    channels, rate, nframes, data = _read_wav(path)
    assert (channels, rate) == (2 if stereo else 1, RATE)
    assert nframes == 30 * RATE
    assert len(data) == 30 * RATE * channels
    assert rec.frames == CALL_FRAMES
    assert rec.samples == 30 * RATE
    assert rec.seconds == 30.0


@pytest.mark.parametrize("name", ["call.ogg", "call.opus"])
def test_opus_recording_lasts_30_seconds_within_one_codec_frame(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    with Recorder(path, stereo=True, sample_rate=RATE) as rec:
        _record_call(rec)
    total, rate, channels = _decoded_samples(path)
    assert (rate, channels) == (48000, 2)
    assert abs(total - 30 * 48000) <= 960  # one 20 ms Opus frame
    with av.open(str(path)) as container:
        assert container.duration is not None
        assert abs(container.duration / av.time_base - 30.0) <= 0.02


@pytest.mark.parametrize("name", ["call.m4a", "call.flac", "call.mka"])
def test_other_containers_hold_30_seconds(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with Recorder(path, sample_rate=RATE) as rec:
        _record_call(rec)
    with av.open(str(path)) as container:
        assert container.duration is not None
        assert abs(container.duration / av.time_base - 30.0) <= 0.025
        stream = container.streams.audio[0]
        samples = np.concatenate(
            [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        )
    # the mix of both legs comes back: 440 Hz and 1000 Hz both present
    spectrum = np.abs(np.fft.rfft(samples[: stream.rate].astype(np.float64)))
    freqs = np.fft.rfftfreq(stream.rate, 1.0 / stream.rate)
    top_two = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert top_two == pytest.approx([440.0, 1000.0], abs=2.0)


def test_mp3_recording_when_the_build_encodes_mp3(tmp_path: Path) -> None:
    if "libmp3lame" not in av.codecs_available and "mp3" not in av.codecs_available:
        pytest.skip("this FFmpeg build has no MP3 encoder")
    path = tmp_path / "call.mp3"
    with Recorder(path, sample_rate=RATE) as rec:
        _record_call(rec, 500)
    with av.open(str(path)) as container:
        assert container.duration is not None
        assert abs(container.duration / av.time_base - 10.0) <= 0.08


def test_stereo_puts_local_left_and_remote_right(tmp_path: Path) -> None:
    path = tmp_path / "lr.wav"
    tone = _tone(440.0, PTIME_SAMPLES)
    with Recorder(path, stereo=True) as rec:
        rec.write(tone, None)
        rec.write(None, tone)
    _, _, nframes, data = _read_wav(path)
    assert nframes == 2 * PTIME_SAMPLES
    left, right = data[0::2], data[1::2]
    assert np.array_equal(left[:PTIME_SAMPLES], tone)
    assert not right[:PTIME_SAMPLES].any()
    assert not left[PTIME_SAMPLES:].any()
    assert np.array_equal(right[PTIME_SAMPLES:], tone)


def test_a_shorter_leg_is_padded_so_the_legs_stay_aligned(tmp_path: Path) -> None:
    path = tmp_path / "pad.wav"
    local = _tone(440.0, PTIME_SAMPLES)
    remote = _tone(1000.0, 100)
    with Recorder(path, stereo=True) as rec:
        rec.write(local, remote)
    _, _, nframes, data = _read_wav(path)
    assert nframes == PTIME_SAMPLES
    assert np.array_equal(data[0::2], local)
    assert np.array_equal(data[1::2][:100], remote)
    assert not data[1::2][100:].any()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (RecordMode.SEND, lambda loc, rem: loc),
        (RecordMode.RECV, lambda loc, rem: rem),
        (
            RecordMode.BOTH,
            lambda loc, rem: np.clip(loc.astype(np.int32) + rem, -32768, 32767).astype(np.int16),
        ),
    ],
)
def test_mono_modes_pick_or_mix_the_legs(tmp_path: Path, mode: RecordMode, expected) -> None:
    path = tmp_path / "mono.wav"
    local = _tone(440.0, PTIME_SAMPLES, amplitude=20000.0)
    remote = _tone(1000.0, PTIME_SAMPLES, amplitude=20000.0)
    with Recorder(path, mode=mode) as rec:
        rec.write(local, remote)
    _, _, _, data = _read_wav(path)
    assert np.array_equal(data, expected(local, remote))
    if mode is RecordMode.BOTH:
        assert data.max() == 32767  # 20000 + 20000 saturates instead of wrapping


@pytest.mark.parametrize(
    ("mode", "left_on", "right_on"),
    [(RecordMode.SEND, True, False), (RecordMode.RECV, False, True), (RecordMode.BOTH, True, True)],
)
def test_stereo_modes_silence_the_leg_left_out(
    tmp_path: Path, mode: RecordMode, left_on: bool, right_on: bool
) -> None:
    path = tmp_path / "st.wav"
    local = _tone(440.0, PTIME_SAMPLES)
    remote = _tone(1000.0, PTIME_SAMPLES)
    with Recorder(path, mode=mode, stereo=True) as rec:
        rec.write(local, remote)
    _, _, _, data = _read_wav(path)
    assert np.array_equal(data[0::2], local if left_on else silence(PTIME_SAMPLES))
    assert np.array_equal(data[1::2], remote if right_on else silence(PTIME_SAMPLES))


def test_wav_is_complete_after_every_write_without_close(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    rec = Recorder(path, stereo=True)
    written = []
    for n in range(1, 8):
        frame = _tone(440.0, PTIME_SAMPLES, start=(n - 1) * PTIME_SAMPLES)
        rec.write(frame, None)
        written.append(frame)
        channels, rate, nframes, data = _read_wav(path)
        assert (channels, rate, nframes) == (2, RATE, n * PTIME_SAMPLES)
        assert np.array_equal(data[0::2], np.concatenate(written))
    assert path.stat().st_size == 44 + 7 * PTIME_SAMPLES * 4
    rec.close()
    assert _read_wav(path)[2] == 7 * PTIME_SAMPLES


def test_frames_at_another_rate_are_resampled_without_drift(tmp_path: Path) -> None:
    path = tmp_path / "wide.wav"
    with Recorder(path, sample_rate=RATE, mode=RecordMode.SEND) as rec:
        for i in range(500):  # 10 s of 16 kHz frames
            rec.write(_tone(1000.0, 320, rate=16000, start=i * 320), None, sample_rate=16000)
    _, rate, nframes, data = _read_wav(path)
    assert rate == RATE
    assert abs(nframes - 10 * RATE) <= 2  # the resampler holds back at most a sample or two
    assert dominant_frequency(data[RATE : 2 * RATE], RATE) == pytest.approx(1000.0, abs=1.0)


def test_timestamped_path_inserts_the_time_before_the_extension() -> None:
    when = datetime.datetime(2024, 3, 5, 14, 7, 9)
    assert timestamped_path("calls/alice.wav", when) == Path("calls/alice_20240305-140709.wav")
    assert timestamped_path("rec", when) == Path("rec_20240305-140709")


def test_append_timestamp_names_the_file_with_the_given_time(tmp_path: Path) -> None:
    when = datetime.datetime(2023, 12, 31, 23, 59, 58)
    with Recorder(tmp_path / "call.wav", append_timestamp=True, timestamp=when) as rec:
        rec.write(_tone(440.0, PTIME_SAMPLES), None)
    assert rec.path == str(tmp_path / "call_20231231-235958.wav")
    assert [p.name for p in tmp_path.iterdir()] == ["call_20231231-235958.wav"]
    with pytest.raises(ValueError, match="timestamp"):
        Recorder(tmp_path / "other.wav", append_timestamp=True)


def test_close_is_idempotent_and_writing_after_it_is_refused(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "c.ogg")
    rec.write(_tone(440.0, PTIME_SAMPLES), None)
    rec.close()
    rec.close()
    assert rec.closed
    with pytest.raises(ValueError, match="closed"):
        rec.write(_tone(440.0, PTIME_SAMPLES), None)


def test_a_tick_without_any_leg_is_refused(tmp_path: Path) -> None:
    with Recorder(tmp_path / "c.wav") as rec, pytest.raises(ValueError, match="at least one"):
        rec.write(None, None)


def test_unsupported_extension_and_uncreatable_file_raise_media_file_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(MediaFileError, match=r"call\.xyz: unsupported recording format \.xyz"):
        Recorder(tmp_path / "call.xyz")
    for name in ("call.wav", "call.ogg"):
        missing_dir = tmp_path / "no-such-dir" / name
        with pytest.raises(MediaFileError, match="No such file or directory") as info:
            Recorder(missing_dir)
        assert info.value.path == str(missing_dir)
        assert isinstance(info.value, OSError)
        assert isinstance(info.value, VoipkitError)


def test_a_rate_the_encoder_lacks_is_converted_keeping_the_duration(tmp_path: Path) -> None:
    path = tmp_path / "cd.opus"  # libopus has no 44.1 kHz: the recorder encodes at 48 kHz
    with Recorder(path, sample_rate=44100, mode=RecordMode.SEND) as rec:
        for i in range(1000):  # 10 s of 10 ms frames
            rec.write(_tone(1000.0, 441, rate=44100, start=i * 441), None)
    assert rec.seconds == 10.0
    total, rate, _ = _decoded_samples(path)
    assert rate == 48000
    assert abs(total - 10 * 48000) <= 960
