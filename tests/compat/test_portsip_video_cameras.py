"""The facade's camera functions list the V4L2 cameras after the virtual camera.

Proves, with a faked sysfs tree of two cameras (this machine has none):
getNumOfVideoCaptureDevices counts the virtual camera (device 0) and both cameras;
getVideoCaptureDeviceName gives each camera's device node as its unique id and the
driver's name (device 0 and -1: the virtual camera); setVideoDeviceId(n) selects V4L2
camera n-1 for new calls (api.video_devices), 0 and -1 the virtual camera again, and a
device that does not exist is refused; a call made with a camera that cannot be opened
(the faked node is no device) still sends the virtual camera's pattern.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import pytest
from tests.compat.conftest import Recorder, sip_port

from voipkit.aio import video_capture
from voipkit.aio.video_capture import CaptureDevice
from voipkit.api import video_devices
from voipkit.api.video_devices import camera_settings
from voipkit.compat.portsip import ErrorCode, PortSIPLib, StringBuilder
from voipkit.media.video import VideoFrame

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]


def _fake_cameras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sysfs = tmp_path / "video4linux"
    for node, name in (("video0", "Laptop Cam"), ("video2", "USB Cam")):
        (sysfs / node).mkdir(parents=True)
        (sysfs / node / "name").write_text(name + "\n")
        (sysfs / node / "index").write_text("0\n")
    monkeypatch.setattr(video_devices, "list_capture_devices", functools.partial(
        video_capture.list_capture_devices, sysfs, tmp_path / "dev"))


def test_v4l2_cameras_follow_the_virtual_one(pair: Pair, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.getNumOfVideoCaptureDevices() == 1 + len(video_devices.capture_devices())
    _fake_cameras(tmp_path, monkeypatch)
    assert alice.getNumOfVideoCaptureDevices() == 3
    unique, name = StringBuilder(), StringBuilder()
    expected = [("voipkit:pattern", "voipkit test pattern"),
                (str(tmp_path / "dev" / "video0"), "Laptop Cam"),
                (str(tmp_path / "dev" / "video2"), "USB Cam")]
    for index, pair_ in enumerate(expected):
        assert alice.getVideoCaptureDeviceName(index, unique, 256, name, 128) == 0
        assert (str(unique), str(name)) == pair_
    assert alice.getVideoCaptureDeviceName(-1, unique, 256, name, 128) == 0
    assert str(name) == "voipkit test pattern"
    assert alice.getVideoCaptureDeviceName(3, unique, 256, name, 128) == (
        ErrorCode.INVALID_ARGUMENT)
    phone = alice.phone
    assert phone is not None
    assert alice.setVideoDeviceId(2) == 0
    assert camera_settings(phone).device == CaptureDevice(str(tmp_path / "dev" / "video2"),
                                                         "USB Cam")
    assert alice.setVideoDeviceId(3) == ErrorCode.INVALID_ARGUMENT
    assert alice.setVideoDeviceId(-2) == ErrorCode.INVALID_ARGUMENT
    assert camera_settings(phone).device is not None  # a refused id changes nothing
    assert alice.setVideoDeviceId(-1) == 0 and camera_settings(phone).device is None
    assert alice.setVideoDeviceId(1) == 0
    assert camera_settings(phone).device == CaptureDevice(str(tmp_path / "dev" / "video0"),
                                                         "Laptop Cam")

    # the faked node cannot be opened: the call falls back to the virtual camera
    for lib in (alice, bob):
        assert lib.setVideoResolution(160, 120) == 0
    got = threading.Event()

    def window(frame: VideoFrame) -> None:
        got.set()

    def answer(sid: int, *rest: Any) -> None:
        assert bob.answerCall(sid, True) == 0
        assert bob.setRemoteVideoWindow(sid, window) == 0

    bob_events.hooks["onInviteIncoming"] = answer
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, True)
    assert sid > 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    assert got.wait(10)
    assert alice.hangUp(sid) == 0
    assert alice.setVideoDeviceId(0) == 0 and camera_settings(phone).device is None
