"""Cameras, the virtual camera and ready-made video windows.

Proves:
- V4L2 devices are listed from sysfs, one per device (the index-0 node), by node
  number, with their driver names; this machine has none (no /sys/class/video4linux),
  so calls send the virtual camera; grabbing a missing device raises CaptureError;
- ``set_video_device`` refuses a device that does not exist; ``use_video_file`` makes
  the virtual camera loop a clip: the peer of a real call decodes the clip's barcodes
  (5000-5004, looping), and ``camera_name`` says so; a file without video is refused;
- ``i420_to_rgb`` (the Qt window's conversion) gives BT.601 red and black.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from voipkit import api
from voipkit.aio.video_capture import CaptureDevice, CaptureError, list_capture_devices, open_camera
from voipkit.api import IncomingCall, Phone, PhoneConfig
from voipkit.api.errors import ConfigurationError
from voipkit.api.video_devices import (
    VIRTUAL_CAMERA,
    camera_name,
    capture_devices,
    set_video_device,
    use_video_file,
)
from voipkit.api.video_sinks import i420_to_rgb
from voipkit.media.player import MediaFileError
from voipkit.media.video import VideoFrame, pattern_frame, pattern_index
from voipkit.media.video.compose import solid_frame
from voipkit.media.video_recorder import AvRecorder


def test_v4l2_listing(tmp_path: Path) -> None:
    sysfs = tmp_path / "video4linux"
    for node, name, index in (("video2", "USB Cam", "0"), ("video0", "Laptop Cam", "0"),
                              ("video1", "Laptop Cam", "1"), ("vbi0", "teletext", "0")):
        (sysfs / node).mkdir(parents=True)
        (sysfs / node / "name").write_text(name + "\n")
        (sysfs / node / "index").write_text(index + "\n")
    assert list_capture_devices(sysfs, Path("/dev")) == [
        CaptureDevice("/dev/video0", "Laptop Cam"), CaptureDevice("/dev/video2", "USB Cam")]
    assert list_capture_devices(tmp_path / "none") == []
    assert capture_devices() == list_capture_devices()
    if not Path("/sys/class/video4linux").exists():
        assert capture_devices() == []  # this machine: no camera
    with pytest.raises(CaptureError):
        open_camera(CaptureDevice(str(tmp_path / "video9"), "gone"), width=320, height=240,
                    frame_rate=10)


def _clip(path: Path) -> None:
    recorder = AvRecorder(path, width=320, height=240, frame_rate=10, audio_mode=None)
    for index in range(5):
        recorder.write_video(pattern_frame(320, 240, 5000 + index), at=index / 10)
    recorder.close()


def test_video_file_as_camera(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    _clip(clip)

    async def main() -> None:
        alice = Phone(PhoneConfig(listen=("udp:127.0.0.1:0",),
                                  media=api.MediaConfig(rtp_port_range=(50000, 54999))))
        bob = Phone(PhoneConfig(listen=("udp:127.0.0.1:0",),
                                media=api.MediaConfig(rtp_port_range=(50000, 54999))))
        for phone in (alice, bob):
            phone.video.set_resolution(320, 240)
            phone.video.set_frame_rate(10)
            await phone.start()
        seen: list[int] = []
        looped = asyncio.Event()

        def sink(frame: VideoFrame) -> None:
            seen.append(pattern_index(frame))
            if seen.count(5004) and seen[-1] == 5000:
                looped.set()

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)
            assert event.call.video is not None
            event.call.video.add_sink(sink)

        try:
            assert camera_name(alice) == VIRTUAL_CAMERA
            with pytest.raises(ConfigurationError):
                set_video_device(alice, len(capture_devices()))
            with pytest.raises(MediaFileError):
                use_video_file(alice, tmp_path / "missing.mp4")
            use_video_file(alice, clip)
            assert camera_name(alice) == "voipkit virtual camera (clip.mkv)"
            _, host, port = bob.listening[0]
            call = await alice.call(f"sip:bob@{host}:{port}", video=True)
            await call.answered(timeout=5)
            await asyncio.wait_for(looped.wait(), 10)
            assert set(seen) == {5000, 5001, 5002, 5003, 5004}
            await call.hangup()
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_i420_to_rgb_colours() -> None:
    rgb = np.frombuffer(i420_to_rgb(solid_frame(4, 2, (82, 90, 240))), dtype=np.uint8)
    assert rgb.reshape(2, 4, 3)[0, 0].tolist() == pytest.approx([255, 0, 0], abs=2)
    rgb = np.frombuffer(i420_to_rgb(solid_frame(4, 2, (16, 128, 128))), dtype=np.uint8)
    assert set(rgb.tolist()) == {0}
