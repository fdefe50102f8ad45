"""The manual's record and play-file functions where video is involved: ``startRecord``
with a ``videoRecordMode``, ``startPlayingFileToRemote`` of a file with a picture,
``startPlayingFileLocally`` with a ``playVideoWindow``, and their stop functions.

Knows: ``voipkit.api.video_recording`` and ``voipkit.api.video_playback``, the vendor
enums, and that ``AudioFunctions`` (compat/portsip/audio.py) handles the audio-only
cases: ``VideoFileFunctions`` comes before it among ``PortSIPLib``'s bases and hands
those to it with ``super()``. Must not know: anything below ``api``.

startRecord. With ``videoRecordMode`` RECORD_SEND, RECORD_RECV or RECORD_BOTH (sent
on the left, received on the right) the call's video goes into the file, and the
audio as ``audioRecordMode`` says (RECORD_NONE: a file without sound).
``recordFileFormat`` must be FILEFORMAT_MP4; the extension picks the container:
``.mp4`` (the default) or ``.mkv`` (H.264 and AAC) or ``.avi`` (MPEG-4 Part 2 and
PCM). ``stopRecord``, the hang-up and ``unInitialize`` finalise the file.

startPlayingFileToRemote. For a file with a video track and a call with video, the
picture replaces the camera and ``playAudio`` decides the sound: 0 none, 1 replace the
microphone, 2 mix with it. onPlayFileFinished(sessionId, fileName) follows once it
has played (not with ``loop``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voipkit.api import Call, Phone
from voipkit.api.errors import InvalidStateError
from voipkit.api.media_files import PlayMode, RecordMode
from voipkit.api.video import VideoFrame
from voipkit.api.video_playback import (
    LocalVideoPlayback,
    has_audio,
    has_video,
    play_file_to_remote,
    stop_file_playback,
    stop_local_video,
)
from voipkit.api.video_recording import VIDEO_CONTAINERS, start_video_recording
from voipkit.compat.portsip.codes import ErrorCode
from voipkit.compat.portsip.enums import FILE_FORMAT, RECORD_MODE

logger = logging.getLogger(__name__)

_MODES = {RECORD_MODE.RECORD_RECV: RecordMode.RECV, RECORD_MODE.RECORD_SEND: RecordMode.SEND,
          RECORD_MODE.RECORD_BOTH: RecordMode.BOTH}


class VideoFileFunctions:
    """startRecord / startPlayingFileToRemote / stopPlayingFileToRemote with video,
    mixed into ``PortSIPLib`` before ``AudioFunctions``."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        def _with_call(self, session_id: int, action: Callable[[Call], Any]) -> int: ...
        def _on_phone(self, action: Callable[[Phone], object]) -> int: ...
        def _post(self, callback: Callable[..., Any], *args: Any) -> None: ...
        def _window_sink(self, window: Callable[[VideoFrame], object]
                         ) -> Callable[[VideoFrame], None]: ...

    def startRecord(self, sessionId: int, recordFilePath: str, recordFileName: str,
                    appendTimestamp: bool, channels: int, recordFileFormat: int,
                    audioRecordMode: int, videoRecordMode: int) -> int:
        """Record the call into ``recordFilePath/recordFileName``: audio only as
        before (compat/portsip/audio.py), or with its video when ``videoRecordMode``
        is not RECORD_NONE (FILEFORMAT_MP4: ``.mp4``, ``.mkv`` or ``.avi``)."""
        parent: Any = super()
        if videoRecordMode not in _MODES or isinstance(videoRecordMode, bool):
            # RECORD_NONE (audio only) and values that are no mode: audio.py decides
            return int(parent.startRecord(sessionId, recordFilePath, recordFileName,
                                          appendTimestamp, channels, recordFileFormat,
                                          audioRecordMode, videoRecordMode))
        video = RECORD_MODE(videoRecordMode)
        path = _video_record_path(recordFilePath, recordFileName, recordFileFormat)
        if path is None:
            return ErrorCode.INVALID_ARGUMENT
        if channels not in (1, 2) or isinstance(channels, bool):
            logger.info("startRecord: channels %r is not 1 (mono) or 2 (stereo)", channels)
            return ErrorCode.INVALID_ARGUMENT
        try:
            audio = RECORD_MODE(audioRecordMode)
        except ValueError:
            logger.info("startRecord: audioRecordMode %r is not a RECORD_MODE", audioRecordMode)
            return ErrorCode.INVALID_ARGUMENT
        return self._with_call(sessionId, lambda call: start_video_recording(
            call, path, video_mode=_MODES[video], audio_mode=_MODES.get(audio),
            stereo=channels == 2, append_timestamp=bool(appendTimestamp)))

    def startPlayingFileToRemote(self, sessionId: int, fileName: str, loop: bool,
                                 playAudio: int) -> int:
        """Play a file to the peer: a video file's picture replaces the camera (calls
        with video) and ``playAudio`` 0/1/2 leaves out, plays or mixes its sound; audio
        files play as before (compat/portsip/audio.py)."""
        parent: Any = super()
        if isinstance(playAudio, bool) or playAudio not in (0, 1, 2):
            logger.info("startPlayingFileToRemote: playAudio %r is not 0, 1 or 2", playAudio)
            return ErrorCode.INVALID_ARGUMENT
        if not isinstance(fileName, str | os.PathLike) or not has_video(fileName):
            return int(parent.startPlayingFileToRemote(sessionId, fileName, loop, playAudio))
        return self._with_call(sessionId, lambda call: play_file_to_remote(
            call, fileName, loop=bool(loop), audio=PlayMode(playAudio)))

    def startPlayingFileLocally(self, fileUrl: str, loop: bool, playVideoWindow: Any) -> int:
        """Play a file locally: a video file's picture in ``playVideoWindow`` (a frame
        sink, called on the callback thread) and its sound on the local device; audio
        files (or no window) play as before (compat/portsip/audio.py)."""
        parent: Any = super()
        if not callable(playVideoWindow) or not isinstance(fileUrl, str | os.PathLike) \
                or not has_video(fileUrl):
            window = playVideoWindow if not callable(playVideoWindow) else None
            return int(parent.startPlayingFileLocally(fileUrl, loop, window))
        target: Callable[[VideoFrame], object] = playVideoWindow

        def start(phone: Phone) -> None:
            LocalVideoPlayback.start(phone, fileUrl, self._window_sink(target),
                                     loop=bool(loop))
            phone.stop_playing_locally()
            if has_audio(fileUrl):
                phone.play_locally(fileUrl, loop=bool(loop))
        return self._on_phone(start)

    def stopPlayingFileLocally(self) -> int:
        """Stop local playback, picture and sound (INVALID_STATE when nothing plays)."""
        return self._on_phone(_stop_locally)

    def stopPlayingFileToRemote(self, sessionId: int) -> int:
        """Stop the file playing to the peer, picture and sound (INVALID_STATE when
        none plays)."""
        return self._with_call(sessionId, _stop)


