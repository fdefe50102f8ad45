"""Recording calls with video and playing a video file to the peer, through the facade.

Proves, between two PortSIPLib on 127.0.0.1 with 320x240 H.264 video:
- startRecord(..., FILEFORMAT_MP4, RECORD_BOTH, RECORD_BOTH) + stopRecord writes an MP4
  whose frames are 640x240: Alice's sent pattern on the left, Bob's on the right (their
  barcodes read back), with an AAC track; RECORD_RECV into .avi with RECORD_NONE audio
  gives Bob's pattern alone and no audio track; RECORD_SEND into .mkv in stereo;
- refusals: a video mode with FILEFORMAT_WAVE or a .mov name (INVALID_ARGUMENT), a call
  without video (INVALID_STATE);
- startPlayingFileToRemote(sid, clip.mp4, false, 0): Bob's window shows the clip's
  pictures (indices 5000-5009), onPlayFileFinished(sid, clip) comes once, then Alice's
  camera is back; with playAudio 1 the clip's sound plays too and finishes once;
  stopPlayingFileToRemote stops a looping clip and is INVALID_STATE when nothing plays;
- startPlayingFileLocally(clip, loop, window) shows the clip (320x240, indices
  5000-5009 in order, looping) in the window until stopPlayingFileLocally;
- unInitialize finalises a running video recording (the MP4 decodes, frames in order).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import FILE_FORMAT, RECORD_MODE, ErrorCode, PortSIPLib
from voipkit.media.recorder import RecordMode
from voipkit.media.video import VideoFrame, pattern_frame, pattern_index
from voipkit.media.video_recorder import AvRecorder

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
MP4 = FILE_FORMAT.FILEFORMAT_MP4
BOTH, RECV, NONE = RECORD_MODE.RECORD_BOTH, RECORD_MODE.RECORD_RECV, RECORD_MODE.RECORD_NONE


class Frames:
    """Counts frames; ``hit`` once ``wanted`` frames satisfying ``test`` arrived."""

    def __init__(self, wanted: int, test: Callable[[VideoFrame], bool] | None = None) -> None:
        self.wanted = wanted
        self.test = test
        self.indices: list[int] = []
        self.hit = threading.Event()

    def __call__(self, frame: VideoFrame) -> None:
        if self.test is None or self.test(frame):
            self.indices.append(pattern_index(frame))
            if len(self.indices) >= self.wanted:
                self.hit.set()


def _connect(pair: Pair, video: bool = True) -> tuple[int, int]:
    alice, alice_events, bob, bob_events = pair
    for lib in (alice, bob):
        assert lib.setVideoResolution(320, 240) == 0
    bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.answerCall(sid, video)
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, video)
    assert sid > 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    return sid, bob_events.wait("onInviteIncoming")[0]


def _frames(path: Path) -> list[VideoFrame]:
    with av.open(str(path)) as container:
        return [VideoFrame(f.to_ndarray(format="yuv420p")) for f in container.decode(video=0)]


def _half(frame: VideoFrame, right: bool) -> VideoFrame:
    """The left or right half of a side-by-side frame (its luma; chroma neutral)."""
    width = frame.width // 2
    y = frame.y[:, width:] if right else frame.y[:, :width]
    chroma = np.full((frame.height // 2, width), 128, dtype=np.uint8)
    return VideoFrame(np.ascontiguousarray(np.concatenate([y, chroma])))


def test_record_call_with_video(pair: Pair, tmp_path: Path) -> None:
    alice = pair[0]
    sid, _ = _connect(pair)
    folder = str(tmp_path)
    assert alice.startRecord(sid, folder, "a.wav", False, 1, FILE_FORMAT.FILEFORMAT_WAVE,
                             BOTH, BOTH) == ErrorCode.INVALID_ARGUMENT
    assert alice.startRecord(sid, folder, "a.mov", False, 1, MP4, BOTH, BOTH) == (
        ErrorCode.INVALID_ARGUMENT)
    seen = Frames(12)
    assert alice.setRemoteVideoWindow(sid, seen) == 0
    assert alice.startRecord(sid, folder, "both", False, 1, MP4, BOTH, BOTH) == 0
    assert seen.hit.wait(10)
    assert alice.stopRecord(sid) == 0
    frames = _frames(tmp_path / "both.mp4")
    assert len(frames) >= 8 and (frames[-1].width, frames[-1].height) == (640, 240)
    with av.open(str(tmp_path / "both.mp4")) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    last = frames[-1]
    assert abs(pattern_index(_half(last, True)) - seen.indices[-1]) <= 3  # bob's frames
    sent = [pattern_index(_half(f, False)) for f in frames[-4:]]
    assert sent == sorted(sent) and sent[-1] > sent[0]  # alice's camera, moving on

    seen = Frames(8)
    assert alice.setRemoteVideoWindow(sid, seen) == 0
    assert alice.startRecord(sid, folder, "recv.avi", False, 1, MP4, NONE, RECV) == 0
    assert seen.hit.wait(10)
    assert alice.stopRecord(sid) == 0
    frames = _frames(tmp_path / "recv.avi")
    assert frames and (frames[-1].width, frames[-1].height) == (320, 240)
    assert set(pattern_index(f) for f in frames) <= set(range(seen.indices[0] - 3,
                                                              seen.indices[-1] + 1))
    with av.open(str(tmp_path / "recv.avi")) as container:
        assert not container.streams.audio

    seen = Frames(5)
    assert alice.setRemoteVideoWindow(sid, seen) == 0
    assert alice.startRecord(sid, folder, "left.mkv", False, 2, MP4, BOTH,
                             RECORD_MODE.RECORD_SEND) == 0
    assert seen.hit.wait(10)
    assert alice.stopRecord(sid) == 0
    assert alice.hangUp(sid) == 0
    frames = _frames(tmp_path / "left.mkv")
    assert len(frames) >= 3
    with av.open(str(tmp_path / "left.mkv")) as container:
        assert container.streams.audio[0].channels == 2


def test_video_call_required(pair: Pair, tmp_path: Path) -> None:
    alice, _, _, _ = pair
    sid, _ = _connect(pair, video=False)
    assert alice.startRecord(sid, str(tmp_path), "x.mp4", False, 1, MP4, BOTH, BOTH) == (
        ErrorCode.INVALID_STATE)
    clip = tmp_path / "clip.mp4"
    _clip(clip, 2)
    assert alice.startPlayingFileToRemote(sid, str(clip), False, 0) == ErrorCode.INVALID_STATE
    assert alice.hangUp(sid) == 0


def _clip(path: Path, frames: int, first: int = 5000) -> None:
    recorder = AvRecorder(path, width=320, height=240, frame_rate=10,
                          audio_mode=RecordMode.SEND)
    tone = (np.sin(2 * np.pi * 440 * np.arange(160) / 8000) * 8000).astype(np.int16)
    for tick in range(frames * 5):
        recorder.write(tone, None)
        if tick % 5 == 0:
            recorder.write_video(pattern_frame(320, 240, first + tick // 5), at=tick * 0.02)
    recorder.close()


def test_play_video_file_to_remote(pair: Pair, tmp_path: Path) -> None:
    alice, alice_events, bob, _ = pair
    sid, bob_sid = _connect(pair)
    clip = tmp_path / "clip.mp4"
    _clip(clip, 10)
    assert alice.stopPlayingFileToRemote(sid) == ErrorCode.INVALID_STATE
    at_bob = Frames(6, lambda f: 5000 <= pattern_index(f) < 5010)
    assert bob.setRemoteVideoWindow(bob_sid, at_bob) == 0
    assert alice.startPlayingFileToRemote(sid, str(clip), False, 0) == 0
    assert at_bob.hit.wait(10)
    assert alice_events.wait("onPlayFileFinished") == (sid, str(clip))
    camera = Frames(3, lambda f: pattern_index(f) < 5000)
    assert bob.setRemoteVideoWindow(bob_sid, camera) == 0
    assert camera.hit.wait(10)
    assert at_bob.indices == sorted(at_bob.indices)
    assert alice_events.names().count("onPlayFileFinished") == 1

    assert alice.startPlayingFileToRemote(sid, str(clip), False, 1) == 0  # with its sound
    alice_events.wait("onPlayFileFinished", count=2)
    assert alice.startPlayingFileToRemote(sid, str(clip), True, 2) == 0  # looping
    looping = Frames(12, lambda f: 5000 <= pattern_index(f) < 5010)
    assert bob.setRemoteVideoWindow(bob_sid, looping) == 0
    assert looping.hit.wait(10)
    assert alice.stopPlayingFileToRemote(sid) == 0
    assert alice.stopPlayingFileToRemote(sid) == ErrorCode.INVALID_STATE
    assert alice.startPlayingFileToRemote(sid, str(clip), False, 3) == (
        ErrorCode.INVALID_ARGUMENT)
    assert alice.hangUp(sid) == 0
    assert alice_events.names().count("onPlayFileFinished") == 2


def test_play_video_file_locally(pair: Pair, tmp_path: Path) -> None:
    alice = pair[0]
    clip = tmp_path / "clip.mp4"
    _clip(clip, 10)
    shown: list[tuple[int, int, int]] = []
    looped = threading.Event()

    def window(frame: VideoFrame) -> None:
        shown.append((pattern_index(frame), frame.width, frame.height))
        if len(shown) > 1 and shown[-2][0] == 5009 and shown[-1][0] == 5000:
            looped.set()

    assert alice.stopPlayingFileLocally() == ErrorCode.INVALID_STATE
    assert alice.startPlayingFileLocally(str(clip), True, window) == 0
    assert looped.wait(10)
    assert alice.stopPlayingFileLocally() == 0
    assert alice.stopPlayingFileLocally() == ErrorCode.INVALID_STATE
    first = [index for index, _, _ in shown[:10]]
    assert first == sorted(first) and first[0] == 5000
    assert {index for index, _, _ in shown} == set(range(5000, 5010))
    assert {(w, h) for _, w, h in shown} == {(320, 240)}
    assert alice.startPlayingFileLocally(str(clip), False, 1) == ErrorCode.INVALID_ARGUMENT


def test_uninitialize_finalises_a_video_recording(pair: Pair, tmp_path: Path) -> None:
    alice = pair[0]
    sid, _ = _connect(pair)
    seen = Frames(6)
    assert alice.setRemoteVideoWindow(sid, seen) == 0
    assert alice.startRecord(sid, str(tmp_path), "kept.mp4", False, 1, MP4, BOTH, RECV) == 0
    assert seen.hit.wait(10)
    alice.unInitialize()  # no stopRecord, no hang-up: the MP4 must still be complete
    indices = [pattern_index(f) for f in _frames(tmp_path / "kept.mp4")]
    assert len(indices) >= 4 and indices == sorted(indices)
