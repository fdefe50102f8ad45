"""Call recording and file playback for calls and for the local device.

Knows: ``Call`` (its ``audio`` session, bus and events), the public surface of
``aio.media_session.AudioSession`` (``source``/``set_source``, ``sinks``,
``stream``, ``mute_outgoing``), ``aio.audio_device.default_audio_device``, and
the sans-IO ``media.recorder.Recorder`` and ``media.player.FilePlayer``. Must
not know: SIP, SDP or sockets.

PortSIP names (the manual): ``startRecord``/``stopRecord`` are
``CallRecording.start``/``stop``; ``startPlayingFileToRemote``/
``stopPlayingFileToRemote`` are ``play_to_remote``/``stop_playing`` (the
``playAudio`` argument is ``PlayMode``); ``startPlayingFileLocally``/
``stopPlayingFileLocally`` are ``play_locally``/``stop_playing_locally``;
``onPlayFileFinished`` is the ``PlaybackFinished`` event, emitted once per
playback.

How a call's audio is tapped. The first feature used on a call installs a
``CallMedia`` chain: the session's current source becomes the chain's *base*
(the microphone, a tone ...), and the session is given the chain's source and
one extra sink. Every tick the session reads the chain source once and then
writes the received frame to every sink once, so the chain sees, in that
order, what is sent and what was received in the same tick:

    sent = base (or the conference's mix for this call, ``api.conference``)
           -> file playback (replace or mix, ``mix_into``)
           -> recording tee (local leg; silence while ``mute_outgoing``)
    received -> recording (remote leg, paired with this tick's local frame)
             -> conference bridge (``api.conference``)

When no feature is left the base source is given back to the session and the
sink removed, so the call's audio is exactly as before. Replacing the source by
hand (``call.audio.set_source``) while a feature runs takes the chain out; the
next feature started puts it back around the new source.

Finalising. A recording is closed on ``stop()``, when its call ends
(``CallEnded``), by ``close_phone_media(phone)`` (for ``Phone.close``), and,
as a last resort, at interpreter exit (``weakref.finalize``), so a compressed
file always gets its encoder flush and trailer.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from voipkit.aio.audio_device import AudioDevice, default_audio_device
from voipkit.aio.media_session import AudioSession
from voipkit.api import devices
from voipkit.api.errors import InvalidStateError
from voipkit.api.events import CallEnded, PlaybackFinished
from voipkit.media.frames import Pcm, silence
from voipkit.media.player import FilePlayer, MediaFileError, PlayMode, mix_into
from voipkit.media.ports import MediaSink, MediaSource, SilenceSource, WavFileSource
from voipkit.media.recorder import Recorder, RecordMode

if TYPE_CHECKING:
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)

DEFAULT_RATE = 8000
"""The file rate of a recording started before the call's codec is known."""

LOCAL_RATE = 16000
"""The rate local playback is read at (the device resamples if it must)."""


class _ChainSource:
    """The call's capture source while a ``CallMedia`` chain is installed."""

    def __init__(self, media: CallMedia) -> None:
        self._media = media

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        return self._media._read(samples, sample_rate)


class _ChainSink:
    """The call's extra playout sink while a ``CallMedia`` chain is installed."""

    def __init__(self, media: CallMedia) -> None:
        self._media = media

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        self._media._received(frame, sample_rate)


class RemotePlayback:
    """A file being played into a call (``play_to_remote``).

    Attributes:
        path: the file.
        mode: ``PlayMode.REPLACE`` or ``PlayMode.MIX``.
        done: resolves True when the file played to its end, False when it was
            stopped, replaced, or the call ended first.
    """

    def __init__(self, call: Call, player: FilePlayer, mode: PlayMode,
                 done: asyncio.Future[bool]) -> None:
        self.call = call
        self.player = player
        self.path = player.path
        self.mode = mode
        self.done = done


