"""VideoFileSink writes the frames it is given to MP4, MKV, AVI and Y4M files.

Proves, by decoding each file back with PyAV:
- every frame is there, in order, at the sink's frame rate, with its pattern index, and
  PSNR >= 35 dB (H.264 and MPEG-4 Part 2; Y4M is lossless);
- a frame of another size is scaled to the first frame's size;
- an unknown extension and a bad frame rate are refused; a closed sink refuses frames;
  close() is idempotent.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest

from voipkit.media.video import VideoFrame, pattern_frame, pattern_index, psnr
from voipkit.media.video.files import VideoFileSink


def _read(path: Path) -> tuple[list[VideoFrame], float]:
    with av.open(str(path)) as container:
        rate = float(container.streams.video[0].average_rate or 0)
        frames = [VideoFrame(np.asarray(f.reformat(format="yuv420p").to_ndarray(),
                                        dtype=np.uint8))
                  for f in container.decode(video=0)]
    return frames, rate


@pytest.mark.parametrize("extension", [".mp4", ".mkv", ".avi", ".y4m"])
def test_frames_round_trip_through_the_file(tmp_path: Path, extension: str) -> None:
    path = tmp_path / f"video{extension}"
    with VideoFileSink(path, frame_rate=15) as sink:
        for index in range(8):
            sink(pattern_frame(320, 240, index))
        sink(pattern_frame(640, 480, 8))  # scaled to 320x240
        assert sink.frames == 9
    frames, rate = _read(path)
    assert rate == 15.0 and len(frames) == 9
    assert {(f.width, f.height) for f in frames} == {(320, 240)}
    assert [pattern_index(f) for f in frames[:8]] == list(range(8))
    scores = [psnr(pattern_frame(320, 240, i), f) for i, f in enumerate(frames[:8])]
    assert min(scores) >= 35.0
    if extension == ".y4m":
        assert all(math.isinf(s) for s in scores)


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot write video to \.webm"):
        VideoFileSink(tmp_path / "x.webm")
    with pytest.raises(ValueError, match="outside 1-120"):
        VideoFileSink(tmp_path / "x.mp4", frame_rate=0)
    sink = VideoFileSink(tmp_path / "x.mkv")
    sink(pattern_frame(64, 48, 0))
    sink.close()
    sink.close()
    with pytest.raises(ValueError, match="is closed"):
        sink(pattern_frame(64, 48, 1))
    assert len(_read(tmp_path / "x.mkv")[0]) == 1
