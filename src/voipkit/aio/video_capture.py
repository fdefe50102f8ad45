"""Video capture devices: V4L2 cameras listed from sysfs and grabbed through PyAV, and
the grab thread they share with screen capture.

Knows: Linux V4L2 (``/sys/class/video4linux/videoN/name`` and ``index``: one capture
node per device has index 0; ``/dev/videoN``), FFmpeg's ``video4linux2`` input device
as PyAV opens it, and a capture thread per grab that keeps the latest frame as I420 of
the size a call sends. Must not know: calls, RTP or SIP; ``api.video_devices`` decides
which device a call uses.

Why a thread: an FFmpeg input device blocks in each read until the next frame (it
paces itself), so reading it on the event loop would stall every call. The thread
only reads, converts and stores ``latest``; the consumer's own clock takes ``latest``
when it ticks (``read_frame``). The thread ends on ``close()`` (it wakes with the
next frame), by itself when ``stop_when()`` turns true, or when the device fails
(the error is kept in ``error``).

A machine without cameras (this one: no ``/sys/class/video4linux``) lists none; calls
then send the virtual camera (``api.video_devices``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from voipkit.base.errors import VoipkitError
from voipkit.media.video import VideoFrame

logger = logging.getLogger(__name__)

SYSFS = Path("/sys/class/video4linux")


class CaptureError(VoipkitError, OSError):
    """A device cannot be captured (missing, busy, not a camera, or no FFmpeg input)."""


@dataclass(frozen=True, slots=True)
class CaptureDevice:
    """One V4L2 camera.

    Attributes:
        path: its device node (``/dev/video0``); also its unique id.
        name: what the driver calls it (sysfs ``name``).
    """

    path: str
    name: str

    @property
    def unique_id(self) -> str:
        return self.path


def list_capture_devices(sysfs: Path = SYSFS, dev: Path = Path("/dev")) -> list[CaptureDevice]:
    """The V4L2 cameras, by node number; [] when there are none (or no V4L2 at all).

    A device with several nodes (capture and metadata) is listed once, by the node
    whose sysfs ``index`` is 0.
    """
    if not sysfs.is_dir():
        return []
    found: list[tuple[int, CaptureDevice]] = []
    for entry in sysfs.iterdir():
        if not entry.name.startswith("video") or not entry.name[5:].isdigit():
            continue
        try:
            index = (entry / "index").read_text().strip() if (entry / "index").exists() \
                else "0"
            name = (entry / "name").read_text().strip()
        except OSError:
            continue
        if index != "0":
            continue
        found.append((int(entry.name[5:]), CaptureDevice(str(dev / entry.name),
                                                         name or entry.name)))
    return [device for _, device in sorted(found, key=lambda item: item[0])]


class GrabbedSource:
    """An FFmpeg input device read on a thread; the latest frame is the video source.

    Args:
        url, input_format, options: what ``av.open`` opens.
        width, height: the I420 size ``read_frame`` gives (even).
        stop_when: polled after each frame; true ends the grab.
        name: the thread's name (logs).

    Raises:
        CaptureError: the device cannot be opened.
    """

    def __init__(self, url: str, input_format: str, options: Mapping[str, str], *,
                 width: int, height: int, stop_when: Callable[[], bool] | None = None,
                 name: str = "grab") -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"capture needs even dimensions, not {width}x{height}")
        self.url = url
        self.width = width
        self.height = height
        self.latest: VideoFrame | None = None
        self.grabbed = 0
        "Frames grabbed so far."
        self.error: BaseException | None = None
        self._stop_when = stop_when
        self._stopping = threading.Event()
        self._first = threading.Event()
        try:
            self._container = av.open(url, format=input_format, options=dict(options))
        except (OSError, av.FFmpegError) as exc:
            raise CaptureError(f"cannot capture {url} ({input_format}): {exc}") from exc
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def read_frame(self) -> VideoFrame | None:
        """The latest grabbed frame (None before the first): a ``VideoSource``."""
        return self.latest

    def wait_first(self, timeout: float) -> bool:
        """Block until a frame was grabbed (for callers off the loop, e.g. tests)."""
        return self._first.wait(timeout)

    def _run(self) -> None:
        container = self._container
        try:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                for frame in packet.decode():
                    i420 = frame.reformat(width=self.width, height=self.height,
                                          format="yuv420p")
                    self.latest = VideoFrame(np.asarray(i420.to_ndarray(), dtype=np.uint8))
                    self.grabbed += 1
                    self._first.set()
                if self._stopping.is_set() or (self._stop_when is not None
                                               and self._stop_when()):
                    break
        except Exception as exc:  # a vanished device ends the grab, not the call
            self.error = exc
            logger.info("capture of %s ended: %s", self.url, exc)
        finally:
            container.close()

    def close(self, timeout: float = 2.0) -> None:
        """Stop grabbing and wait for the thread (idempotent)."""
        self._stopping.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


def open_camera(device: CaptureDevice, *, width: int, height: int, frame_rate: int,
                stop_when: Callable[[], bool] | None = None) -> GrabbedSource:
    """Grab ``device`` at ``width`` x ``height`` (asked of the driver, then scaled) and
    ``frame_rate``.

    Raises:
        CaptureError: the device cannot be opened (or this FFmpeg has no V4L2 input).
    """
    if not os.path.exists(device.path):
        raise CaptureError(f"{device.path} does not exist")
    return GrabbedSource(device.path, "video4linux2",
                         {"video_size": f"{width}x{height}", "framerate": str(frame_rate)},
                         width=width, height=height, stop_when=stop_when,
                         name=f"camera {device.path}")


__all__ = ["CaptureDevice", "CaptureError", "GrabbedSource", "list_capture_devices",
           "open_camera"]
