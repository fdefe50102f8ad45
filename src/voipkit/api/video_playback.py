"""Playing a video file to the peer: its picture in the call's video, its sound in the
call's audio (startPlayingFileToRemote of an MP4).

Knows: ``Call.video`` (the session's frame source), the audio playback of
``api.media_files`` (``play_to_remote``, ``stop_playing``, ``PlaybackFinished``) and
the sans-IO ``media.video_file.VideoFileSource``. Must not know: SIP, SDP, sockets or
the facade's codes.

The file's picture replaces the call's camera at the call's frame rate and size
(frames repeated or skipped to keep the file's own speed); its audio, when the file
has some and ``audio`` is not ``PlayMode.NONE``, replaces (``REPLACE``) or is mixed
with (``MIX``) the microphone exactly as an audio file would be. When the picture
ends (never with ``loop``), the camera comes back; ``PlaybackFinished`` is emitted
once for the playback - by the audio playback when there is one, else here (with
``completed`` False when it was stopped or the call ended first).
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from voipkit.aio.media_clock import MediaClock
from voipkit.aio.video_session import VideoSource
from voipkit.api import media_files
from voipkit.api.errors import InvalidStateError
from voipkit.api.events import CallEnded, PlaybackFinished
from voipkit.media.player import MediaFileError, PlayMode
from voipkit.media.video import VideoFrame
from voipkit.media.video_file import VideoFileSource, has_audio, has_video, video_size

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

__all__ = ["LocalVideoPlayback", "VideoPlayback", "has_audio", "has_video", "play_file_to_remote",
           "stop_file_playback", "stop_local_video"]


class VideoPlayback:
    """A video file's picture being sent in a call (one per call).

    Attributes:
        call, path: the call and the file.
        source: the ``VideoFileSource``.
        with_audio: the file's sound plays too (``api.media_files``).
    """

    _active: ClassVar[weakref.WeakKeyDictionary[Call, VideoPlayback]] = \
        weakref.WeakKeyDictionary()

    def __init__(self, call: Call, source: VideoFileSource, previous: VideoSource,
                 with_audio: bool) -> None:
        self.call = call
        self.path = source.path
        self.source = source
        self.with_audio = with_audio
        self._previous = previous
        self._ended_handler = self._on_ended
        self.done = False

    def read_frame(self) -> VideoFrame | None:
        """The session's source while playing: the file's next picture."""
        frame = self.source.read_frame()
        if self.source.finished and not self.done:
            self.call._phone.loop.call_soon(self.stop, True)
        return frame

    @classmethod
    def of(cls, call: Call) -> VideoPlayback | None:
        return cls._active.get(call)

    def stop(self, completed: bool = False) -> None:
        """Give the call its camera back (idempotent); emits ``PlaybackFinished`` when
        the file has no audio playing."""
        if self.done:
            return
        self.done = True
        if VideoPlayback._active.get(self.call) is self:
            del VideoPlayback._active[self.call]
        self.call.bus.off(self._ended_handler)
        self.source.close()
        video = self.call.video
        if video is not None and video.session.source is self:
            video.session.source = self._previous
        if not self.with_audio:
            self.call.bus.emit(PlaybackFinished(self.call, self.path, completed))

    def _on_ended(self, event: CallEnded) -> None:
        self.stop(False)


def play_file_to_remote(call: Call, path: str | os.PathLike[str], *, loop: bool = False,
                        audio: PlayMode = PlayMode.REPLACE) -> VideoPlayback | None:
    """Play ``path`` to the peer: its picture in the call's video (when both have
    video) and its sound as ``audio`` says. Returns the video playback (None when only
    audio plays). A playback already running is stopped first.

    Raises:
        MediaFileError: the file cannot be played, or has nothing to play here.
        InvalidStateError: the call has no audio, or the file's picture is all that
            would play and the call has no video.
    """
    name = os.fspath(path)
    audio = PlayMode(audio)
    video = call.video
    with_video = video is not None and not video.session.closed and has_video(name)
    if not with_video and audio is PlayMode.NONE:
        if not has_video(name):
            raise MediaFileError(name, "has no video track (playAudio 0 plays only video)")
        raise InvalidStateError(f"call {call.id} has no video to play {name} into")
    stop_file_playback(call)
    with_audio = False
    if audio is not PlayMode.NONE:
        try:
            media_files.play_to_remote(call, name, loop=loop, mode=audio)
            with_audio = True
        except MediaFileError:
            if not with_video:
                raise
            logger.info("%s has no audio to play; its picture plays alone", name)
    if not with_video or video is None:
        return None
    session = video.session
    source = VideoFileSource(name, width=session.settings.width,
                             height=session.settings.height,
                             frame_rate=session.settings.frame_rate, loop=loop)
    playback = VideoPlayback(call, source, session.source, with_audio)
    session.source = playback
    VideoPlayback._active[call] = playback
    call.bus.on(CallEnded)(playback._ended_handler)
    return playback


def stop_file_playback(call: Call) -> bool:
    """Stop the file playing to the peer, picture and sound; False if none played."""
    playback = VideoPlayback.of(call)
    if playback is not None:
        playback.stop(False)
    stopped_audio = media_files.stop_playing(call)
    return playback is not None or stopped_audio


class LocalVideoPlayback:
    """A video file's picture shown in a local window (startPlayingFileLocally with a
    ``playVideoWindow``), at the file's size and own speed, paced by the loop at the
    phone's video frame rate. Its sound, if any, is the audio local playback's
    (``api.media_files.play_locally``).

    Attributes:
        path, window: the file and the frame sink.
        frames: pictures shown so far.
        done: resolves True when the picture played to its end, False when stopped.
    """

    _active: ClassVar[weakref.WeakKeyDictionary[Phone, LocalVideoPlayback]] = \
        weakref.WeakKeyDictionary()

    def __init__(self, phone: Phone, source: VideoFileSource,
                 window: Callable[[VideoFrame], object]) -> None:
        self.phone = phone
        self.path = source.path
        self.source = source
        self.window = window
        self.frames = 0
        self.done: asyncio.Future[bool] = phone.loop.create_future()
        self._clock = MediaClock(phone.loop, 1.0 / source.frame_rate, self._tick)

    @classmethod
    def start(cls, phone: Phone, path: str | os.PathLike[str],
              window: Callable[[VideoFrame], object], *, loop: bool = False
              ) -> LocalVideoPlayback:
        """Show ``path``'s picture in ``window`` (a running local video is stopped).

        Raises:
            MediaFileError: the file has no video track that decodes.
        """
        name = os.fspath(path)
        size = video_size(name)
        if size is None:
            raise MediaFileError(name, "has no video track to show")
        source = VideoFileSource(name, width=size[0], height=size[1],
                                 frame_rate=phone.video.frame_rate, loop=loop)
        stop_local_video(phone)
        playback = cls(phone, source, window)
        cls._active[phone] = playback
        playback._clock.start()
        return playback

    @classmethod
    def of(cls, phone: Phone) -> LocalVideoPlayback | None:
        return cls._active.get(phone)

    def _tick(self, now: float) -> None:
        if self.phone._closed:
            self.stop(False)
            return
        frame = self.source.read_frame()
        if frame is not None:
            self.frames += 1
            try:
                self.window(frame)
            except Exception:
                logger.exception("local video window failed")
        if self.source.finished:
            self.stop(True)

    def stop(self, completed: bool = False) -> None:
        """Stop showing and release the file (idempotent)."""
        self._clock.stop()
        self.source.close()
        if not self.done.done():
            self.done.set_result(completed)
        if LocalVideoPlayback._active.get(self.phone) is self:
            del LocalVideoPlayback._active[self.phone]


def stop_local_video(phone: Phone) -> bool:
    """Stop the phone's local video playback; False if none ran."""
    playback = LocalVideoPlayback.of(phone)
    if playback is None:
        return False
    playback.stop(False)
    return True
