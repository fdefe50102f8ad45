"""The screen as its own stream (RFC 4796 ``a=content:slides``), facade to facade.

Proves (Xvfb with one red 160x120 screen; two PortSIPLib on 127.0.0.1; 160x120 video):
- updateCall(sid, true, true, true) during a video call re-offers three m= lines:
  audio, the camera with ``a=content:main`` and a second video line with
  ``a=content:slides`` that the sharer sends only (``a=sendonly``); the peer answers it
  ``recvonly`` with ``a=content:slides``;
- the peer's onInviteUpdated says existsScreen (and existsVideo), carrying the
  re-INVITE; its setScreenVideoWindow gets the red screen while its remote video
  window keeps getting the camera's test pattern (two streams, two sessions);
- enableScreenStreamCallback: the sharer's DIRECTION_SEND raw frames are the red
  screen only (not its camera), the peer's DIRECTION_RECV ones the screen it receives;
- updateCall(sid, true, true, false) removes the stream (port 0 in the re-offer):
  existsScreen turns false and the camera still arrives;
- a screen stream without camera video: an audio call updated with enableScreen only
  offers the camera line with port 0 and the screen at index 2, and the screen
  arrives at the peer;
- without a display, enableScreen is refused (INVALID_ARGUMENT);
- both sides share: the second sharer re-offers the line ``sendrecv`` (keeping the
  first share coming) and each side's screen window gets the other's screen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tests.compat.conftest import Recorder, sip_port

from interop.xvfb import paint, xvfb
from voipkit.api.screen_stream import SCREEN_INDEX
from voipkit.compat.portsip import DIRECTION_MODE, ErrorCode, PortSIPLib
from voipkit.media.video import VideoFrame

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
SEND = int(DIRECTION_MODE.DIRECTION_SEND)
RECV = int(DIRECTION_MODE.DIRECTION_RECV)
RED = (82, 90, 240)  # #ff0000 as BT.601 video-range Y, U, V


def red(frame: VideoFrame) -> bool:
    y, u, v = frame.planes()
    return all(abs(float(np.mean(p)) - c) <= 12 and float(np.std(p)) < 6
               for p, c in zip((y, u, v), RED, strict=True))


def pattern(frame: VideoFrame) -> bool:
    """The camera's moving test pattern: many colours, nothing like the red screen."""
    return float(np.std(frame.planes()[0])) > 20 and not red(frame)


class Window:
    """Counts the frames that pass ``test`` and sets ``hit`` at ``count``."""

    def __init__(self, test: Callable[[VideoFrame], bool], count: int = 2) -> None:
        self.test = test
        self.count = count
        self.passed = 0
        self.other = 0
        self.hit = threading.Event()

    def __call__(self, frame: VideoFrame) -> None:
        if self.test(frame):
            self.passed += 1
            if self.passed >= self.count:
                self.hit.set()
        else:
            self.other += 1


def _media(sdp: str) -> list[list[str]]:
    """The SDP's m= sections, each as its lines."""
    sections: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    return sections


def _call_ids(alice: PortSIPLib, sid: int, bob: PortSIPLib, bob_sid: int) -> tuple[Any, Any]:
    assert alice.phone is not None and bob.phone is not None
    return alice.phone.call_by_id(sid), bob.phone.call_by_id(bob_sid)


def _setup(pair: Pair) -> None:
    alice, _, bob, _ = pair
    for lib in (alice, bob):
        assert lib.setVideoResolution(160, 120) == 0
    assert alice.SetScreenFrameRate(5) == 0


