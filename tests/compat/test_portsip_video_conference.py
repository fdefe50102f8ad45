"""The facade's video conference: createVideoConference / setConferenceVideoWindow.

Proves, between two PortSIPLib on 127.0.0.1 (160x120 video to spare the CPU):
- createVideoConference(window, 320, 240, 3) + joinToConference(sid) composes the
  local camera (left half) and the peer's decoded video (right half, letterboxed)
  into the window, on the callback thread; the peer receives that picture;
- setConferenceVideoWindow moves the pictures to another window; destroyConference
  ends them and the peer gets the caller's own video again;
- refusals: a second conference (INVALID_STATE), a bad layout, size or window
  (INVALID_ARGUMENT), a window without a conference (INVALID_STATE), before
  initialize (NOT_INITIALIZED).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import ErrorCode, PortSIPLib, SIPCallbackEvents
from voipkit.media.video import VideoFrame
from voipkit.media.video.compose import solid_frame

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
BOB = (190, 80, 170)


class Window:
    def __init__(self, test: Callable[[VideoFrame], bool]) -> None:
        self.test = test
        self.hit = threading.Event()
        self.threads: set[str] = set()

    def __call__(self, frame: VideoFrame) -> None:
        self.threads.add(threading.current_thread().name)
        if self.test(frame):
            self.hit.set()


def right_half_is_bob(frame: VideoFrame) -> bool:
    if (frame.width, frame.height) != (320, 240):
        return False
    y, u, v = frame.planes()
    # the 160x120 frame letterboxed in the 160x240 right half: rows 60-180
    inner = (float(np.mean(y[90:150, 200:280])), float(np.mean(u[45:75, 100:140])),
             float(np.mean(v[45:75, 100:140])))
    bars = float(np.mean(y[0:50, 170:310]))
    return all(abs(m - c) <= 8 for m, c in zip(inner, BOB, strict=True)) and abs(bars - 16) < 2


def test_video_conference_through_the_facade(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.setVideoResolution(160, 120) == 0 and bob.setVideoResolution(160, 120) == 0
    frame = solid_frame(160, 120, BOB).to_i420()

    def answer(sid: int, *rest: object) -> None:
        assert bob.answerCall(sid, True) == 0
        assert bob.enableSendVideoStreamToRemote(sid, True) == 0
        assert bob.sendVideoStreamToRemote(sid, frame, len(frame), 160, 120) == 0

    bob_events.hooks["onInviteIncoming"] = answer
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
    assert sid > 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    window = Window(right_half_is_bob)
    assert alice.createVideoConference(window, 321, 240, 3) == ErrorCode.INVALID_ARGUMENT
    assert alice.createVideoConference(window, 320, 240, 8) == ErrorCode.INVALID_ARGUMENT
    assert alice.createVideoConference("not a window", 320, 240, 3) == (
        ErrorCode.INVALID_ARGUMENT)
    assert alice.setConferenceVideoWindow(window) == ErrorCode.INVALID_STATE
    assert alice.createVideoConference(window, 320, 240, 3) == 0
    assert alice.createVideoConference(window, 320, 240, 3) == ErrorCode.INVALID_STATE
    assert alice.createAudioConference() == ErrorCode.INVALID_STATE
    assert alice.joinToConference(sid) == 0
    assert window.hit.wait(10)
    assert "portsip" in "".join(window.threads)
    bob_sid = bob_events.wait("onInviteIncoming")[0]
    at_bob = Window(right_half_is_bob)
    assert bob.setRemoteVideoWindow(bob_sid, at_bob) == 0
    assert at_bob.hit.wait(10)  # bob sees the conference picture, himself on the right
    second = Window(right_half_is_bob)
    assert alice.setConferenceVideoWindow(second) == 0
    assert second.hit.wait(10)
    assert alice.setConferenceVideoWindow(42) == ErrorCode.INVALID_ARGUMENT
    assert alice.setConferenceVideoWindow(None) == 0
    assert alice.destroyConference() == 0
    own = Window(lambda f: (f.width, f.height) == (160, 120))
    assert bob.setRemoteVideoWindow(bob_sid, own) == 0
    assert own.hit.wait(10)  # alice's own 160x120 video again
    assert alice.setConferenceVideoWindow(second) == ErrorCode.INVALID_STATE
    assert alice.hangUp(sid) == 0
    fresh = PortSIPLib(SIPCallbackEvents())
    assert fresh.createVideoConference(None, 320, 240, 0) == ErrorCode.NOT_INITIALIZED
