"""File playback (``voipkit.media.player``).

Proves:
- ``FilePlayer`` is a ``MediaSource``; a WAV read at its own rate comes out
  sample for sample; stereo files are folded to mono (left and right averaged);
- WAV, Ogg/Opus, M4A/AAC, FLAC and (when this FFmpeg encodes it) MP3 files,
  written here with PyAV, play as the tone they hold, for their whole length;
- a 44.1 kHz file read as 8 kHz frames keeps its tone frequency and its
  duration, and every read returns exactly the samples asked for, whatever
  the frame size (soxr holds audio back; the FIFO and the final flush hide it);
- without loop, ``finished`` turns True on the read that returns the last
  audio and later reads are silence; with loop, the file repeats seamlessly
  (at the file's rate the output is the file tiled) and ``loops`` counts;
- reading at a new rate restarts the resampler and still returns exact frames;
- close() is idempotent and silences the player;
- a missing file, a file that is not media, and a file without audio raise
  ``MediaFileError`` (an ``OSError`` and a ``VoipkitError``) naming the file;
- ``mix_into``: mode 0 sends the microphone, 1 the file, 2 their int32 sum
  clipped once; bad modes and mismatched frames are refused.
"""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.audio.stream import AudioStream

from voipkit.base.errors import VoipkitError
from voipkit.media.frames import dominant_frequency, level_dbfs, silence
from voipkit.media.player import FilePlayer, MediaFileError, PlayMode, mix_into
from voipkit.media.ports import MediaSource


def _tone(freq: float, rate: int, seconds: float, amplitude: float = 10000.0) -> np.ndarray:
    n = np.arange(round(rate * seconds))
    return np.rint(amplitude * np.sin(2 * np.pi * freq * n / rate)).astype(np.int16)


def _write_wav(path: Path, data: np.ndarray, *, rate: int, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.astype("<i2").tobytes())
    return path


