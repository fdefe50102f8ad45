"""Video for ``voipkit agent``: the ``--video``, ``--video-codecs``, ``--video-size`` and
``--record-video`` options.

Knows: the agent's parsed arguments and the public API's video (``Phone.video``,
``Call.video``, ``VideoFileSink``). Must not know: anything below ``api`` (the agent is
an application of the public API).

With ``--video`` the agent's calls and answers carry video (the phone's virtual camera,
the moving test pattern); ``--record-video FILE`` writes each call's received video to
FILE (.mp4, .mkv, .avi or .y4m; later calls add ``-ID`` before the extension), closed
when the call ends.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voipkit.api import Call, CallEnded, Phone
from voipkit.api.errors import ConfigurationError
from voipkit.api.video import VideoFileSink, VideoSettings

__all__ = ["VideoOptions", "add_options", "attach", "options", "setup"]

_EXTENSIONS = (".mp4", ".mkv", ".avi", ".y4m")


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """The agent's video settings (all off by default)."""

    enabled: bool = False
    codecs: tuple[str, ...] = ()
    size: tuple[int, int] | None = None
    record: str | None = None


def add_options(add: Callable[..., Any]) -> None:
    """Add the video options to the agent's parser (``add`` is ``add_argument``)."""
    add("--video", action="store_true",
        help="calls and answers carry video (the test-pattern virtual camera)")
    add("--video-codecs", metavar="LIST", help="comma list of video codecs: H264,VP8")
    add("--video-size", metavar="WxH", help="size of the video we send (default 640x480)")
    add("--record-video", metavar="FILE",
        help="write received video to FILE (.mp4/.mkv/.avi/.y4m); later calls add -ID")


def options(args: argparse.Namespace) -> VideoOptions:
    """The checked video options.

    Raises:
        ConfigurationError: a bad codec list, size or file name.
    """
    codecs: tuple[str, ...] = ()
    if args.video_codecs is not None:
        codecs = tuple(c.strip().upper() for c in args.video_codecs.split(",") if c.strip())
        unknown = [c for c in codecs if c not in ("H264", "VP8")]
        if not codecs or unknown:
            raise ConfigurationError(f"--video-codecs {args.video_codecs!r}: give a comma "
                                     "list of H264 and VP8")
    size = None
    if args.video_size is not None:
        width, sep, height = args.video_size.lower().partition("x")
        if not sep or not width.isdigit() or not height.isdigit():
            raise ConfigurationError(f"--video-size {args.video_size!r} is not WxH "
                                     "(e.g. 640x480)")
        size = (int(width), int(height))
        VideoSettings().set_resolution(*size)  # the phone's own checks, at parse time
    record = args.record_video
    if record is not None:
        if os.path.splitext(record)[1].lower() not in _EXTENSIONS:
            raise ConfigurationError(f"--record-video {record!r}: the file must end in one "
                                     f"of {', '.join(_EXTENSIONS)}")
        if not Path(record).parent.is_dir():
            raise ConfigurationError(f"--record-video {record!r}: directory "
                                     f"{str(Path(record).parent)!r} does not exist")
    enabled = bool(args.video) or record is not None
    return VideoOptions(enabled=enabled, codecs=codecs, size=size, record=record)


def setup(phone: Phone, video: VideoOptions) -> None:
    """Apply the (checked) options to the phone's video settings."""
    if video.codecs:
        phone.video.codecs = list(video.codecs)
    if video.size is not None:
        phone.video.set_resolution(*video.size)


def attach(call: Call, video: VideoOptions, count: int) -> bool:
    """Record ``call``'s received video when asked (``count``: recordings so far, to
    name the file). Returns whether a recording was started."""
    if video.record is None or call.video is None:
        return False
    path = video.record
    if count:
        stem, ext = os.path.splitext(path)
        path = f"{stem}-{call.id}{ext}"
    sink = VideoFileSink(path, frame_rate=call.video.session.settings.frame_rate)
    call.video.add_sink(sink)
    call.on(CallEnded)(lambda event: sink.close())
    return True