class CallMedia:
    """The recording/playback/conference chain around one call's audio session.

    Obtain with ``CallMedia.of(call)``; features attach by setting
    ``playback``, ``recording`` or ``conference`` and calling ``release_if_idle``
    when they detach. Runs on the phone's loop only.
    """

    _chains: ClassVar[weakref.WeakKeyDictionary[Call, CallMedia]] = weakref.WeakKeyDictionary()

    def __init__(self, call: Call, audio: AudioSession) -> None:
        self.call = call
        self.audio = audio
        self.base: MediaSource = audio.source
        self.playback: RemotePlayback | None = None
        self.recording: CallRecording | None = None
        self.conference: Any = None
        "A ``MemberPort`` (source and sink) while the call is in a conference."
        self.source = _ChainSource(self)
        self.sink = _ChainSink(self)
        audio.set_source(self.source, keep_playback=True)  # a file it plays goes on
        audio.sinks.append(self.sink)
        self._ended_handler = self._on_ended  # one bound method, so bus.off finds it
        call.bus.on(CallEnded)(self._ended_handler)

    @classmethod
    def of(cls, call: Call) -> CallMedia:
        """The call's chain, installed (again) around its current source if need be.

        Raises:
            InvalidStateError: the call has no audio session (ended, or not answered).
        """
        audio = call.audio
        if audio is None or audio.closed:
            raise InvalidStateError(
                f"call {call.id} has no audio ({call.state.value})")
        media = cls._chains.get(call)
        if media is not None and media.audio is not audio:
            media._detach()
            media = None
        if media is None:
            media = cls._chains[call] = CallMedia(call, audio)
        elif audio.source is not media.source:
            media.base = audio.source  # replaced by hand: wrap the new source
            audio.set_source(media.source, keep_playback=True)
        if media.sink not in audio.sinks:
            audio.sinks.append(media.sink)
        return media

    @classmethod
    def existing(cls, call: Call) -> CallMedia | None:
        return cls._chains.get(call)

    # -- the tick ---------------------------------------------------------------------------

    def _read(self, samples: int, rate: int) -> Pcm:
        base = self.base
        if isinstance(base, WavFileSource) and base.finished:
            # a file the session played (``Call.play``) ended: the microphone again
            base = self.base = self.audio.microphone_source
        origin = self.conference if self.conference is not None else base
        frame = origin.read_frame(samples, rate)
        playback = self.playback
        if playback is not None:
            frame = mix_into(frame, playback.player.read_frame(samples, rate), playback.mode)
            if playback.player.finished:
                self.end_playback(completed=True)
        recording = self.recording
        if recording is not None:
            recording._local(silence(samples) if self.audio.mute_outgoing else frame, rate)
        return frame

    def _received(self, frame: Pcm, rate: int) -> None:
        recording = self.recording
        if recording is not None:
            recording._remote(frame, rate)
        conference = self.conference
        if conference is not None:
            conference.write_frame(frame, rate)

    # -- features ------------------------------------------------------------------------------

    def end_playback(self, *, completed: bool) -> None:
        """End the current playback, resolve its future and emit ``PlaybackFinished`` once."""
        playback = self.playback
        if playback is None:
            return
        self.playback = None
        playback.player.close()
        if not playback.done.done():
            playback.done.set_result(completed)
        self.call.bus.emit(PlaybackFinished(self.call, playback.path, completed))

    def release_if_idle(self) -> None:
        """Give the session its base source back when no feature is left."""
        if self.playback is None and self.recording is None and self.conference is None:
            self._detach()

    def _detach(self) -> None:
        if self.audio.source is self.source and not self.audio.closed:
            self.audio.set_source(self.base)
        if self.sink in self.audio.sinks:
            self.audio.sinks.remove(self.sink)
        self.call.bus.off(self._ended_handler)
        if CallMedia._chains.get(self.call) is self:
            del CallMedia._chains[self.call]

    def _on_ended(self, event: CallEnded) -> None:
        if self.recording is not None:
            self.recording.stop()
        self.end_playback(completed=False)
        self._detach()


# --- recording ---------------------------------------------------------------------------


