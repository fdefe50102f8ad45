"""Video recording files and video file playback, without a call.

Proves:
- ``AvRecorder`` writes .mp4 (H.264 + AAC), .mkv (H.264 + AAC) and .avi (MPEG-4 +
  PCM): read back with PyAV, every frame carries the index it was written with, at its
  time (index / 10 s), with PSNR >= 30 dB at 320x240, and the audio track holds the
  2.0 s written (AAC: plus its 1024-sample priming frame);
- without audio the file has no audio track; a frame for a slot already written is
  dropped; frames of another size are scaled; timestamps in names; closing twice is
  harmless and writing after close is refused; unknown extensions are refused;
- ``VideoFileSource`` plays a 10 fps file at the reader's rate (pictures repeated to
  keep the file's speed), finishes after the last picture's period, loops from the
  start with ``loop``, and refuses missing files and files without pictures.
"""

from __future__ import annotations

import datetime
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from voipkit.media.player import MediaFileError
from voipkit.media.recorder import RecordMode
from voipkit.media.video import VideoFrame, pattern_frame, pattern_index, psnr
from voipkit.media.video.compose import solid_frame
from voipkit.media.video_file import VideoFileSource, has_video
from voipkit.media.video_recorder import AvRecorder

TONE = (np.sin(2 * np.pi * 440 * np.arange(160) / 8000) * 8000).astype(np.int16)


def _record(path: Path, frames: int = 20, *, audio: RecordMode | None = RecordMode.BOTH,
            first: int = 0) -> AvRecorder:
    """``frames`` pattern frames at 10 fps beside 20 ms audio ticks."""
    recorder = AvRecorder(path, width=320, height=240, frame_rate=10, audio_mode=audio)
    for tick in range(frames * 5):
        recorder.write(TONE, None)
        if tick % 5 == 0:
            assert recorder.write_video(pattern_frame(320, 240, first + tick // 5),
                                        at=tick * 0.02)
    recorder.close()
    return recorder


def _decoded(path: Path) -> list[tuple[float, VideoFrame]]:
    with av.open(str(path)) as container:
        return [(float(f.time), VideoFrame(f.to_ndarray(format="yuv420p")))
                for f in container.decode(video=0)]


@pytest.mark.parametrize(("extension", "video_codec", "audio_codec", "samples"), [
    (".mp4", "h264", "aac", 16384), (".mkv", "h264", "aac", 16384),
    (".avi", "mpeg4", "pcm_s16le", 16000)])
def test_containers(tmp_path: Path, extension: str, video_codec: str, audio_codec: str,
                    samples: int) -> None:
    path = tmp_path / f"call{extension}"
    recorder = _record(path)
    assert recorder.video_frames == 20 and recorder.seconds == 2.0
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == video_codec
        assert container.streams.audio[0].codec_context.name == audio_codec
        assert sum(f.samples for f in container.decode(audio=0)) == samples
    frames = _decoded(path)
    assert [pattern_index(f) for _, f in frames] == list(range(20))
    assert [round(t, 3) for t, _ in frames] == [i / 10 for i in range(20)]
    for index, (_, frame) in enumerate(frames):
        assert psnr(pattern_frame(320, 240, index), frame) >= 30


def test_video_only_drops_scales_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "only.mp4"
    recorder = AvRecorder(path, width=320, height=240, frame_rate=10, audio_mode=None,
                          append_timestamp=True,
                          timestamp=datetime.datetime(2024, 3, 5, 14, 7, 9))
    assert recorder.path == str(tmp_path / "only_20240305-140709.mp4")
    recorder.write(TONE, TONE)  # no audio track: ignored
    assert recorder.write_video(pattern_frame(320, 240, 1), at=0.0)
    assert not recorder.write_video(pattern_frame(320, 240, 2), at=0.04)  # same slot
    assert recorder.write_video(solid_frame(640, 480, (200, 100, 150)), at=0.1)  # scaled
    assert (recorder.video_frames, recorder.dropped, recorder.seconds) == (2, 1, 0.2)
    recorder.close()
    recorder.close()
    assert not recorder.write_video(pattern_frame(320, 240, 4), at=0.5)
    with pytest.raises(ValueError):
        recorder.write(TONE, None)
    with av.open(recorder.path) as container:
        assert not container.streams.audio
    frames = _decoded(Path(recorder.path))
    assert pattern_index(frames[0][1]) == 1 and len(frames) == 2
    scaled = frames[1][1]
    assert (scaled.width, scaled.height) == (320, 240)
    assert [round(float(np.mean(p))) for p in scaled.planes()] == [200, 100, 150]
    with pytest.raises(MediaFileError):
        AvRecorder(tmp_path / "x.mov", width=320, height=240, frame_rate=10)
    with pytest.raises(MediaFileError):
        AvRecorder(tmp_path / "missing" / "x.mp4", width=320, height=240, frame_rate=10)
    with pytest.raises(ValueError):
        AvRecorder(tmp_path / "x.mp4", width=321, height=240, frame_rate=10)


def test_file_source_pace_end_and_loop(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    _record(path, 5, first=100)  # 5 pictures, 0.1 s apart
    assert has_video(path) and not has_video(tmp_path / "none.mp4")
    source = VideoFileSource(path, width=320, height=240, frame_rate=20)
    shown = []
    while (frame := source.read_frame()) is not None:
        shown.append(pattern_index(frame))
    assert shown == [100, 100, 101, 101, 102, 102, 103, 103, 104, 104]
    assert source.finished and source.read_frame() is None
    looping = VideoFileSource(path, width=160, height=120, frame_rate=10, loop=True)
    frames = [looping.read_frame() for _ in range(12)]
    assert all(f is not None and (f.width, f.height) == (160, 120) for f in frames)
    big = VideoFileSource(path, width=320, height=240, frame_rate=10, loop=True)
    assert [pattern_index(big.read_frame() or pattern_frame(2, 2, 0))
            for _ in range(12)] == [100, 101, 102, 103, 104] * 2 + [100, 101]
    assert not big.finished
    big.close()


def test_file_source_refusals(tmp_path: Path) -> None:
    with pytest.raises(MediaFileError):
        VideoFileSource(tmp_path / "none.mp4", width=320, height=240, frame_rate=10)
    sound = tmp_path / "tone.wav"
    with wave.open(str(sound), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(TONE.tobytes())
    assert not has_video(sound)
    with pytest.raises(MediaFileError, match="no video track"):
        VideoFileSource(sound, width=320, height=240, frame_rate=10)
