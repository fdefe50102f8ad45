"""Recording a call with its video (startRecord with a ``videoRecordMode``).

Knows: ``Call.video`` (``api.video.CallVideo``: the frames it sends and receives),
the audio recording chain of ``api.media_files`` (``CallRecording``, which feeds the
audio legs and finalises the file on stopRecord, on hang-up and on the phone's
close), the sans-IO ``media.video_recorder.AvRecorder`` and the compositor that puts
two pictures side by side. Must not know: SIP, SDP, sockets or the facade's codes.

What goes into the video track (``video_mode``):

- ``RecordMode.SEND``: each frame the call sends (camera, pushed frames, a shared
  screen or the conference picture);
- ``RecordMode.RECV``: each frame decoded from the peer;
- ``RecordMode.BOTH``: the latest sent frame on the left and the latest received one
  on the right, on a canvas twice the call's width (``media.video.compose``, layout
  3), written whenever either side has a new frame.

Frames are stamped with the loop clock since the recording started, at the call's
video frame rate, beside the audio legs (``audio_mode``; None: no audio track). The
recording is the call's one ``CallRecording``: ``Call.stop_record``, the end of the
call and ``Phone.close`` finalise it, so a file is never left without its trailer.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from typing import TYPE_CHECKING

from voipkit.api.errors import ConfigurationError, InvalidStateError
from voipkit.api.media_files import DEFAULT_RATE, CallRecording
from voipkit.media.recorder import RecordMode
from voipkit.media.video import VideoFrame
from voipkit.media.video.compose import ConferenceLayout, VideoCompositor
from voipkit.media.video_recorder import VIDEO_CONTAINERS, AvRecorder

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.video import CallVideo

__all__ = ["VIDEO_CONTAINERS", "VideoTap", "start_video_recording"]


class VideoTap:
    """Feeds a call's sent and received frames into an ``AvRecorder``; detaches itself
    once the recorder is closed."""

    def __init__(self, video: CallVideo, recorder: AvRecorder, mode: RecordMode,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.video = video
        self.recorder = recorder
        self.mode = mode
        self._loop = loop
        self._start = loop.time()
        self._local: VideoFrame | None = None
        self._remote: VideoFrame | None = None
        self._compositor = (VideoCompositor(recorder.width, recorder.height,
                                            ConferenceLayout.LEFT_RIGHT)
                            if mode is RecordMode.BOTH else None)

    def _now(self) -> float:
        return self._loop.time() - self._start

    def attach(self) -> None:
        if self.mode is not RecordMode.RECV:
            self.video.add_sent_sink(self.sent)
        if self.mode is not RecordMode.SEND:
            self.video.add_sink(self.received)

    def detach(self) -> None:
        self.video.remove_sent_sink(self.sent)
        self.video.remove_sink(self.received)

    def sent(self, frame: VideoFrame) -> None:
        if self.recorder.closed:
            self.detach()
            return
        self._local = frame
        self._write(frame)

    def received(self, frame: VideoFrame) -> None:
        if self.recorder.closed:
            self.detach()
            return
        self._remote = frame
        self._write(frame)

    def _write(self, frame: VideoFrame) -> None:
        if self._compositor is not None:
            frame = self._compositor.compose([self._local, self._remote])
        self.recorder.write_video(frame, at=self._now())


def start_video_recording(call: Call, path: str | os.PathLike[str], *,
                          video_mode: RecordMode = RecordMode.BOTH,
                          audio_mode: RecordMode | None = RecordMode.BOTH,
                          stereo: bool = False, append_timestamp: bool = False,
                          now_datetime: datetime.datetime | None = None) -> CallRecording:
    """Record ``call``'s video (and audio) into ``path`` (``.mp4``, ``.mkv``, ``.avi``).

    Returns the call's ``CallRecording`` (``stop()`` or ``call.stop_record()``
    finalises the file).

    Raises:
        InvalidStateError: the call has no video (or no audio).
        ConfigurationError: ``path`` is not .mp4, .mkv or .avi.
        MediaFileError: the file cannot be created.
    """
    video = call.video
    if video is None or video.session.closed:
        raise InvalidStateError(f"call {call.id} has no video to record")
    audio = call.audio
    if audio is None or audio.closed:
        raise InvalidStateError(f"call {call.id} has no audio ({call.state.value})")
    if os.path.splitext(os.fspath(path))[1].lower() not in VIDEO_CONTAINERS:
        raise ConfigurationError(f"{os.fspath(path)!r}: a video recording is .mp4, .mkv "
                                 "or .avi")
    settings = video.session.settings
    width = settings.width * (2 if video_mode is RecordMode.BOTH else 1)
    stream = audio.stream
    rate = stream.config.codec.sample_rate if stream is not None else DEFAULT_RATE
    if append_timestamp and now_datetime is None:
        now_datetime = datetime.datetime.now()
    recorder = AvRecorder(path, width=width, height=settings.height,
                          frame_rate=settings.frame_rate, audio_mode=audio_mode,
                          stereo=stereo, sample_rate=rate,
                          append_timestamp=append_timestamp, timestamp=now_datetime)
    try:
        recording = CallRecording.start(call, recorder.path,
                                        recorder=recorder)  # type: ignore[arg-type]
    except BaseException:
        recorder.close()
        raise
    VideoTap(video, recorder, RecordMode(video_mode), call._phone.loop).attach()
    return recording