@pytest.mark.interop
def test_screen_stream_beside_the_camera(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, alice_events, bob, bob_events = pair
    _setup(pair)
    camera = Window(pattern)
    screen = Window(red)
    with xvfb([(160, 120)]) as display:
        monkeypatch.setenv("DISPLAY", display)
        paint(display, "#ff0000", 0)

        def answer(sid: int, *rest: Any) -> None:
            assert bob.answerCall(sid, True) == 0
            assert bob.setRemoteVideoWindow(sid, camera) == 0

        bob_events.hooks["onInviteIncoming"] = answer
        sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
        assert sid > 0
        alice_events.wait("onInviteConnected", lambda a: a == (sid,))
        bob_sid = bob_events.wait("onInviteIncoming")[0]
        bob_events.wait("onInviteConnected")
        assert camera.hit.wait(10)
        assert bob.setScreenVideoWindow(bob_sid, screen) == 0
        assert alice.enableScreenStreamCallback(sid, SEND) == 0
        assert bob.enableScreenStreamCallback(bob_sid, RECV) == 0

        assert alice.updateCall(sid, True, True, True) == 0
        updated = bob_events.wait("onInviteUpdated")
        # (sessionId, audioCodecNames, videoCodecNames, existsAudio, existsVideo,
        #  existsScreen, sipMessage)
        assert updated[0] == bob_sid and updated[3] is True and updated[4] is True
        assert updated[5] is True
        assert updated[6].startswith("INVITE ")
        offer = _media(updated[6])
        assert len(offer) == 3 and offer[SCREEN_INDEX][0].startswith("m=video ")
        assert "a=content:main" in offer[1] and "a=content:slides" in offer[SCREEN_INDEX]
        assert "a=sendonly" in offer[SCREEN_INDEX]
        call, bob_call = _call_ids(alice, sid, bob, bob_sid)
        assert bob_call.screen is not None and bob_call.screen.active
        assert bob_call.screen.local_port != bob_call.video.local_port
        assert screen.hit.wait(10), (screen.passed, screen.other)
        # alice sends the screen only once she has applied bob's answer
        answer_sdp = _media(str(call.remote_sdp))
        assert "a=content:slides" in answer_sdp[SCREEN_INDEX]
        assert "a=recvonly" in answer_sdp[SCREEN_INDEX]
        before = camera.passed
        camera.hit.clear()
        camera.count = before + 2
        assert camera.hit.wait(10)  # the camera still comes, into its own window

        assert alice.updateCall(sid, True, True, False) == 0
        removed = bob_events.wait("onInviteUpdated", count=2)
        assert removed[4] is True and removed[5] is False
        assert _media(removed[6])[SCREEN_INDEX][0].split()[1] == "0"
        assert call.screen is not None and not call.screen.enabled
        assert call.screen.capture is None
        camera.hit.clear()
        camera.count = camera.passed + 2
        assert camera.hit.wait(10)
        assert camera.other == 0  # the screen never reached the camera's window
        # onVideoRawCallback(sessionId, callbackType, width, height, data, dataLength)
        sent = alice_events.wait("onVideoRawCallback", lambda a: a[:2] == (sid, SEND))
        assert sent[2:4] == (160, 120) and red(VideoFrame.from_i420(sent[4], 160, 120))
        got = bob_events.wait("onVideoRawCallback", lambda a: a[:2] == (bob_sid, RECV)
                              and red(VideoFrame.from_i420(a[4], 160, 120)))
        assert got[5] == 160 * 120 * 3 // 2
        assert not any(args[1] == SEND and not red(VideoFrame.from_i420(args[4], 160, 120))
                       for name, args in alice_events.seen if name == "onVideoRawCallback")
        assert alice.hangUp(sid) == 0


@pytest.mark.interop
def test_screen_stream_in_an_audio_call(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, alice_events, bob, bob_events = pair
    _setup(pair)
    screen = Window(red)
    assert alice.updateCall(4711, True, False, True) == ErrorCode.INVALID_SESSION_ID
    with xvfb([(160, 120)]) as display:
        bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.answerCall(sid, False)
        sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, False)
        assert sid > 0
        alice_events.wait("onInviteConnected", lambda a: a == (sid,))
        bob_sid = bob_events.wait("onInviteIncoming")[0]
        bob_events.wait("onInviteConnected")
        monkeypatch.delenv("DISPLAY", raising=False)
        assert alice.updateCall(sid, True, False, True) == ErrorCode.INVALID_ARGUMENT
        monkeypatch.setenv("DISPLAY", display)
        paint(display, "#ff0000", 0)
        assert alice.updateCall(sid, True, False, True) == 0
        updated = bob_events.wait("onInviteUpdated")
        assert updated[4] is False and updated[5] is True and updated[2] == ""
        offer = _media(updated[6])
        assert offer[1][0].split()[:2] == ["m=video", "0"]
        assert "a=content:slides" in offer[SCREEN_INDEX]
        assert bob.setScreenVideoWindow(bob_sid, screen) == 0
        assert screen.hit.wait(10), (screen.passed, screen.other)
        assert alice.hangUp(sid) == 0


@pytest.mark.interop
def test_both_sides_share(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, alice_events, bob, bob_events = pair
    _setup(pair)
    assert bob.SetScreenFrameRate(5) == 0
    at_alice, at_bob = Window(red), Window(red)
    with xvfb([(160, 120)]) as display:
        monkeypatch.setenv("DISPLAY", display)
        paint(display, "#ff0000", 0)
        bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.answerCall(sid, True)
        sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
        assert sid > 0
        alice_events.wait("onInviteConnected", lambda a: a == (sid,))
        bob_sid = bob_events.wait("onInviteIncoming")[0]
        bob_events.wait("onInviteConnected")
        assert alice.updateCall(sid, True, True, True) == 0
        assert bob_events.wait("onInviteUpdated")[5] is True
        assert bob.setScreenVideoWindow(bob_sid, at_bob) == 0
        assert at_bob.hit.wait(10)
        # bob shares too: his re-offer keeps alice's screen coming (sendrecv)
        assert bob.updateCall(bob_sid, True, True, True) == 0
        updated = alice_events.wait("onInviteUpdated")
        assert updated[5] is True
        assert "a=sendrecv" in _media(updated[6])[SCREEN_INDEX]
        assert alice.setScreenVideoWindow(sid, at_alice) == 0
        assert at_alice.hit.wait(10)
        at_bob.hit.clear()
        at_bob.count = at_bob.passed + 2
        assert at_bob.hit.wait(10)
        assert alice.hangUp(sid) == 0
