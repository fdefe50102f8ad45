"""VideoStream: one video stream of a call, send and receive paths, sans-IO.

Knows: how the pieces of ``voipkit.media.video`` fit into one RTP session: the codec
row and its encoder (shaped by the peer's fmtp and ``VideoEncoderSettings``), the
payload format, RTP sequence numbers and 90 kHz timestamps taken from ``now``, the
marker bit, SRTP (``SrtpContext``) when the negotiation carried keys, SSRC locking,
reception statistics, frame reassembly, decoding, and RTCP: reports (SR/RR + SDES
CNAME, RFC 3550 §6.4) and feedback (RFC 4585 §6.2.1 generic NACK -> retransmission of
the sent datagram; RFC 4585 §6.3.1 PLI and RFC 5104 §4.3.1 FIR -> a key frame).
Must not know: sockets, asyncio, SIP, SDP text or the clock. Every method that depends
on time takes ``now``; SSRC, first sequence number and timestamp come from an injected
``voipkit.base.ids.IdSource``.

Receiving. The first SSRC heard is locked; another is taken instead after the locked
one said BYE or fell silent for ``ssrc_timeout`` (0.5 s), so a peer that restarts its
stream is followed. After lost packets that NACK could not repair, the decoder's references are
broken: frames are then dropped until a key frame arrives, and a PLI asks for one
(again every ``pli_interval`` while none comes), so the picture recovers instead of
freezing or smearing forever. Before the first key frame nothing is decoded either.

Driving it. Per captured frame ``send_frame(frame, now=t)`` -> RTP datagrams to send.
Received datagrams go to ``receive_rtp`` / ``receive_rtcp`` (the latter returns RTP
datagrams to resend); decoded frames are drained with ``pop_frames()``. When
``get_timer()`` is due call ``handle_timer(now=)``; then send ``rtcp_to_send()``
(feedback, as compound RR + SDES + FB packets, RFC 4585 §3.1) and, when
``rtcp_due(now)``, ``build_rtcp(now=)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from voipkit.base.ids import IdSource
from voipkit.media.rtcp import (
    ReportBlock,
    RtcpByePacket,
    RtcpFirPacket,
    RtcpNackPacket,
    RtcpPacket,
    RtcpPliPacket,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSrPacket,
    build_compound,
    ntp_from_seconds,
    ntp_middle32,
    parse_rtcp,
    rtt,
)
from voipkit.media.rtp import MalformedPacket, RtpPacket
from voipkit.media.srtp import SrtpContext
from voipkit.media.stats import ReceiverStats, SenderStats
from voipkit.media.video.assembler import AssembledFrame, FrameAssembler
from voipkit.media.video.codecs import (
    DEFAULT_VIDEO_CODECS,
    VIDEO_CLOCK_RATE,
    VideoCodecRegistry,
    VideoCodecSpec,
    VideoDecoder,
    VideoEncoder,
    VideoEncoderSettings,
)
from voipkit.media.video.frames import VideoFrame
from voipkit.media.video.nack import NackGenerator, RetransmissionBuffer
from voipkit.media.video.payload import PayloadFormat
from voipkit.sdp import Crypto, Direction, NegotiatedMedia

__all__ = ["VideoCounters", "VideoStream", "VideoStreamConfig"]

_TS_MASK = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoStreamConfig:
    """What one video stream sends and accepts.

    ``receive_codecs`` maps the payload types we may receive to their rows;
    ``remote_fmtp`` is the peer's fmtp for the send codec (H.264 packetization mode);
    ``nack``/``pli`` say whether we send that feedback: NACK only when a=rtcp-fb
    agreed "nack" (a sender that keeps no packets would ignore it); PLI when "nack pli"
    was agreed, or when no feedback was negotiated at all (RFC 3550-only peers such as
    many SIP phones still answer a PLI with a key frame, and ignore it otherwise);
    ``direction`` is ours (RFC 3264 §5.1).
    """

    codec: VideoCodecSpec
    payload_type: int
    receive_codecs: Mapping[int, VideoCodecSpec]
    settings: VideoEncoderSettings = field(default_factory=VideoEncoderSettings)
    direction: Direction = Direction.SENDRECV
    nack: bool = True
    pli: bool = True
    pli_interval: float = 0.5
    local_crypto: Crypto | None = None
    remote_crypto: Crypto | None = None

    @classmethod
    def from_negotiated(
        cls,
        media: NegotiatedMedia,
        registry: VideoCodecRegistry = DEFAULT_VIDEO_CODECS,
        *,
        settings: VideoEncoderSettings | None = None,
        nack: bool = True,
    ) -> VideoStreamConfig:
        """The configuration for one accepted video m= line.

        Raises:
            ValueError: the negotiated send codec is not a row of ``registry``.
        """
        send = media.send_codec
        spec = registry.find(send.encoding, send.clock_rate)
        if spec is None:
            raise ValueError(f"no video codec row for {send.encoding}/{send.clock_rate}")
        receive = {pt: row for pt, rm in media.payload_types.items()
                   if (row := registry.find(rm.encoding, rm.clock_rate)) is not None}
        receive.setdefault(send.payload_type, spec)
        base = settings if settings is not None else VideoEncoderSettings()
        feedback = set(media.rtcp_fb)
        return cls(
            codec=spec,
            payload_type=send.payload_type,
            receive_codecs=MappingProxyType(receive),
            settings=replace(base, remote_fmtp=dict(media.send_fmtp)),
            direction=media.direction,
            nack=nack and "nack" in feedback,
            pli=not feedback or "nack pli" in feedback,
            local_crypto=media.local_crypto,
            remote_crypto=media.remote_crypto,
        )

    @property
    def sends(self) -> bool:
        return self.direction in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self.direction in (Direction.SENDRECV, Direction.RECVONLY)


@dataclass(slots=True)
class VideoCounters:
    """What happened on the stream (for statistics and tests)."""

    frames_sent: int = 0
    keyframes_sent: int = 0
    packets_sent: int = 0
    frames_received: int = 0
    keyframes_received: int = 0
    frames_decoded: int = 0
    frames_dropped: int = 0
    packets_received: int = 0
    malformed: int = 0
    not_rtp: int = 0
    foreign_ssrc: int = 0
    nacks_sent: int = 0
    nacks_received: int = 0
    retransmissions: int = 0
    plis_sent: int = 0
    plis_received: int = 0
    firs_received: int = 0
    keyframe_requests: int = 0
    rtcp_sent: int = 0
    rtcp_received: int = 0


class VideoStream:
    """One video RTP session (send and receive), sans-IO."""

    def __init__(self, config: VideoStreamConfig, *, ids: IdSource, cname: str | None = None,
                 rtcp_interval: float = 1.0, wallclock_offset: float = 0.0,
                 ssrc_timeout: float = 0.5) -> None:
        self._config = config
        self._ids = ids
        self.ssrc = ids.ssrc() & _TS_MASK
        self._seq = ids.ssrc() & 0xFFFF
        self._ts_base = ids.ssrc() & _TS_MASK
        self._time_base: float | None = None
        self.cname = cname if cname is not None else f"{ids.token(8)}@voipkit"
        self.rtcp_interval = rtcp_interval
        self.wallclock_offset = wallclock_offset
        self.counters = VideoCounters()
        self._encoder: VideoEncoder | None = None
        self._payload: PayloadFormat = config.codec.payload_format(
            mtu=config.settings.mtu, remote_fmtp=config.settings.remote_fmtp)
        self._keyframe_wanted = True
        self._retransmit = RetransmissionBuffer()
        self._sender = SenderStats(clock_rate=VIDEO_CLOCK_RATE)
        self._sent_since_report = False
        self._fir_seen: dict[int, int] = {}
        # receive side
        self._remote_ssrc: int | None = None
        self.ssrc_timeout = ssrc_timeout
        "Seconds of silence from the locked SSRC after which another SSRC is accepted."
        self._last_arrival = 0.0
        self._receiver: ReceiverStats | None = None
        self._receive_pt: int | None = None
        self._assembler: FrameAssembler | None = None
        self._decoder: VideoDecoder | None = None
        self.nack_interval = 0.1
        "Shortest time between NACKs of one packet (raised to 1.5 RTT once RTT is known)."
        self.max_wait = 0.5
        "Shortest wait for a hole before it is skipped (raised to 3 RTT)."
        self._rtt: float | None = None
        self._nack = NackGenerator(interval=self.nack_interval)
        self._waiting_for_keyframe = True
        self._pli_due: float | None = None
        self._frames: list[VideoFrame] = []
        self._feedback: list[RtcpPacket] = []
        self._srtp = (SrtpContext(config.local_crypto, config.remote_crypto)
                      if config.local_crypto is not None and config.remote_crypto is not None
                      else None)
        self.next_rtcp_at = 0.0

    @property
    def config(self) -> VideoStreamConfig:
        return self._config

    @property
    def remote_ssrc(self) -> int | None:
        return self._remote_ssrc

    # -- sending -------------------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Make the next frame sent a key frame."""
        self._keyframe_wanted = True

    def set_bitrate(self, bitrate: int) -> None:
        """Change the encoder's target bit rate (bits per second)."""
        self._config = replace(self._config,
                               settings=replace(self._config.settings, bitrate=bitrate))
        if self._encoder is not None:
            self._encoder.set_bitrate(bitrate)

    def set_settings(self, settings: VideoEncoderSettings) -> None:
        """New size, frame rate, bit rate or MTU for what we send (the peer's fmtp is
        kept). SSRC and sequence numbers continue; the next frame is a key frame from a
        new encoder."""
        settings = replace(settings, remote_fmtp=self._config.settings.remote_fmtp)
        if settings == self._config.settings:
            return
        self._config = replace(self._config, settings=settings)
        self._encoder = None
        self._payload = self._config.codec.payload_format(
            mtu=settings.mtu, remote_fmtp=settings.remote_fmtp)
        self._keyframe_wanted = True

    def send_frame(self, frame: VideoFrame, *, now: float) -> list[bytes]:
        """Encode one captured frame and return its RTP datagrams (none when the
        stream does not send). The RTP timestamp is 90 kHz time since the first frame."""
        if not self._config.sends:
            return []
        if self._time_base is None:
            self._time_base = now
        timestamp = (self._ts_base + round((now - self._time_base) * VIDEO_CLOCK_RATE)) \
            & _TS_MASK
        if self._encoder is None:
            self._encoder = self._config.codec.encoder(self._config.settings)
        keyframe, self._keyframe_wanted = self._keyframe_wanted, False
        datagrams: list[bytes] = []
        for encoded in self._encoder.encode(frame, keyframe=keyframe):
            payloads = self._payload.packetize(encoded.data)
            self.counters.frames_sent += 1
            self.counters.keyframes_sent += encoded.keyframe
            for index, payload in enumerate(payloads):
                packet = RtpPacket(self._config.payload_type, self._seq, timestamp, self.ssrc,
                                   payload, marker=index == len(payloads) - 1)
                wire = bytes(packet)
                if self._srtp is not None:
                    wire = self._srtp.protect(wire)
                self._retransmit.store(self._seq, wire)
                self._sender.sent(len(payload), timestamp, now=now)
                self._seq = (self._seq + 1) & 0xFFFF
                datagrams.append(wire)
        self.counters.packets_sent += len(datagrams)
        self._sent_since_report = self._sent_since_report or bool(datagrams)
        return datagrams

    # -- receiving -----------------------------------------------------------------------

    def receive_rtp(self, data: bytes, *, arrival: float) -> None:
        """Feed one received RTP datagram (STUN on the port is counted and ignored)."""
        if data and data[0] < 4:
            # RFC 7983 §7: a first byte 0-3 is STUN (linphone's ICE keep-alives), not RTP.
            self.counters.not_rtp += 1
            return
        if self._srtp is not None:
            plain = self._srtp.unprotect(data)
            if plain is None:
                return
            data = plain
        try:
            packet = RtpPacket.parse(data)
        except MalformedPacket:
            self.counters.malformed += 1
            return
        if not self._config.receives:
            return
        if (self._remote_ssrc is not None and packet.ssrc != self._remote_ssrc
                and arrival - self._last_arrival >= self.ssrc_timeout):
            # The peer restarted its stream (a new encoder after a re-INVITE, a
            # transfer): follow the new source rather than freeze on the silent one.
            self._remote_ssrc = None
        if self._remote_ssrc is None:
            self._lock(packet.ssrc)
        elif packet.ssrc != self._remote_ssrc:
            self.counters.foreign_ssrc += 1
            return
        self._last_arrival = arrival
        codec = self._config.receive_codecs.get(packet.payload_type)
        if codec is None:
            self.counters.malformed += 1
            return
        if packet.payload_type != self._receive_pt or self._assembler is None:
            self._receive_pt = packet.payload_type
            self._assembler = FrameAssembler(codec.payload_format(), max_wait=max(
                self.max_wait, 3 * self._rtt if self._rtt is not None else 0.0))
            self._decoder = codec.decoder()
            self._waiting_for_keyframe = True
        self.counters.packets_received += 1
        assert self._receiver is not None
        self._receiver.receive(packet.sequence_number, packet.timestamp, arrival=arrival)
        if self._config.nack:
            self._nack.received(packet.sequence_number, now=arrival)
        self._take(self._assembler.insert(packet, now=arrival), arrival)

    def _lock(self, ssrc: int) -> None:
        """Receive from ``ssrc`` from now on, with fresh reception state (RFC 3550 §8.2:
        a new SSRC is a new source)."""
        self._remote_ssrc = ssrc
        self._receiver = ReceiverStats(ssrc=ssrc, clock_rate=VIDEO_CLOCK_RATE,
                                       min_sequential=0)
        self._assembler = None
        self._decoder = None
        self._receive_pt = None
        self._nack = NackGenerator(interval=max(
            self.nack_interval, 1.5 * self._rtt if self._rtt is not None else 0.0))
        self._waiting_for_keyframe = True
        self._pli_due = None

    def _take(self, frames: list[AssembledFrame], now: float) -> None:
        assert self._decoder is not None
        for frame in frames:
            self.counters.frames_received += 1
            self.counters.keyframes_received += frame.keyframe
            if frame.after_loss and not frame.keyframe:
                self._waiting_for_keyframe = True
            if self._waiting_for_keyframe and not frame.keyframe:
                self.counters.frames_dropped += 1
                self._ask_keyframe(now)
                continue
            decoded = self._decoder.decode(frame.data)
            if not decoded and frame.keyframe:
                self._ask_keyframe(now)
                continue
            self._waiting_for_keyframe = False
            self._pli_due = None
            self.counters.frames_decoded += len(decoded)
            self._frames += decoded

    def request_remote_keyframe(self) -> bool:
        """Queue a PLI asking the peer for a key frame now (RFC 4585 §6.3.1), whatever
        the decoder's state; False when no peer stream is known yet."""
        if self._remote_ssrc is None:
            return False
        self._feedback.append(RtcpPliPacket(self.ssrc, self._remote_ssrc))
        self.counters.plis_sent += 1
        return True

    def _ask_keyframe(self, now: float) -> None:
        """Queue a PLI now unless one was sent less than ``pli_interval`` ago."""
        self._waiting_for_keyframe = True
        if self._pli_due is not None and now < self._pli_due:
            return
        self._pli_due = now + self._config.pli_interval
        if self._config.pli and self._remote_ssrc is not None:
            self._feedback.append(RtcpPliPacket(self.ssrc, self._remote_ssrc))
            self.counters.plis_sent += 1

    def pop_frames(self) -> list[VideoFrame]:
        """The frames decoded since the last call."""
        frames, self._frames = self._frames, []
        return frames

    # -- timers --------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """The next time ``handle_timer`` has work (NACK, a hole to skip, a PLI retry)."""
        deadlines = [t for t in (
            self._nack.get_timer() if self._config.nack else None,
            self._assembler.get_timer() if self._assembler is not None else None,
            self._pli_due if self._waiting_for_keyframe and self._remote_ssrc is not None
            else None,
        ) if t is not None]
        return min(deadlines, default=None)

    def handle_timer(self, *, now: float) -> None:
        if self._config.nack and self._remote_ssrc is not None:
            lost = self._nack.handle_timer(now=now)
            if lost:
                self._feedback.append(RtcpNackPacket(self.ssrc, self._remote_ssrc, tuple(lost)))
                self.counters.nacks_sent += 1
        if self._assembler is not None:
            self._take(self._assembler.handle_timer(now=now), now)
        if (self._waiting_for_keyframe and self._pli_due is not None
                and now >= self._pli_due):
            self._pli_due = None
            self._ask_keyframe(now)

    # -- RTCP ----------------------------------------------------------------------------

    def rtcp_to_send(self) -> list[bytes]:
        """Queued feedback as one compound packet (RR + SDES + FB, RFC 4585 §3.1), or []."""
        if not self._feedback:
            return []
        packets: list[RtcpPacket] = [RtcpRrPacket(self.ssrc),
                                     RtcpSdesPacket.cname(self.ssrc, self.cname),
                                     *self._feedback]
        self._feedback = []
        self.counters.rtcp_sent += 1
        return [self._protect_rtcp(build_compound(packets))]

    def _protect_rtcp(self, data: bytes) -> bytes:
        return self._srtp.protect_rtcp(data) if self._srtp is not None else data

    def rtcp_due(self, now: float) -> bool:
        return now >= self.next_rtcp_at

    def build_rtcp(self, *, now: float) -> bytes:
        """A compound report (SR or RR, then SDES CNAME, RFC 3550 §6.1) and any queued
        feedback; sets the next due time (``rtcp_interval`` times 0.5-1.5, §6.3.1)."""
        receiver = self._receiver
        blocks: list[ReportBlock] = ([receiver.report_block(now=now)]
                                     if receiver is not None and receiver.valid else [])
        report: RtcpSrPacket | RtcpRrPacket
        if self._sent_since_report:
            self._sent_since_report = False
            report = self._sender.sender_report(self.ssrc, wallclock=now + self.wallclock_offset,
                                                reports=blocks, now=now)
        else:
            report = RtcpRrPacket(self.ssrc, blocks)
        packets: list[RtcpPacket] = [report, RtcpSdesPacket.cname(self.ssrc, self.cname),
                                     *self._feedback]
        self._feedback = []
        self.next_rtcp_at = now + self.rtcp_interval * (
            0.5 + (self._ids.ssrc() & _TS_MASK) / 2**32)
        self.counters.rtcp_sent += 1
        return self._protect_rtcp(build_compound(packets))

    def receive_rtcp(self, data: bytes, *, arrival: float) -> list[bytes]:
        """Feed one RTCP datagram; returns the RTP datagrams to resend for its NACKs.

        PLI, and FIR with a new command sequence number (RFC 5104 §4.3.1.2: a repeated
        number is a retransmission of the same request), make the next frame a key frame.
        STUN on the port (RFC 7983 §7) is counted and ignored.
        """
        if data and data[0] < 4:
            self.counters.not_rtp += 1
            return []
        if self._srtp is not None:
            plain = self._srtp.unprotect_rtcp(data)
            if plain is None:
                return []
            data = plain
        try:
            packets = parse_rtcp(data)
        except MalformedPacket:
            self.counters.malformed += 1
            return []
        self.counters.rtcp_received += 1
        resend: list[bytes] = []
        for packet in packets:
            if isinstance(packet, RtcpSrPacket | RtcpRrPacket):
                self._report_blocks(packet.reports, arrival)
            if isinstance(packet, RtcpSrPacket):
                if packet.ssrc == self._remote_ssrc and self._receiver is not None:
                    self._receiver.record_sender_report(packet.ntp_timestamp, arrival=arrival)
            elif isinstance(packet, RtcpByePacket):
                if self._remote_ssrc is not None and self._remote_ssrc in packet.ssrcs:
                    self._remote_ssrc = None  # RFC 3550 §6.6: the source left
            elif isinstance(packet, RtcpNackPacket) and packet.media_ssrc == self.ssrc:
                self.counters.nacks_received += 1
                again = self._retransmit.retransmissions(packet.lost)
                self.counters.retransmissions += len(again)
                resend += again
            elif isinstance(packet, RtcpPliPacket) and packet.media_ssrc == self.ssrc:
                self.counters.plis_received += 1
                self.counters.keyframe_requests += 1
                self.request_keyframe()
            elif isinstance(packet, RtcpFirPacket):
                for ssrc, seq in packet.entries:
                    if ssrc == self.ssrc and self._fir_seen.get(packet.sender_ssrc) != seq:
                        self._fir_seen[packet.sender_ssrc] = seq
                        self.counters.firs_received += 1
                        self.counters.keyframe_requests += 1
                        self.request_keyframe()
        return resend

    @property
    def rtt(self) -> float | None:
        """The last round-trip time measured from the peer's report blocks (RFC 3550
        §6.4.1), seconds."""
        return self._rtt

    def _report_blocks(self, blocks: list[ReportBlock], arrival: float) -> None:
        for block in blocks:
            if block.ssrc != self.ssrc:
                continue
            arrived = ntp_middle32(ntp_from_seconds(arrival + self.wallclock_offset))
            measured = rtt(arrived, block.lsr, block.dlsr)
            if measured is None:
                continue
            self._rtt = measured
            # A NACK can only be answered a round trip later: retry no faster than
            # 1.5 RTT, and wait for repairs at least three round trips before skipping.
            self._nack.interval = max(self.nack_interval, 1.5 * measured)
            if self._assembler is not None:
                self._assembler.max_wait = max(self.max_wait, 3 * measured)

    def statistics(self, now: float) -> dict[str, int | float | None]:
        """Counters plus reception statistics (lost, jitter in seconds)."""
        stats: dict[str, int | float | None] = {
            name: getattr(self.counters, name) for name in VideoCounters.__dataclass_fields__}
        receiver = self._receiver
        stats["packets_lost"] = receiver.cumulative_lost if receiver is not None else 0
        stats["jitter"] = receiver.jitter_seconds if receiver is not None else 0.0
        stats["nack_recovered"] = self._nack.recovered
        stats["rtt"] = self._rtt
        return stats