class CallRecording:
    """Records both directions of a call into one file (startRecord / stopRecord).

    The local leg is what the call sends (taken from the chain's source, after
    any playback or conference mix), the remote leg what it received (after the
    jitter buffer, silence while ``mute_incoming``). Both legs of one tick are
    written together, so they stay aligned for the whole call and the file is
    exactly as long as the ticks recorded.

    Use ``CallRecording.start(call, path, ...)``; one recording per call (a new
    one finalises the previous).

    Attributes:
        path: the final file name (with the timestamp, if asked for).
        recorder: the ``media.recorder.Recorder`` writing the file.
    """

    _active: ClassVar[weakref.WeakKeyDictionary[Call, CallRecording]] = weakref.WeakKeyDictionary()

    def __init__(self, call: Call, recorder: Recorder) -> None:
        self.call = call
        self.recorder = recorder
        self.path = recorder.path
        self._pending: tuple[Pcm, int] | None = None
        self._finalizer = weakref.finalize(self, recorder.close)

    @classmethod
    def start(
        cls,
        call: Call,
        path: str | os.PathLike[str],
        *,
        mode: RecordMode = RecordMode.BOTH,
        stereo: bool = False,
        append_timestamp: bool = False,
        now_datetime: datetime.datetime | None = None,
        sample_rate: int | None = None,
        bit_rate: int | None = None,
        recorder: Recorder | None = None,
    ) -> CallRecording:
        """Start recording ``call`` to ``path`` (the extension picks the container).

        Args:
            mode: which legs (``RecordMode.SEND``, ``RECV`` or ``BOTH``).
            stereo: local party left, remote party right.
            append_timestamp: insert ``_YYYYMMDD-HHMMSS`` before the extension.
            now_datetime: the time for that stamp (default: local time now).
            sample_rate: the file's rate (default: the call codec's rate).
            bit_rate: encoder bit rate for compressed containers.
            recorder: a recorder already opened on ``path`` (the other options then
                do not apply): ``api.video_recording`` passes one that also writes video.

        Raises:
            InvalidStateError: the call has no audio (ended, or not answered yet).
            MediaFileError: the format is unsupported or the file cannot be created.
        """
        media = CallMedia.of(call)
        if sample_rate is None:
            stream = media.audio.stream
            sample_rate = stream.config.codec.sample_rate if stream is not None else DEFAULT_RATE
        if append_timestamp and now_datetime is None:
            now_datetime = datetime.datetime.now()
        try:
            if recorder is None:
                recorder = Recorder(path, mode=mode, stereo=stereo, sample_rate=sample_rate,
                                    append_timestamp=append_timestamp,
                                    timestamp=now_datetime, bit_rate=bit_rate)
        except MediaFileError:
            media.release_if_idle()
            raise
        previous = media.recording
        if previous is not None:
            previous.stop()
            media = CallMedia.of(call)
        recording = cls(call, recorder)
        media.recording = recording
        cls._active[call] = recording
        return recording

    @property
    def active(self) -> bool:
        return not self.recorder.closed

    @property
    def seconds(self) -> float:
        """The length recorded so far."""
        return self.recorder.seconds

    def _local(self, frame: Pcm, rate: int) -> None:
        if self._pending is not None:  # no received frame came with the last one
            self._write(self._pending[0], None, self._pending[1])
        self._pending = (frame, rate)

    def _remote(self, frame: Pcm, rate: int) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and pending[1] == rate:
            self._write(pending[0], frame, rate)
            return
        if pending is not None:
            self._write(pending[0], None, pending[1])
        self._write(None, frame, rate)

    def _write(self, local: Pcm | None, remote: Pcm | None, rate: int) -> None:
        if self.recorder.closed:
            return
        try:
            self.recorder.write(local, remote, sample_rate=rate)
        except Exception:  # a full disk must not break the call's media tick
            logger.exception("recording %s failed; it is closed", self.path)
            self._close()

    def stop(self) -> str:
        """Finalise the file (idempotent); returns its path."""
        if self._pending is not None and not self.recorder.closed:
            pending, self._pending = self._pending, None
            self._write(pending[0], None, pending[1])
        self._close()
        media = CallMedia.existing(self.call)
        if media is not None and media.recording is self:
            media.recording = None
            media.release_if_idle()
        if CallRecording._active.get(self.call) is self:
            del CallRecording._active[self.call]
        return self.path

    def _close(self) -> None:
        try:
            self.recorder.close()
        finally:
            self._finalizer.detach()

    @classmethod
    def of(cls, call: Call) -> CallRecording | None:
        """The call's running recording, if any."""
        return cls._active.get(call)


def start_recording(call: Call, path: str | os.PathLike[str], **options: Any) -> CallRecording:
    """``CallRecording.start(call, path, **options)`` (startRecord)."""
    return CallRecording.start(call, path, **options)


def stop_recording(call: Call) -> str | None:
    """Finalise the call's recording (stopRecord); returns its path, None if none ran."""
    recording = CallRecording.of(call)
    return recording.stop() if recording is not None else None


# --- playback to the remote party ------------------------------------------------------------


def play_to_remote(
    call: Call,
    path: str | os.PathLike[str],
    *,
    loop: bool = False,
    mode: PlayMode = PlayMode.REPLACE,
) -> RemotePlayback:
    """Play an audio file to the peer (startPlayingFileToRemote).

    Any file PyAV reads (WAV, MP3, M4A, Ogg/Opus, FLAC ...) is decoded and
    resampled to the call's rate; ``mode`` replaces the microphone with it or
    mixes it in. ``PlaybackFinished`` is emitted on the call once, when the
    file ends (``completed=True``), or when it is stopped, replaced or the call
    ends (``completed=False``). A looping file ends only then.

    Raises:
        InvalidStateError: the call has no audio.
        MediaFileError: the file is missing, not media, or has no audio.
        ValueError: ``mode`` is ``PlayMode.NONE`` (nothing would be played).
    """
    play = PlayMode(mode)
    if play is PlayMode.NONE:
        raise ValueError("PlayMode.NONE plays nothing; use REPLACE or MIX")
    audio = call.audio
    if audio is None or audio.closed:
        raise InvalidStateError(f"call {call.id} has no audio ({call.state.value})")
    stream = audio.stream
    rate = stream.config.codec.sample_rate if stream is not None else DEFAULT_RATE
    player = FilePlayer(path, sample_rate=rate, loop=loop)
    media = CallMedia.of(call)
    media.end_playback(completed=False)
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    playback = RemotePlayback(call, player, play, done)
    media.playback = playback
    return playback


