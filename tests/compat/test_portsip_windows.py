"""The facade's windows get a bounded queue each: a slow window drops old frames.

Proves:
- ``WindowFeed`` (driven by hand, no threads): frames pushed while a drain job is
  queued do not queue a second job; beyond ``depth`` the oldest waiting frame is
  dropped and counted; the drain hands the window the newest frames in order; a
  window that raises loses only its frame, and the feed keeps delivering;
- a real call's remote video window that blocks: while it is stuck in its first
  frame, the frames arriving (several a second) are dropped, not queued: at most two
  wait, ``window_drops`` counts the rest, and once released the window sees just
  the waiting ones; other callbacks still run after it;
- ``onVideoRawCallback`` (enableVideoStreamCallback) is bounded the same way: an
  application stuck in it loses the oldest frames, counted by ``raw_video_drops``,
  and at most eight wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import DIRECTION_MODE, PortSIPLib
from voipkit.compat.portsip.windows import WindowFeed
from voipkit.media.video import VideoFrame

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]


def _frame(value: int) -> VideoFrame:
    return VideoFrame(np.full((6, 4), value, dtype=np.uint8))


def test_window_feed_by_hand() -> None:
    jobs: list[Callable[[], None]] = []
    seen: list[int] = []

    def post(job: Callable[..., None], *args: Any) -> None:
        jobs.append(job)

    feed = WindowFeed(lambda frame: seen.append(int(frame.y[0, 0])), post, depth=2)
    for value in range(5):
        feed(_frame(value))
    assert len(jobs) == 1 and feed.dropped == 3 and feed.waiting == 2
    jobs.pop()()
    assert seen == [3, 4] and feed.delivered == 2 and feed.waiting == 0
    feed(_frame(5))
    assert len(jobs) == 1  # the feed was idle: a new job
    jobs.pop()()
    assert seen == [3, 4, 5]

    def broken(frame: VideoFrame) -> None:
        if int(frame.y[0, 0]) == 7:
            raise RuntimeError("paint failed")
        seen.append(int(frame.y[0, 0]))

    feed = WindowFeed(broken, post, depth=2)
    feed(_frame(7))
    feed(_frame(8))
    with pytest.raises(RuntimeError):
        jobs.pop()()
    assert len(jobs) == 1  # frame 8 still waits: a new job was queued
    jobs.pop()()
    assert seen[-1] == 8 and feed.waiting == 0
    feed(_frame(9))
    assert len(jobs) == 1
    with pytest.raises(ValueError):
        WindowFeed(broken, post, depth=0)


def test_slow_window_on_a_call(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    for lib in (alice, bob):
        assert lib.setVideoResolution(160, 120) == 0
    release = threading.Event()
    entered = threading.Event()
    frames: list[VideoFrame] = []

    def slow_window(frame: VideoFrame) -> None:
        frames.append(frame)
        entered.set()
        release.wait(20)

    def answer(sid: int, *rest: Any) -> None:
        assert bob.answerCall(sid, True) == 0
        assert bob.setRemoteVideoWindow(sid, slow_window) == 0

    bob_events.hooks["onInviteIncoming"] = answer
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
    assert sid > 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    assert entered.wait(10)
    # the window is stuck in frame 1; the call keeps receiving 15 frames a second
    deadline = time.monotonic() + 10
    while bob.window_drops(slow_window) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    dropped = bob.window_drops(slow_window)
    assert dropped >= 5 and len(frames) == 1
    assert bob._window_sink(slow_window).waiting == 2
    release.set()
    assert alice.hangUp(sid) == 0
    bob_events.wait("onInviteClosed", timeout=10)  # callbacks behind the window ran
    assert bob.window_drops(slow_window) >= dropped and len(frames) >= 3
    assert bob.window_drops(object()) == 0


def test_slow_raw_video_callback_on_a_call(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    for lib in (alice, bob):
        assert lib.setVideoResolution(160, 120) == 0
    release = threading.Event()
    entered = threading.Event()
    calls: list[int] = []

    def slow_callback(session_id: int, kind: int, *rest: Any) -> None:
        calls.append(kind)
        entered.set()
        release.wait(20)

    def answer(sid: int, *rest: Any) -> None:
        assert bob.answerCall(sid, True) == 0
        assert bob.enableVideoStreamCallback(
            sid, int(DIRECTION_MODE.DIRECTION_RECV)) == 0

    bob_events.hooks["onInviteIncoming"] = answer
    bob_events.hooks["onVideoRawCallback"] = slow_callback
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
    assert sid > 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    assert entered.wait(10)
    bob_sid = bob_events.wait("onInviteConnected")[0]
    deadline = time.monotonic() + 15
    while bob.raw_video_drops(bob_sid) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    dropped = bob.raw_video_drops(bob_sid)
    assert dropped >= 5 and len(calls) == 1
    release.set()
    assert alice.hangUp(sid) == 0
    bob_events.wait("onInviteClosed", timeout=10)
    assert len(calls) >= 2  # the waiting frames were delivered once it returned
    assert bob.raw_video_drops(bob_sid + 1000) == 0
