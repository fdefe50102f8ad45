"""The phone's camera: V4L2 capture devices and the virtual camera.

Knows: ``aio.video_capture`` (V4L2 devices listed from sysfs, grabbed through PyAV on
a thread) and the virtual cameras of ``media`` (the moving test pattern
``PatternSource``; a video file looped, ``media.video_file.VideoFileSource``). Must
not know: SIP, SDP, sockets or the facade's codes (the facade's device functions,
compat/portsip/video.py, list the virtual camera as device 0 and ``capture_devices()``
from 1). ``api.video.CallVideo`` closes a call's camera when its video ends.

Which camera a call sends (``camera_source``, called when a call's video opens): the
device chosen with ``set_video_device`` when it opens, else the virtual camera - the
file given to ``use_video_file`` (looped), else the test pattern. A device that fails
to open is logged and the virtual camera is used instead, so a call never loses its
video for a busy camera. This machine has no camera (no V4L2 devices), so its calls
send the virtual camera.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voipkit.aio.video_capture import CaptureDevice, CaptureError, list_capture_devices, open_camera
from voipkit.aio.video_session import VideoSource
from voipkit.api.errors import ConfigurationError
from voipkit.media.player import MediaFileError
from voipkit.media.video import PatternSource
from voipkit.media.video_file import VideoFileSource, has_video

if TYPE_CHECKING:
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

VIRTUAL_CAMERA = "voipkit virtual camera (test pattern)"
"The name of the camera calls use when no device is chosen and no file is set."


@dataclass(slots=True)
class CameraSettings:
    """A phone's camera choice.

    Attributes:
        device: the V4L2 device (setVideoDeviceId); None: the virtual camera.
        file: the video file the virtual camera loops; None: the test pattern.
    """

    device: CaptureDevice | None = None
    file: str | None = None


_settings: weakref.WeakKeyDictionary[Phone, CameraSettings] = weakref.WeakKeyDictionary()


def camera_settings(phone: Phone) -> CameraSettings:
    settings = _settings.get(phone)
    if settings is None:
        settings = _settings[phone] = CameraSettings()
    return settings


def capture_devices() -> list[CaptureDevice]:
    """The machine's cameras (V4L2; none here)."""
    return list_capture_devices()


def set_video_device(phone: Phone, index: int | None) -> CaptureDevice | None:
    """Send camera ``index`` (of ``capture_devices()``) in new calls; None: the virtual
    camera.

    Raises:
        ConfigurationError: there is no such camera.
    """
    if index is None:
        camera_settings(phone).device = None
        return None
    devices = capture_devices()
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(devices):
        raise ConfigurationError(f"there is no video capture device {index!r} (there are "
                                 f"{len(devices)})")
    camera_settings(phone).device = devices[index]
    return devices[index]


def use_video_file(phone: Phone, path: str | os.PathLike[str] | None) -> None:
    """Make the virtual camera loop the video file ``path`` (None: the test pattern).

    Raises:
        MediaFileError: the file has no video track that PyAV reads.
    """
    if path is not None and not has_video(path):
        raise MediaFileError(os.fspath(path), "has no video track to use as a camera")
    camera_settings(phone).file = None if path is None else os.fspath(path)


def camera_name(phone: Phone) -> str:
    """What calls send: the chosen device's name, the looped file, or the pattern."""
    settings = camera_settings(phone)
    if settings.device is not None:
        return settings.device.name
    if settings.file is not None:
        return f"voipkit virtual camera ({os.path.basename(settings.file)})"
    return VIRTUAL_CAMERA


def virtual_camera(phone: Phone, width: int, height: int, frame_rate: int) -> VideoSource:
    """The virtual camera: the looped file, or the moving test pattern."""
    path = camera_settings(phone).file
    if path is not None:
        try:
            return VideoFileSource(path, width=width, height=height, frame_rate=frame_rate,
                                   loop=True)
        except MediaFileError as exc:
            logger.warning("virtual camera: %s; sending the test pattern", exc)
    return PatternSource(width, height)


def camera_source(phone: Phone, width: int, height: int, frame_rate: int, *,
                  stop_when: Callable[[], bool] | None = None) -> VideoSource:
    """A source of the phone's camera at this size and rate (``stop_when`` ends a
    device's grab thread: pass the consumer's "closed")."""
    device = camera_settings(phone).device
    if device is not None:
        try:
            return open_camera(device, width=width, height=height, frame_rate=frame_rate,
                               stop_when=stop_when)
        except CaptureError as exc:
            logger.warning("camera %s: %s; sending the virtual camera", device.path, exc)
    return virtual_camera(phone, width, height, frame_rate)


__all__ = ["VIRTUAL_CAMERA", "CameraSettings", "camera_name", "camera_settings",
           "camera_source", "capture_devices", "set_video_device", "use_video_file",
           "virtual_camera"]
