"""Screen sharing through the facade, from a real X display (Xvfb) to the peer phone.

Proves (Xvfb with a 320x240 and a 160x120 screen, painted with xsetroot; two
PortSIPLib on 127.0.0.1; H.264 at 160x120):
- getScreenSourceCount counts the display's screens and getScreenSourceTitle names
  them (``Screen 0 (320x240) on :N``), with BUFFER_TOO_SMALL / INVALID_ARGUMENT for a
  short buffer or a screen that does not exist; selectScreenSource and
  SetScreenFrameRate refuse what does not exist;
- enableSendScreenStreamToRemote(sid, true): the red screen arrives in the peer's
  screen window (setScreenVideoWindow) in its colour (BT.601 Y/U/V within 12);
  repainting the screen green shows up at the peer (the grab is live); screen 1
  (blue) after selectScreenSource(1); false gives the camera (the test pattern) back;
- enableScreenStreamCallback(sid, DIRECTION_SEND) raises onVideoRawCallback with the
  screen frames sent (160x120 I420, red);
- without a display (no DISPLAY) there are no screens and sharing is refused
  (INVALID_ARGUMENT); unknown sessions and directions are refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
from tests.compat.conftest import Recorder, sip_port

from interop.xvfb import paint, xvfb
from voipkit.compat.portsip import DIRECTION_MODE, ErrorCode, PortSIPLib
from voipkit.compat.portsip.lib import StringBuilder
from voipkit.media.video import VideoFrame

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
# #rrggbb -> BT.601 video-range Y, U, V (what swscale gives for x11grab's bgr0)
RED, GREEN, BLUE = (82, 90, 240), (145, 54, 34), (41, 240, 110)


def solid(frame: VideoFrame, yuv: tuple[int, int, int], tol: float = 12) -> bool:
    y, u, v = frame.planes()
    return all(abs(float(np.mean(p)) - c) <= tol and float(np.std(p)) < 6
               for p, c in zip((y, u, v), yuv, strict=True))


class Window:
    def __init__(self, test: Callable[[VideoFrame], bool]) -> None:
        self.test = test
        self.hit = threading.Event()

    def __call__(self, frame: VideoFrame) -> None:
        if self.test(frame):
            self.hit.set()


@pytest.mark.interop
def test_screen_share_from_xvfb(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, alice_events, bob, bob_events = pair
    with xvfb([(320, 240), (160, 120)]) as display:
        monkeypatch.setenv("DISPLAY", display)
        paint(display, "#ff0000", 0)
        paint(display, "#0000ff", 1)
        assert alice.getScreenSourceCount() == 2
        title = StringBuilder()
        assert alice.getScreenSourceTitle(0, title, 128) == 0
        assert title.value == f"Screen 0 (320x240) on {display}"
        assert alice.getScreenSourceTitle(1, title, 128) == 0
        assert title.value == f"Screen 1 (160x120) on {display}"
        assert alice.getScreenSourceTitle(1, title, 8) == ErrorCode.BUFFER_TOO_SMALL
        assert alice.getScreenSourceTitle(2, title, 128) == ErrorCode.INVALID_ARGUMENT
        assert alice.selectScreenSource(2) == ErrorCode.INVALID_ARGUMENT
        assert alice.SetScreenFrameRate(0) == ErrorCode.INVALID_ARGUMENT
        assert alice.SetScreenFrameRate(10) == 0
        assert alice.setVideoResolution(160, 120) == 0
        assert bob.setVideoResolution(160, 120) == 0
        bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.answerCall(sid, True)
        sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
        assert sid > 0
        alice_events.wait("onInviteConnected", lambda a: a == (sid,))
        bob_sid = bob_events.wait("onInviteIncoming")[0]
        assert alice.enableScreenStreamCallback(sid, int(DIRECTION_MODE.DIRECTION_SEND)) == 0
        red = Window(lambda f: solid(f, RED))
        assert bob.setScreenVideoWindow(bob_sid, red) == 0
        assert bob.setScreenVideoWindow(bob_sid, "no window") == ErrorCode.INVALID_ARGUMENT
        assert alice.enableSendScreenStreamToRemote(sid, True) == 0
        assert red.hit.wait(10)
        raw = alice_events.wait("onVideoRawCallback")
        assert raw[1:4] == (int(DIRECTION_MODE.DIRECTION_SEND), 160, 120)
        assert solid(VideoFrame.from_i420(raw[4], 160, 120), RED, 3)
        green = Window(lambda f: solid(f, GREEN))
        assert bob.setScreenVideoWindow(bob_sid, green) == 0
        paint(display, "#00ff00", 0)
        assert green.hit.wait(10)
        assert alice.enableScreenStreamCallback(sid, int(DIRECTION_MODE.DIRECTION_NONE)) == 0
        assert alice.selectScreenSource(1) == 0
        assert alice.enableSendScreenStreamToRemote(sid, False) == 0
        blue = Window(lambda f: solid(f, BLUE))
        assert bob.setScreenVideoWindow(bob_sid, blue) == 0
        assert alice.enableSendScreenStreamToRemote(sid, True) == 0
        assert blue.hit.wait(10)
        camera = Window(lambda f: float(np.std(f.y)) > 20)  # the moving test pattern
        assert bob.setScreenVideoWindow(bob_sid, camera) == 0
        assert alice.enableSendScreenStreamToRemote(sid, False) == 0
        assert camera.hit.wait(10)
        assert alice.enableSendScreenStreamToRemote(sid, True) == 0
        assert alice.hangUp(sid) == 0  # the share ends with the call
        assert bob.setScreenVideoWindow(bob_sid, None) in (0, ErrorCode.INVALID_SESSION_ID)


def test_no_display_no_screens(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, alice_events, bob, bob_events = pair
    monkeypatch.delenv("DISPLAY", raising=False)
    assert alice.getScreenSourceCount() == 0
    assert alice.selectScreenSource(0) == ErrorCode.INVALID_ARGUMENT
    assert alice.getScreenSourceTitle(0, StringBuilder(), 128) == ErrorCode.INVALID_ARGUMENT
    assert alice.setVideoResolution(160, 120) == 0
    bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.answerCall(sid, True)
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    assert alice.enableSendScreenStreamToRemote(sid, True) == ErrorCode.INVALID_ARGUMENT
    assert alice.enableSendScreenStreamToRemote(sid, False) == 0
    assert alice.setScreenVideoWindow(sid, lambda f: None) == 0
    assert alice.enableScreenStreamCallback(sid, 99) == ErrorCode.INVALID_ARGUMENT
    assert alice.enableSendScreenStreamToRemote(4242, True) == ErrorCode.INVALID_SESSION_ID
    assert alice.hangUp(sid) == 0
