"""Call recording with video: one MP4, MKV or AVI file holding a video track and,
optionally, the call's audio.

Knows: the PortSIP ``startRecord`` model for video (``videoRecordMode``: what we send,
what we receive, or both side by side, beside ``audioRecordMode`` for the audio), the
audio half of ``media.recorder.Recorder`` (the same ``write(local, remote)`` per
ptime, mono mix or stereo local-left / remote-right, so ``api.media_files`` drives
either), and how PyAV writes the containers: H.264 (libx264, ultrafast) with AAC in
``.mp4`` and ``.mkv``; MPEG-4 Part 2 with 16-bit PCM in ``.avi``.
Must not know: calls, RTP, sockets, threads or the clock: the caller passes each
video frame's time (``at``, seconds since the recording started) and writes one audio
frame per ptime.

Timing. Audio timestamps count samples from the first write; a video frame's
timestamp is ``round(at * frame_rate)`` in units of one frame, so the file is
constant frame rate (AVI needs that); a second frame in the same slot is dropped
(``dropped``) and a frame of another size is scaled to the recording's size.

Finalising: ``close()`` flushes both encoders and writes the trailer (MP4's index is
at the end: a file not closed is not playable, so the owner closes on stop, hang-up
and shutdown, as for audio recordings). Idempotent.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.stream import VideoStream

from voipkit.media.frames import Pcm, StreamingResampler, mix, silence
from voipkit.media.player import MediaFileError
from voipkit.media.recorder import RecordMode, timestamped_path
from voipkit.media.video.frames import VideoFrame

__all__ = ["VIDEO_CONTAINERS", "AvRecorder", "VideoContainerSpec"]


@dataclass(frozen=True, slots=True)
class VideoContainerSpec:
    """How one file extension is written: the muxer, the video and the audio encoder."""

    format: str
    video_codec: str
    audio_codec: str


VIDEO_CONTAINERS: dict[str, VideoContainerSpec] = {
    ".mp4": VideoContainerSpec("mp4", "libx264", "aac"),
    ".mkv": VideoContainerSpec("matroska", "libx264", "aac"),
    ".avi": VideoContainerSpec("avi", "mpeg4", "pcm_s16le"),
}


class AvRecorder:
    """Records a call's video (and audio) into one container.

    Args:
        path: the file (replaced if it exists); its extension picks the container.
        width, height: the video track's size (even).
        frame_rate: the video track's frame rate.
        audio_mode: which audio legs (``RecordMode``), or None for no audio track.
        stereo: two audio channels, local left and remote right.
        sample_rate: the audio track's rate (and, by default, of the frames written).
        append_timestamp: insert ``_YYYYMMDD-HHMMSS`` of ``timestamp`` into the name.
        timestamp: the time for that name (the caller reads its clock).

    Raises:
        MediaFileError: an unsupported extension, a missing encoder, or a file that
            cannot be created.
        ValueError: bad sizes or rates, or ``append_timestamp`` without ``timestamp``.
    """

    def __init__(self, path: str | os.PathLike[str], *, width: int, height: int,
                 frame_rate: int, audio_mode: RecordMode | None = RecordMode.BOTH,
                 stereo: bool = False, sample_rate: int = 8000,
                 append_timestamp: bool = False,
                 timestamp: datetime.datetime | None = None) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"video recording needs even dimensions, not {width}x{height}")
        if not 1 <= frame_rate <= 60 or sample_rate <= 0:
            raise ValueError(f"bad rates: {frame_rate} frames/s, {sample_rate} Hz")
        if append_timestamp:
            if timestamp is None:
                raise ValueError("append_timestamp needs the timestamp to append")
            path = timestamped_path(path, timestamp)
        self.path = os.fspath(path)
        self.width, self.height, self.frame_rate = width, height, frame_rate
        self.mode = RecordMode(audio_mode) if audio_mode is not None else None
        self.stereo = stereo
        self.channels = 2 if stereo else 1
        self.sample_rate = sample_rate
        self.samples = 0
        "Audio sample frames written (per channel)."
        self.video_frames = 0
        "Video frames written."
        self.dropped = 0
        "Video frames dropped because their slot was already written."
        self.closed = False
        self._last_pts = -1
        self._audio_pts = 0
        self._resamplers: dict[tuple[int, int], StreamingResampler] = {}
        extension = Path(self.path).suffix.lower()
        spec = VIDEO_CONTAINERS.get(extension)
        if spec is None:
            raise MediaFileError(self.path, f"unsupported video recording format "
                                 f"{extension or '(none)'}; use {', '.join(VIDEO_CONTAINERS)}")
        self.container = spec.format
        try:
            self._out: OutputContainer = av.open(self.path, "w", format=spec.format)
        except (av.FFmpegError, OSError) as exc:
            raise MediaFileError(self.path, f"cannot be created ({_why(exc)})") from exc
        try:
            self._video = self._add_video(spec.video_codec)
            self._audio: AudioStream | None = None
            self._resampler: AudioResampler | None = None
            if self.mode is not None:
                self._audio, self._resampler = self._add_audio(spec.audio_codec)
            self._out.start_encoding()
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._out.close()
            raise MediaFileError(self.path, f"cannot be created ({_why(exc)})") from exc
        except BaseException:
            self._out.close()
            raise

    def _add_video(self, codec: str) -> VideoStream:
        options = {"preset": "ultrafast"} if codec == "libx264" else {}
        stream = self._out.add_stream(codec, rate=self.frame_rate, options=options)
        if not isinstance(stream, VideoStream):  # pragma: no cover - the rows are video
            raise MediaFileError(self.path, f"{codec} is not a video encoder")
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, self.frame_rate)
        return stream

    def _add_audio(self, codec: str) -> tuple[AudioStream, AudioResampler]:
        stream = self._out.add_stream(codec, rate=self.sample_rate)
        if not isinstance(stream, AudioStream):  # pragma: no cover - the rows are audio
            raise MediaFileError(self.path, f"{codec} is not an audio encoder")
        ctx = stream.codec_context
        layout = "mono" if self.channels == 1 else "stereo"
        ctx.layout = layout
        formats = [f.name for f in av.Codec(codec, "w").audio_formats or ()]
        ctx.format = "s16" if not formats or "s16" in formats else formats[0]
        ctx.open()
        resampler = AudioResampler(format=ctx.format.name, layout=layout,
                                   rate=self.sample_rate, frame_size=ctx.frame_size or None)
        return stream, resampler

    @property
    def seconds(self) -> float:
        """The length recorded so far (audio samples, or video frames without audio)."""
        if self.mode is not None:
            return self.samples / self.sample_rate
        return self.video_frames / self.frame_rate

    # -- video ------------------------------------------------------------------------------

    def write_video(self, frame: VideoFrame, *, at: float) -> bool:
        """Add ``frame`` at ``at`` seconds; False when its slot was already written
        (or the recorder is closed)."""
        if self.closed:
            return False
        pts = max(0, round(at * self.frame_rate))
        if pts <= self._last_pts:
            self.dropped += 1
            return False
        av_frame = av.VideoFrame.from_ndarray(frame.data, format="yuv420p")
        if (frame.width, frame.height) != (self.width, self.height):
            av_frame = av_frame.reformat(width=self.width, height=self.height)
        av_frame.pts = pts
        av_frame.time_base = Fraction(1, self.frame_rate)
        self._out.mux(self._video.encode(av_frame))
        self._last_pts = pts
        self.video_frames += 1
        return True

    # -- audio (the ``media.recorder.Recorder`` interface) ---------------------------------

    def _at_rate(self, frame: Pcm, rate: int, channel: int) -> Pcm:
        if rate == self.sample_rate:
            return frame
        key = (channel, rate)
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = self._resamplers[key] = StreamingResampler(rate, self.sample_rate)
        return resampler.process(frame)

    def write(self, local: Pcm | None, remote: Pcm | None, *,
              sample_rate: int | None = None) -> None:
        """Append one ptime of both audio legs (None: silence), as ``Recorder.write``;
        without an audio track this does nothing."""
        if self.closed:
            raise ValueError(f"{self.path}: write to a closed recorder")
        if local is None and remote is None:
            raise ValueError("write needs at least one leg to know the frame length")
        if self.mode is None or self._audio is None or self._resampler is None:
            return
        length = max(len(f) for f in (local, remote) if f is not None)
        loc = _padded(local, length)
        rem = _padded(remote, length)
        rate = self.sample_rate if sample_rate is None else sample_rate
        if self.stereo:
            left = self._at_rate(loc if self.mode is not RecordMode.RECV else silence(length),
                                 rate, 0)
            right = self._at_rate(rem if self.mode is not RecordMode.SEND
                                  else silence(length), rate, 1)
            data = np.empty(2 * len(left), dtype=np.int16)
            data[0::2] = left
            data[1::2] = right
            count = len(left)
        else:
            mono = loc if self.mode is RecordMode.SEND else rem if (
                self.mode is RecordMode.RECV) else mix((loc, rem))
            data = self._at_rate(mono, rate, 0)
            count = len(data)
        if not count:
            return
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16",
                                           layout="mono" if self.channels == 1 else "stereo")
        frame.sample_rate = self.sample_rate
        frame.time_base = Fraction(1, self.sample_rate)
        frame.pts = self._audio_pts
        self._audio_pts += count
        self.samples += count
        for converted in self._resampler.resample(frame):
            self._out.mux(self._audio.encode(converted))

    def close(self) -> None:
        """Flush the encoders and write the trailer (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._audio is not None and self._resampler is not None:
                for converted in self._resampler.resample(None):
                    self._out.mux(self._audio.encode(converted))
                self._out.mux(self._audio.encode(None))
            self._out.mux(self._video.encode(None))
        finally:
            self._out.close()

    def __enter__(self) -> AvRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _padded(frame: Pcm | None, length: int) -> Pcm:
    if frame is None:
        return silence(length)
    pcm = np.asarray(frame, dtype=np.int16).reshape(-1)
    if len(pcm) < length:
        return np.concatenate((pcm, silence(length - len(pcm))))
    return pcm


def _why(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None)
    return reason if isinstance(reason, str) and reason else str(exc)