def _stop(call: Call) -> None:
    if not stop_file_playback(call):
        raise InvalidStateError(f"no file is playing to call {call.id}")


def _stop_locally(phone: Phone) -> None:
    stopped_video = stop_local_video(phone)
    if not phone.stop_playing_locally() and not stopped_video:
        raise InvalidStateError("no file is playing locally")


def _video_record_path(folder: str, name: str, file_format: int) -> str | None:
    if isinstance(file_format, bool) or file_format != FILE_FORMAT.FILEFORMAT_MP4:
        logger.info("startRecord: a video recording needs recordFileFormat FILEFORMAT_MP4 "
                    "(.mp4, .mkv or .avi), not %r", file_format)
        return None
    if not folder or not os.path.isdir(folder):
        logger.info("startRecord: recordFilePath %r is not an existing folder", folder)
        return None
    if not name or os.path.basename(name) != name or name in (".", ".."):
        logger.info("startRecord: recordFileName %r is not a plain file name", name)
        return None
    extension = os.path.splitext(name)[1].lower()
    if not extension:
        name += ".mp4"
    elif extension not in VIDEO_CONTAINERS:
        logger.info("startRecord: %r: a video recording is .mp4, .mkv or .avi", name)
        return None
    return os.path.join(folder, name)


__all__ = ["VideoFileFunctions"]
