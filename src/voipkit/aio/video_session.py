"""VideoSession: the asyncio owner of one call's video stream.

Knows: the loop, its clock, UDP sockets through ``RtpSocketPair`` (port range,
symmetric RTP), frame pacing (``MediaClock`` at the frame rate, drift-free), a frame
source (the test pattern by default, or frames the application pushes), the frame
sinks, and how to drive a sans-IO ``voipkit.media.video.VideoStream``: every input
(received RTP, RTCP, a tick) is followed by sending what the stream queued and
re-arming one timer at ``stream.get_timer()`` (aioquic's shape).
Must not know: SIP, SDP text, dialogs or calls: it is configured from a
``voipkit.sdp.NegotiatedMedia`` and ``api`` decides when.

Encoding and decoding run on the loop thread (about 1-4 ms per 640x480 frame here,
docs/codecs.md); a call's video is paced, so one frame is encoded per tick and a
late tick is caught up by the ``MediaClock`` policy rather than by bursts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from voipkit.aio.media_clock import MediaClock
from voipkit.aio.rtp_socket import Address, RtpSocketPair
from voipkit.base.ids import IdSource, RandomIds
from voipkit.media.rtp import is_rtcp
from voipkit.media.video import (
    DEFAULT_VIDEO_CODECS,
    MAX_MTU,
    PatternSource,
    VideoCodecRegistry,
    VideoEncoderSettings,
    VideoFrame,
    VideoStream,
    VideoStreamConfig,
    rotate,
)
from voipkit.sdp import NegotiatedMedia

logger = logging.getLogger(__name__)

FrameSink = Callable[[VideoFrame], None]
"""Receives each decoded frame (the documented "window" of the manual's video calls)."""


class VideoSource(Protocol):
    """Where the frames to send come from: ``read_frame()`` once per tick; None sends
    nothing that tick."""

    def read_frame(self) -> VideoFrame | None: ...


class PushedFrames:
    """A source fed by the application (sendVideoStreamToRemote): each tick sends the
    latest frame pushed, or nothing until the first one arrives."""

    def __init__(self) -> None:
        self._latest: VideoFrame | None = None
        self.pushed = 0

    def push(self, frame: VideoFrame) -> None:
        self._latest = frame
        self.pushed += 1

    def read_frame(self) -> VideoFrame | None:
        return self._latest


class VideoSession:
    """One call's video: sockets, pacing, a source, sinks and the sans-IO stream."""

    def __init__(self, pair: RtpSocketPair, *, ids: IdSource, loop: asyncio.AbstractEventLoop,
                 registry: VideoCodecRegistry = DEFAULT_VIDEO_CODECS,
                 cname: str | None = None) -> None:
        self._pair = pair
        self._ids = ids
        self._loop = loop
        self._registry = registry
        self._cname = cname
        self.settings = VideoEncoderSettings()
        "Size, frame rate, bit rate and MTU for the next configuration."
        self.nack = True
        "Send NACKs and honour them (setVideoNackStatus), when the peer agreed rtcp-fb nack."
        self.source: VideoSource = PatternSource(self.settings.width, self.settings.height)
        self.sinks: list[FrameSink] = []
        "Called with each decoded frame from the peer."
        self.sent_sinks: list[FrameSink] = []
        "Called with each frame as it is encoded and sent."
        self.send_muted = False
        self.receive_muted = False
        self.rotation = 0
        "Degrees (0, 90, 180, 270) the frames are turned clockwise before they are sent."
        self._stream: VideoStream | None = None
        self._clock: MediaClock | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._remote: tuple[Address | None, Address | None] | None = None
        self._closed = False
        pair.on_rtp = self._on_rtp
        pair.on_rtcp = self._on_rtcp

    @classmethod
    async def open(cls, local_ip: str, port_range: tuple[int, int] = (10000, 20000),
                   ids: IdSource | None = None, *, loop: asyncio.AbstractEventLoop | None = None,
                   registry: VideoCodecRegistry = DEFAULT_VIDEO_CODECS, symmetric: bool = True,
                   first_port: int | None = None, dscp: int | None = None) -> VideoSession:
        """Bind an RTP/RTCP port pair from ``port_range`` on ``local_ip``.

        Raises:
            TransportError: no free pair in the range, or the address cannot be bound.
        """
        running = loop if loop is not None else asyncio.get_running_loop()
        pair = RtpSocketPair.open(local_ip, port_range=port_range, loop=running,
                                  symmetric=symmetric, first_port=first_port, dscp=dscp,
                                  recv_buffer_size=MAX_MTU + 1)
        return cls(pair, ids=ids if ids is not None else RandomIds(), loop=running,
                   registry=registry)

    @property
    def local_ip(self) -> str:
        return self._pair.local_ip

    @property
    def local_port(self) -> int:
        return self._pair.rtp_port

    @property
    def stream(self) -> VideoStream | None:
        return self._stream

    @property
    def sockets(self) -> RtpSocketPair:
        return self._pair

    @property
    def running(self) -> bool:
        return self._clock is not None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def ticks_skipped(self) -> int:
        """Frame ticks the pacing clock skipped because the loop fell behind."""
        return self._clock.skipped if self._clock is not None else 0

    @property
    def registry(self) -> VideoCodecRegistry:
        return self._registry

    def configure(self, media: NegotiatedMedia) -> None:
        """Apply a negotiated video stream (answer, re-INVITE).

        A change of codec, payload type, fmtp, keys or settings starts a new stream
        (the receiver then waits for a key frame, which the new encoder sends first);
        only a direction change keeps the stream.

        Raises:
            ValueError: the negotiated codec is not in the registry, or the session is
                closed.
        """
        if self._closed:
            raise ValueError("the video session is closed")
        config = VideoStreamConfig.from_negotiated(media, self._registry,
                                                   settings=self.settings, nack=self.nack)
        rtp: Address | None = (media.remote_address, media.remote_port)
        rtcp: Address | None = media.remote_rtcp
        if media.remote_port == 0 or media.remote_address in ("0.0.0.0", "::"):
            rtp = rtcp = None
        if self._remote != (rtp, rtcp):
            self._pair.set_remote(rtp, rtcp)
            self._remote = (rtp, rtcp)
        old = self._stream
        if old is not None and old.config == config:
            return
        now = self._loop.time()
        self._stream = VideoStream(config, ids=self._ids, cname=self._cname,
                                   wallclock_offset=time.time() - now)
        if self._clock is not None and (old is None or old.config.settings.frame_rate
                                        != config.settings.frame_rate):
            self._clock.stop()
            self._clock = None
            self.start()

    def apply_settings(self, settings: VideoEncoderSettings) -> None:
        """New size/rate/bitrate/MTU, applied at once: a running stream keeps its SSRC
        and sends a key frame from a new encoder; a new frame rate re-paces the clock."""
        self.settings = settings
        if isinstance(self.source, PatternSource) and (
                (self.source.width, self.source.height) != (settings.width, settings.height)):
            self.source = PatternSource(settings.width, settings.height)
        stream = self._stream
        if stream is None:
            return
        old_rate = stream.config.settings.frame_rate
        if stream.config.settings.bitrate != settings.bitrate and replace(
                stream.config.settings, bitrate=settings.bitrate,
                remote_fmtp=None) == replace(settings, remote_fmtp=None):
            stream.set_bitrate(settings.bitrate)
        else:
            stream.set_settings(settings)
        if self._clock is not None and old_rate != settings.frame_rate:
            self._clock.stop()
            self._clock = None
            self.start()

    def start(self) -> None:
        """Start sending frames at the configured frame rate (idempotent)."""
        if self._closed or self._clock is not None or self._stream is None:
            return
        rate = self._stream.config.settings.frame_rate
        self._clock = MediaClock(self._loop, 1.0 / rate, self._tick)
        self._clock.start()

    def stop(self) -> None:
        """Stop sending and receiving (the stream was removed); the sockets stay open for
        a later ``configure``."""
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = None
        self._stream = None

    def request_keyframe(self) -> None:
        """Make the next frame we send a key frame."""
        if self._stream is not None:
            self._stream.request_keyframe()

    def request_remote_keyframe(self) -> bool:
        """Send a PLI now asking the peer for a key frame (False: no peer stream yet)."""
        if self._stream is None or not self._stream.request_remote_keyframe():
            return False
        self._after_input()
        return True

    # -- the loop ------------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        stream = self._stream
        if stream is None or self._closed:
            return
        if not self.send_muted:
            frame = self.source.read_frame()
            if frame is not None and self.rotation:
                frame = rotate(frame, self.rotation)
            if frame is not None:
                for datagram in stream.send_frame(frame, now=now):
                    self._pair.send_rtp(datagram)
                self._deliver(self.sent_sinks, [frame])
        if stream.rtcp_due(now):
            self._pair.send_rtcp(stream.build_rtcp(now=now))
        self._after_input()

    def _on_rtp(self, data: bytes, source: Address, arrival: float) -> None:
        if is_rtcp(data):  # rtcp-mux peers
            self._on_rtcp(data, source, arrival)
            return
        stream = self._stream
        if stream is None or self._closed:
            return
        stream.receive_rtp(data, arrival=arrival)
        self._after_input()

    def _on_rtcp(self, data: bytes, source: Address, arrival: float) -> None:
        stream = self._stream
        if stream is None or self._closed:
            return
        for datagram in stream.receive_rtcp(data, arrival=arrival):
            self._pair.send_rtp(datagram)
        self._after_input()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        stream = self._stream
        if stream is None or self._closed:
            return
        stream.handle_timer(now=self._loop.time())
        self._after_input()

    def _after_input(self) -> None:
        stream = self._stream
        if stream is None:
            return
        for datagram in stream.rtcp_to_send():
            self._pair.send_rtcp(datagram)
        frames = stream.pop_frames()
        if not self.receive_muted:
            self._deliver(self.sinks, frames)
        deadline = stream.get_timer()
        if deadline != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = (self._loop.call_at(max(deadline, self._loop.time()), self._on_timer)
                           if deadline is not None else None)
            self._timer_at = deadline

    @staticmethod
    def _deliver(sinks: list[FrameSink], frames: list[VideoFrame]) -> None:
        for frame in frames:
            for sink in list(sinks):
                try:
                    sink(frame)
                except Exception:
                    logger.exception("video sink failed")

    def statistics(self) -> dict[str, int | float | None]:
        if self._stream is None:
            return {}
        return self._stream.statistics(self._loop.time())

    async def close(self, reason: str = "closed") -> None:
        """Stop sending and receiving and close the sockets (as ``abort``; async for
        symmetry with ``AudioSession.close``)."""
        self.abort(reason)

    def abort(self, reason: str = "closed") -> None:
        """Stop the clock and timers and close the sockets (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pair.close()
        logger.debug("video session closed: %s", reason)


__all__ = ["FrameSink", "PushedFrames", "VideoSession", "VideoSource"]
