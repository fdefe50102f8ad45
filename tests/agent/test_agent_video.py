"""``voipkit agent --video``: video calls between two agents, and the video options.

Proves: an agent with ``--video --video-size 320x240`` calls one with
``--video-codecs VP8 --record-video FILE.y4m``; the callee reports existsVideo, and
its recording holds the caller's 320x240 test pattern (barcode indexes in order, PSNR
>= 30 dB), finalised when the call ends; bad video options are usage errors (code 2)
naming the option; ``--record-video`` alone turns video on.
"""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from agent.test_agent_cli import AgentProcess
from voipkit.agent import AgentError, parse_options
from voipkit.media.video import VideoFrame, pattern_frame, pattern_index, psnr

FRAME_BYTES = 320 * 240 * 3 // 2


def test_two_agents_make_a_video_call(tmp_path: Path) -> None:
    recording = tmp_path / "received.y4m"
    alice = AgentProcess("--auto-answer", "--video", "--video-size", "320x240")
    bob = AgentProcess("--auto-answer", "--video-codecs", "VP8", "--record-video",
                       str(recording))
    try:
        alice.send(f"call sip:bob@{bob.address}")
        incoming = bob.expect("onInviteIncoming")
        assert incoming["existsVideo"] is True
        bob.expect("onInviteConnected")
        deadline = time.monotonic() + 10
        while not recording.exists() or recording.stat().st_size < 5 * FRAME_BYTES:
            assert time.monotonic() < deadline, "no video recorded"
            time.sleep(0.05)
        alice.send("hangup all")
        bob.expect("onInviteClosed")
    finally:
        alice.kill()
        bob.kill()
    with av.open(str(recording)) as container:
        frames = [VideoFrame(np.asarray(f.to_ndarray(format="yuv420p"), dtype=np.uint8))
                  for f in container.decode(video=0)]
    assert len(frames) >= 5 and {(f.width, f.height) for f in frames} == {(320, 240)}
    indexes = [pattern_index(f) for f in frames]
    assert indexes == sorted(indexes)
    assert min(psnr(pattern_frame(320, 240, i), f) for i, f in zip(indexes, frames,
                                                                    strict=True)) >= 30


@pytest.mark.parametrize(("args", "named"), [
    (["--video-codecs", "H263"], "--video-codecs 'H263'"),
    (["--video-size", "640"], "--video-size '640' is not WxH"),
    (["--video-size", "641x480"], "641x480 must be even"),
    (["--record-video", "/tmp/x.wav"], "must end in one of .mp4, .mkv, .avi, .y4m"),
    (["--record-video", "/nonexistent/dir/x.mp4"], "directory '/nonexistent/dir'"),
])
def test_bad_video_options(args: list[str], named: str) -> None:
    with pytest.raises(AgentError) as info:
        parse_options(args)
    assert info.value.code == 2 and named in str(info.value)


def test_record_video_turns_video_on(tmp_path: Path) -> None:
    options = parse_options(["--record-video", str(tmp_path / "v.mkv")]).video
    assert options.enabled and options.record == str(tmp_path / "v.mkv")
    assert not parse_options([]).video.enabled