def stop_playing(call: Call) -> bool:
    """Stop the file playing to the peer (stopPlayingFileToRemote); False if none played."""
    media = CallMedia.existing(call)
    if media is None or media.playback is None:
        return False
    media.end_playback(completed=False)
    media.release_if_idle()
    return True


# --- playback on the local device ---------------------------------------------------------------


class LocalPlayback:
    """A file played on the phone's local audio device (startPlayingFileLocally).

    Attributes:
        path: the file.
        device: the audio device playing it (the virtual device without a card).
        done: resolves True when the file played to its end, False when stopped.
    """

    _active: ClassVar[weakref.WeakKeyDictionary[Phone, LocalPlayback]] = weakref.WeakKeyDictionary()

    def __init__(self, phone: Phone, player: FilePlayer, device: AudioDevice,
                 done: asyncio.Future[bool]) -> None:
        self.phone = phone
        self.player = player
        self.path = player.path
        self.device = device
        self.done = done

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        frame = self.player.read_frame(samples, sample_rate)
        if self.player.finished and not self.done.done():
            # stop after this tick has been written out, outside the device's callback
            self.phone.loop.call_soon(self.stop, True)
        return frame

    def stop(self, completed: bool = False) -> None:
        """Stop the device and release the file (idempotent)."""
        self.device.stop()
        self.player.close()
        if not self.done.done():
            self.done.set_result(completed)
        if LocalPlayback._active.get(self.phone) is self:
            del LocalPlayback._active[self.phone]


def play_locally(
    phone: Phone,
    path: str | os.PathLike[str],
    *,
    loop: bool = False,
    playout: MediaSink | None = None,
) -> LocalPlayback:
    """Play an audio file on the local device (startPlayingFileLocally).

    The device is ``default_audio_device``: the sound card when PortAudio
    offers one, else the clock-paced virtual device, whose speaker is
    ``playout`` (a ``NullSink`` by default; pass a recorder or any
    ``MediaSink`` to capture what is played). A file already playing locally is
    stopped first.

    Raises:
        InvalidStateError: the phone is not started.
        MediaFileError: the file is missing, not media, or has no audio.
    """
    running = phone.loop
    player = FilePlayer(path, sample_rate=LOCAL_RATE, loop=loop)
    stop_playing_locally(phone)
    done: asyncio.Future[bool] = running.create_future()
    device = default_audio_device(running, ptime=phone.config.media.ptime,
                                  sample_rate=LOCAL_RATE, capture=SilenceSource(),
                                  playout=playout)
    playback = LocalPlayback(phone, player, device, done)
    device.playout_source = playback
    LocalPlayback._active[phone] = playback
    device.start()
    return playback


def stop_playing_locally(phone: Phone) -> bool:
    """Stop local playback (stopPlayingFileLocally); False if nothing was playing."""
    playback = LocalPlayback._active.get(phone)
    if playback is None:
        return False
    playback.stop(False)
    return True


# --- shutdown ------------------------------------------------------------------------------------


def close_phone_media(phone: Phone) -> None:
    """Finalise every recording and stop every playback of ``phone`` (for ``Phone.close``).

    Safe to call more than once; each step runs even if an earlier one fails.
    """
    for call, recording in list(CallRecording._active.items()):
        if call._phone is phone:
            try:
                recording.stop()
            except Exception:
                logger.exception("finalising %s failed", recording.path)
    for call, media in list(CallMedia._chains.items()):
        if call._phone is phone:
            media.end_playback(completed=False)
    stop_playing_locally(phone)
    devices.stop_loopback_test(phone)


__all__ = [
    "CallMedia",
    "CallRecording",
    "LocalPlayback",
    "MediaFileError",
    "PlayMode",
    "RecordMode",
    "RemotePlayback",
    "close_phone_media",
    "play_locally",
    "play_to_remote",
    "start_recording",
    "stop_playing",
    "stop_playing_locally",
    "stop_recording",
]