def _encode(path: Path, codec: str, pcm: np.ndarray, *, rate: int) -> Path:
    """Write mono int16 ``pcm`` at ``rate`` with a PyAV encoder (independent of Recorder)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        assert isinstance(stream, AudioStream)
        ctx = stream.codec_context
        ctx.layout = "mono"
        formats = [f.name for f in stream.codec.audio_formats or ()]
        ctx.format = "s16" if "s16" in formats else formats[0]
        ctx.open()
        resampler = av.AudioResampler(
            format=ctx.format.name, layout="mono", rate=rate, frame_size=ctx.frame_size or None
        )
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = 0
        for out in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(out))
        container.mux(stream.encode(None))
    return path


def _play_all(player: FilePlayer, samples: int, rate: int, limit: int = 10_000) -> list[np.ndarray]:
    frames = []
    while not player.finished:
        frames.append(player.read_frame(samples, rate))
        assert len(frames) < limit
    return frames


def test_file_player_is_a_media_source(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "t.wav", _tone(440.0, 8000, 0.1), rate=8000)
    with FilePlayer(path, sample_rate=8000) as player:
        assert isinstance(player, MediaSource)


def test_wav_at_its_own_rate_plays_sample_for_sample(tmp_path: Path) -> None:
    tone = _tone(440.0, 8000, 1.0)
    path = _write_wav(tmp_path / "t.wav", tone, rate=8000)
    with FilePlayer(path, sample_rate=8000) as player:
        frames = _play_all(player, 160, 8000)
        assert len(frames) == 50
        assert np.array_equal(np.concatenate(frames), tone)
        assert np.array_equal(player.read_frame(160, 8000), silence(160))
        assert (player.file_sample_rate, player.file_channels) == (8000, 1)


def test_stereo_file_is_folded_to_mono(tmp_path: Path) -> None:
    stereo = np.empty(1600, dtype=np.int16)
    stereo[0::2] = 1000
    stereo[1::2] = 3000
    path = _write_wav(tmp_path / "s.wav", stereo, rate=8000, channels=2)
    with FilePlayer(path, sample_rate=8000) as player:
        assert player.file_channels == 2
        assert np.array_equal(player.read_frame(800, 8000), np.full(800, 2000, dtype=np.int16))
        assert player.finished


@pytest.mark.parametrize("samples", [160, 147, 441, 1])
def test_44k1_file_read_at_8k_keeps_tone_length_and_frame_sizes(
    tmp_path: Path, samples: int
) -> None:
    path = _write_wav(tmp_path / "cd.wav", _tone(1000.0, 44100, 2.0), rate=44100)
    with FilePlayer(path, sample_rate=8000) as player:
        frames = _play_all(player, samples, 8000, limit=20_000)
    assert {len(f) for f in frames} == {samples}
    out = np.concatenate(frames)
    # the 2 s of audio come out, from the first sample to the 16000th, and
    # the last frame is padded with silence at most
    audible = np.flatnonzero(np.abs(out) > 100)
    assert audible[0] <= 2
    assert 16000 - 4 <= audible[-1] < 16000 + 4
    assert len(out) - samples < 16000 + 4
    assert dominant_frequency(out[4000:12000], 8000) == pytest.approx(1000.0, abs=1.0)
    expected_level = level_dbfs(_tone(1000.0, 8000, 1.0))
    assert level_dbfs(out[4000:12000]) == pytest.approx(expected_level, abs=0.3)


def _codec_files() -> list[tuple[str, str, int]]:
    return [("t.ogg", "libopus", 48000), ("t.m4a", "aac", 44100), ("t.flac", "flac", 16000)]


@pytest.mark.parametrize(("name", "codec", "rate"), _codec_files())
def test_compressed_files_play_their_tone_for_their_length(
    tmp_path: Path, name: str, codec: str, rate: int
) -> None:
    path = _encode(tmp_path / name, codec, _tone(700.0, rate, 1.0), rate=rate)
    with FilePlayer(path, sample_rate=8000) as player:
        assert player.file_sample_rate == rate
        frames = _play_all(player, 160, 8000)
    out = np.concatenate(frames)
    # 1 s, give or take the encoder's padding of its last frame (AAC adds up to ~0.1 s)
    assert 50 <= len(frames) <= 56
    assert dominant_frequency(out[1000:7000], 8000) == pytest.approx(700.0, abs=2.0)


def test_mp3_file_plays_when_the_build_encodes_mp3(tmp_path: Path) -> None:
    encoder = next((c for c in ("libmp3lame", "mp3") if c in av.codecs_available), None)
    try:
        av.Codec(encoder or "libmp3lame", "w")
    except Exception:
        pytest.skip("this FFmpeg build has no MP3 encoder; MP3 playback not tested")
    assert encoder is not None
    path = _encode(tmp_path / "t.mp3", encoder, _tone(700.0, 22050, 1.0), rate=22050)
    with FilePlayer(path, sample_rate=8000) as player:
        frames = _play_all(player, 160, 8000)
    assert 50 <= len(frames) <= 53
    out = np.concatenate(frames)
    assert dominant_frequency(out[1000:7000], 8000) == pytest.approx(700.0, abs=2.0)


def test_loop_repeats_the_file_seamlessly_and_counts(tmp_path: Path) -> None:
    clip = _tone(500.0, 8000, 0.1)  # 800 samples, not a multiple of the frame size
    path = _write_wav(tmp_path / "loop.wav", clip, rate=8000)
    with FilePlayer(path, sample_rate=8000, loop=True) as player:
        out = np.concatenate([player.read_frame(160, 8000) for _ in range(55)])  # 1.1 s
        assert not player.finished
        assert np.array_equal(out, np.tile(clip, 11))
        assert player.loops == 11  # the 11th wrap is read ahead to learn the clip went on


def test_loop_through_the_resampler_has_no_gap(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "loop.wav", _tone(1000.0, 16000, 0.25), rate=16000)
    with FilePlayer(path, sample_rate=8000, loop=True) as player:
        frames = [player.read_frame(160, 8000) for _ in range(150)]  # 3 s
    out = np.concatenate(frames)
    assert {len(f) for f in frames} == {160}
    assert not player.finished
    assert player.loops >= 11
    # 0.25 s holds whole periods, so the splice is phase-continuous: the RMS of
    # every period-long window (8 samples) stays near 10000/sqrt(2)
    body = out[2000:].astype(np.float64)  # past soxr's start-up
    windows = np.lib.stride_tricks.sliding_window_view(body, 8)
    rms = np.sqrt(np.mean(windows**2, axis=1))
    assert rms.min() > 0.9 * 10000 / np.sqrt(2)


def test_reading_at_a_new_rate_restarts_the_resampler(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "t.wav", _tone(440.0, 48000, 1.0), rate=48000)
    with FilePlayer(path, sample_rate=8000) as player:
        first = [player.read_frame(160, 8000) for _ in range(10)]
        second = [player.read_frame(320, 16000) for _ in range(10)]
    assert {len(f) for f in first} == {160}
    assert {len(f) for f in second} == {320}
    assert dominant_frequency(np.concatenate(second[2:]), 16000) == pytest.approx(440.0, abs=7.0)


def test_close_is_idempotent_and_silences(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "t.wav", _tone(440.0, 8000, 1.0), rate=8000)
    player = FilePlayer(path, sample_rate=8000)
    assert player.read_frame(160, 8000).any()
    player.close()
    player.close()
    assert player.closed
    assert np.array_equal(player.read_frame(160, 8000), silence(160))


def test_missing_file_raises_media_file_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp3"
    with pytest.raises(MediaFileError, match=r"nope\.mp3: no such file") as info:
        FilePlayer(missing, sample_rate=8000)
    assert info.value.path == str(missing)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, VoipkitError)


def test_a_file_that_is_not_media_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all\n" * 40)
    with pytest.raises(MediaFileError, match=r"junk\.wav: not a readable media file"):
        FilePlayer(junk, sample_rate=8000)


def test_a_file_without_audio_is_refused(tmp_path: Path) -> None:
    empty = _write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.int16), rate=8000)
    with pytest.raises(MediaFileError, match=r"empty\.wav: contains no audio"):
        FilePlayer(empty, sample_rate=8000)


def test_mix_into_modes() -> None:
    mic = np.full(160, 20000, dtype=np.int16)
    music = np.full(160, 20000, dtype=np.int16)
    music[:80] = -30000
    assert np.array_equal(mix_into(mic, music, PlayMode.NONE), mic)
    assert np.array_equal(mix_into(mic, music, 1), music)
    mixed = mix_into(mic, music, 2)
    assert mixed.dtype == np.int16
    assert np.array_equal(mixed[:80], np.full(80, -10000, dtype=np.int16))
    assert np.array_equal(mixed[80:], np.full(80, 32767, dtype=np.int16))  # saturates
    low = np.full(4, -30000, dtype=np.int16)
    assert np.array_equal(mix_into(low, low, PlayMode.MIX), np.full(4, -32768, dtype=np.int16))
    out = mix_into(mic, music, PlayMode.NONE)
    out[0] = 0
    assert mic[0] == 20000  # a new frame, not the microphone's buffer


def test_mix_into_refuses_bad_mode_and_length() -> None:
    frame = silence(160)
    with pytest.raises(ValueError):
        mix_into(frame, frame, 3)
    with pytest.raises(ValueError, match="differ in length"):
        mix_into(frame, silence(80), PlayMode.MIX)
