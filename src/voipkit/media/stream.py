"""RtpStream: one audio stream of a call, send and receive paths, sans-IO.

Knows: how the pieces of ``voipkit.media`` fit into one RTP session (RFC 3550):
a codec row from the registry shaped by ``CodecSettings`` (fmtp, ptime, bitrate),
RTP packetization (sequence numbers, timestamps, the marker bit of RFC 3551 §4.1),
RFC 4733 telephone-events replacing audio packets, RFC 3389 comfort noise and
silence suppression as the capture chain decides (``SendDecision``), SRTP/SRTCP
(RFC 3711, ``SrtpContext``) when the negotiation carried SDES keys, SSRC locking,
reception statistics, the jitter buffer and packet-loss concealment, the RTCP
report schedule (RFC 3550 §6.2-§6.4), and one streaming resampler per leg
between the device's rate (``StreamConfig.audio_rate``) and the codec's, none on
the send side when the encoder takes the device's rate as it is (Opus at 16 kHz,
``StreamConfig.encode_rate``).
Must not know: sockets, asyncio, SIP, SDP text or the clock. Every method that
depends on time takes ``now`` (or ``arrival``) in seconds on one monotonic
timeline; randomness (SSRC, first sequence number and timestamp, the RTCP
interval jitter) comes from an injected ``voipkit.base.ids.IdSource``.

Driving it. A media clock calls, once per ``ptime``: ``encode_frame(pcm, now=t)``
(``pcm`` at ``audio_rate``) and sends every returned datagram;
``pull_audio(samples, now=t)`` for playout (at ``audio_rate``);
and ``build_rtcp(now=t)`` when ``rtcp_due(t)``. Received datagrams go to
``receive_rtp`` / ``receive_rtcp`` (or ``receive``, which demultiplexes per
RFC 5761 §4). Received DTMF digits are drained with ``pop_dtmf()``.

Direction (RFC 3264 §5.1, from our side, as ``NegotiatedMedia.direction``):
a stream that does not send (recvonly, inactive) encodes nothing but keeps its
RTP clock running and keeps sending RTCP; a stream that does not receive
(sendonly, inactive) counts and discards the audio it is sent.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import numpy as np

from voipkit.base.ids import IdSource
from voipkit.media.codecs import (
    DEFAULT_CODECS,
    CnDecoder,
    CodecRegistry,
    CodecSettings,
    CodecSpec,
    Decoder,
    Encoder,
    Pcm,
)
from voipkit.media.codecs.libopus import OpusDecoder
from voipkit.media.dsp.vad import SendAction, SendDecision
from voipkit.media.dtmf import DtmfDigit, DtmfReceiver, DtmfSender
from voipkit.media.frames import Decimator, StreamingResampler, silence
from voipkit.media.jitter import Frame, JitterBuffer, Missing
from voipkit.media.rtcp import (
    ReportBlock,
    RtcpByePacket,
    RtcpPacket,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSrPacket,
    build_compound,
    ntp_from_seconds,
    ntp_middle32,
    parse_rtcp,
    rtt,
)
from voipkit.media.rtp import MalformedPacket, RtpPacket, is_rtcp
from voipkit.media.srtp import SrtpContext, SrtpError
from voipkit.media.stats import ReceiverStats, SenderStats
from voipkit.sdp import Crypto, Direction, NegotiatedMedia

__all__ = [
    "RTCP_INTERVAL",
    "SSRC_SWITCH_AFTER",
    "RtpStream",
    "RtpTap",
    "StreamConfig",
    "StreamCounters",
]

#: RFC 3550 §6.2: "The RECOMMENDED value for a fixed minimum interval is 5 seconds."
RTCP_INTERVAL = 5.0
#: Packets in a row from a new SSRC before the stream follows it (the remote restarted).
SSRC_SWITCH_AFTER = 3
_TS_MASK = 0xFFFF_FFFF
RtpTap = Callable[[str, bytes], None]
"""``("send" | "recv", one plain RTP packet)``: sees every RTP packet the stream sends
(before SRTP protection) and every one it accepts (after SRTP unprotection)."""
#: Codecs coded sample by sample: any ptime that is a whole number of samples works.
_SAMPLE_CODECS = frozenset({"pcmu", "pcma", "g722"})
#: RFC 3389 §4: comfort noise is "CN/8000"; it goes with 8000 Hz RTP clocks only.
_CN_CLOCK = 8000


class _Leg(Protocol):
    def process(self, samples: Pcm) -> Pcm: ...


class _Passthrough:
    """Equal rates: the samples as they are (no copy, no delay)."""

    def process(self, samples: Pcm) -> Pcm:
        return samples


def _resampler(in_rate: int, out_rate: int) -> _Leg:
    """One leg's converter: ``frames.StreamingResampler`` (linear interpolation, a
    31-tap anti-alias low-pass when going down) adds no block delay, where a soxr
    stream holds back a block (~20 ms each way at 16 <-> 48 kHz, measured): on an
    Opus call that was 45 ms of the mouth-to-ear delay. An integer ratio down (Opus'
    48 kHz to a 16 kHz device) takes ``frames.Decimator``, the same output for half
    the cost."""
    if in_rate == out_rate:
        return _Passthrough()
    if in_rate > out_rate and in_rate % out_rate == 0:
        return Decimator(in_rate, out_rate)
    return StreamingResampler(in_rate, out_rate)


def codec_ptime(codec: CodecSpec, ptime: float) -> float:
    """``ptime`` made a whole number of the codec's frames (rounded up), where the
    codec is frame-based: G.723.1 always sends 30 ms frames (ITU-T G.723.1 §2), so a
    negotiated 20 ms becomes 30 ms; sample-based codecs (G.711, G.722) keep ``ptime``."""
    if codec.name.lower() in _SAMPLE_CODECS:
        return ptime
    frame = codec.frame_duration
    count = max(1, math.ceil(ptime / frame - 1e-6))
    return round(count * frame, 6)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamConfig:
    """What one stream sends and accepts: the media half of a negotiated m= line.

    Attributes:
        payload_type: the payload type the remote expects our audio with.
        codec: the registry row of the audio codec we send.
        ptime: seconds of audio per packet.
        telephone_event_pt: RFC 4733 payload type, or None when not negotiated.
        telephone_event_clock_rate: the telephone-event RTP clock.
        direction: our direction (``Direction.sends`` / ``.receives``).
        receive_codecs: payload types we accept audio on; empty means only
            ``payload_type`` with ``codec``.
        device_rate: the sample rate of the PCM given to ``encode_frame`` and
            returned by ``pull_audio``; None means the codec's own rate.
        settings: what shapes our encoder (the peer's fmtp, ptime, bitrate).
        receive_settings: what shapes the decoder of each payload type (our fmtp).
        cn_payload_type: the negotiated RFC 3389 CN payload type, or None.
        local_crypto: our SDES crypto line (keys what we send), RFC 4568 §6.1.
        remote_crypto: the peer's (keys what we receive); SRTP runs when both are set.
    """

    payload_type: int
    codec: CodecSpec
    ptime: float = 0.02
    telephone_event_pt: int | None = None
    telephone_event_clock_rate: int = 8000
    direction: Direction = Direction.SENDRECV
    receive_codecs: Mapping[int, CodecSpec] = field(default_factory=dict)
    device_rate: int | None = None
    settings: CodecSettings | None = None
    receive_settings: Mapping[int, CodecSettings] = field(default_factory=dict)
    cn_payload_type: int | None = None
    local_crypto: Crypto | None = None
    remote_crypto: Crypto | None = None

    def __post_init__(self) -> None:
        if not self.codec.is_audio:
            raise ValueError(f"{self.codec.name} carries events, not audio; it cannot be sent")
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type {self.payload_type} is not 0-127")
        samples = self.ptime * self.codec.clock_rate
        if samples < 1 or abs(samples - round(samples)) > 1e-6:
            raise ValueError(f"ptime {self.ptime} s is not a whole number of samples "
                             f"at {self.codec.clock_rate} Hz")
        device = self.ptime * self.audio_rate
        if abs(device - round(device)) > 1e-6:
            raise ValueError(f"ptime {self.ptime} s is not a whole number of samples "
                             f"at the device rate {self.audio_rate} Hz")

    @property
    def audio_rate(self) -> int:
        """The rate of the PCM the stream takes and gives (the device's)."""
        return self.device_rate if self.device_rate is not None else self.codec.sample_rate

    @property
    def srtp(self) -> bool:
        """True when both SDES keys are known: the stream runs SRTP (RFC 3711)."""
        return self.local_crypto is not None and self.remote_crypto is not None

    @property
    def device_samples(self) -> int:
        """PCM samples per packet at ``audio_rate``."""
        return round(self.ptime * self.audio_rate)

    @property
    def frame_samples(self) -> int:
        """RTP timestamp units per packet."""
        return round(self.ptime * self.codec.clock_rate)

    @property
    def encode_rate(self) -> int:
        """The PCM rate the encoder is fed: ``audio_rate`` when the codec takes it
        natively (``CodecSpec.input_rates``), else the codec's own rate."""
        return self.codec.encode_rate(self.audio_rate)

    @property
    def encoder_settings(self) -> CodecSettings | None:
        """``settings`` with the encoder's input rate, when that is not the codec's own."""
        rate = self.encode_rate
        if rate == self.codec.sample_rate:
            return self.settings
        return dataclasses.replace(self.settings or CodecSettings(), input_rate=rate)

    @property
    def pcm_samples(self) -> int:
        """PCM samples per packet at the codec's sample rate."""
        return round(self.ptime * self.codec.sample_rate)

    @property
    def accepted(self) -> Mapping[int, CodecSpec]:
        """Payload type -> audio codec for every payload type we decode."""
        if self.receive_codecs:
            return self.receive_codecs
        return MappingProxyType({self.payload_type: self.codec})

    @classmethod
    def from_negotiated(
        cls,
        media: NegotiatedMedia,
        registry: CodecRegistry = DEFAULT_CODECS,
        *,
        device_rate: int | None = None,
        local_fmtp: Mapping[str, Mapping[str, str]] | None = None,
        bitrates: Mapping[str, int] | None = None,
    ) -> StreamConfig:
        """The stream configuration for one accepted m= line.

        ``local_fmtp`` and ``bitrates`` are keyed by lower-case encoding name (our
        configured fmtp parameters and bit rates). The ptime is the negotiated one
        made a whole number of the send codec's frames (:func:`codec_ptime`).

        Raises:
            ValueError: the negotiated send codec is not an audio row of ``registry``.
        """
        send = media.send_codec
        spec = registry.find(send.encoding, send.clock_rate, send.channels)
        if spec is None or not spec.is_audio or spec.name.upper() == "CN":
            raise ValueError(f"no audio codec row for {send.encoding}/{send.clock_rate}")
        fmtps = local_fmtp or {}
        rates = bitrates or {}
        ptime = codec_ptime(spec, media.ptime)
        receive: dict[int, CodecSpec] = {}
        receive_settings: dict[int, CodecSettings] = {}
        cn_pt: int | None = None
        for pt, rtpmap in media.payload_types.items():
            row = registry.find(rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels)
            if row is not None and row.is_audio:
                receive[pt] = row
                mine = fmtps.get(row.name.lower(), row.fmtp)
                receive_settings[pt] = CodecSettings(local_fmtp=dict(mine), ptime=ptime)
                if row.name.upper() == "CN" and rtpmap.clock_rate == _CN_CLOCK:
                    cn_pt = pt
        receive.setdefault(send.payload_type, spec)
        settings = CodecSettings(
            remote_fmtp=dict(media.send_fmtp),
            local_fmtp=dict(fmtps.get(spec.name.lower(), spec.fmtp)),
            ptime=ptime,
            bitrate=rates.get(spec.name.lower()),
        )
        return cls(
            payload_type=send.payload_type,
            codec=spec,
            ptime=ptime,
            telephone_event_pt=media.telephone_event_pt,
            direction=media.direction,
            receive_codecs=MappingProxyType(receive),
            device_rate=device_rate,
            settings=settings,
            receive_settings=MappingProxyType(receive_settings),
            cn_payload_type=cn_pt if spec.clock_rate == _CN_CLOCK else None,
            local_crypto=media.local_crypto,
            remote_crypto=media.remote_crypto,
        )


@dataclass(slots=True)
class StreamCounters:
    """What happened to packets and frames since the stream was created."""

    packets_sent: int = 0
    bytes_sent: int = 0
    "Datagram octets (header included)."
    packets_received: int = 0
    "RTP packets accepted from the locked source, audio and events."
    bytes_received: int = 0
    malformed: int = 0
    "Datagrams that did not parse as RTP, and bad telephone-event payloads."
    unknown_payload_type: int = 0
    foreign_ssrc: int = 0
    "Packets from a source other than the locked one (before a switch)."
    ssrc_changes: int = 0
    discarded: int = 0
    "Audio received while our direction does not receive."
    frames_decoded: int = 0
    concealed_frames: int = 0
    "Frames made up by the decoder's loss concealment (the packet was missing)."
    fec_frames: int = 0
    "Of those, frames rebuilt from the next packet's Opus in-band FEC (RFC 7587 §3.2)."
    silence_frames: int = 0
    "Frames of silence while the jitter buffer was filling."
    event_frames: int = 0
    "Frames covered by telephone-event packets, played as silence."
    rtcp_sent: int = 0
    rtcp_received: int = 0
    rtcp_malformed: int = 0
    dtmf_sent: int = 0
    dtmf_received: int = 0
    cn_sent: int = 0
    "RFC 3389 comfort-noise packets sent in silence."
    suppressed_frames: int = 0
    "Frames the capture chain said to send nothing for (silence suppression)."
    srtp_send_failed: int = 0
    "Packets SRTP refused to protect (key used up): not sent."
    keepalive_sent: int = 0
    "RTP keep-alive packets sent (RFC 6263 §4.6, ``set_keepalive``)."


class RtpStream:
    """The send and receive paths of one RTP audio stream.

    Args:
        config: codec, payload types, ptime, telephone-event and direction.
        ids: randomness for the SSRC, the first sequence number and timestamp
            (RFC 3550 §5.1: "SHOULD be random") and the RTCP interval.
        cname: the SDES CNAME (RFC 3550 §6.5.1); default a random token.
        rtcp_interval: the deterministic RTCP interval ``T`` in seconds; each
            interval is ``T`` times a random factor in [0.5, 1.5) (RFC 3550 §6.2).
        wallclock_offset: Unix time minus ``now``, for the NTP fields of SRs.
            RTT measurement only needs it to be constant.
        ssrc_switch_after: packets in a row from a new SSRC before switching to it.
        jitter_delay: the jitter buffer's initial target delay, seconds.
        now: the stream's creation time (the first RTCP report is due half an
            interval later, RFC 3550 §6.2).
    """

    def __init__(
        self,
        config: StreamConfig,
        *,
        ids: IdSource,
        cname: str | None = None,
        rtcp_interval: float = RTCP_INTERVAL,
        wallclock_offset: float = 0.0,
        ssrc_switch_after: int = SSRC_SWITCH_AFTER,
        jitter_delay: float = 0.04,
        now: float,
    ) -> None:
        self._ids = ids
        self.ssrc = ids.ssrc() & _TS_MASK
        self._seq = ids.ssrc() & 0xFFFF
        self._timestamp = ids.ssrc() & _TS_MASK
        self.cname = cname if cname is not None else f"{ids.token(8)}@voipkit"
        self.rtcp_interval = rtcp_interval
        self.wallclock_offset = wallclock_offset
        self.ssrc_switch_after = ssrc_switch_after
        self._jitter_delay = jitter_delay
        self.counters = StreamCounters()
        self._config = config
        self._encoder = self._new_encoder(config)
        self._decoders: dict[int, Decoder] = {}
        self._tx_resampler = _resampler(config.audio_rate, config.encode_rate)
        self._tx_fifo: Pcm = silence(0)
        self._rx_resamplers: dict[int, _Leg] = {}
        self._rx_fifo: Pcm = silence(0)
        self._rx_owed = 0.0  # seconds of audio requested but not yet taken from the jitter buffer
        self._srtp: SrtpContext | None = self._new_srtp(config)
        self._last_decoder: Decoder | None = None
        self._last_rate = config.codec.sample_rate
        self._last_pt = -1
        self._sender = SenderStats(clock_rate=config.codec.clock_rate)
        self._dtmf_sender: DtmfSender | None = None
        self._event_timestamp = 0
        self._talkspurt = True  # the next audio packet starts a talkspurt (marker bit)
        self._sent_since_report = False
        self._jitter: JitterBuffer | None = None  # made by the first packet (``jitter_buffer``)
        self._remote_ssrc: int | None = None
        self._candidate: int | None = None
        self._candidate_count = 0
        self._receiver: ReceiverStats | None = None
        self._dtmf_receiver = DtmfReceiver()
        self._last_audio: tuple[int, int] | None = None  # (seq, timestamp) of the last audio
        self._dtmf_events: list[DtmfDigit] = []
        self._rtt: float | None = None
        self._remote_report: ReportBlock | None = None
        self.remote_bye = False
        "True once the remote source said BYE (RFC 3550 §6.6)."
        self.next_rtcp_at = now + self._interval() / 2
        self.concealment = True
        "Conceal a lost packet with the decoder's PLC; False plays silence in its place."
        self.fec = True
        """Rebuild a lost Opus frame from the next packet's in-band FEC when that packet
        is already in the jitter buffer; False always uses the decoder's PLC."""
        self.rtp_tap: RtpTap | None = None
        "Called with each plain RTP packet sent and accepted (the manual's enableRtpCallback)."
        self._keepalive: tuple[int, float] | None = None
        self._last_rtp_at: float | None = None

    # -- configuration -----------------------------------------------------------------

    @property
    def config(self) -> StreamConfig:
        return self._config

    @staticmethod
    def _new_encoder(config: StreamConfig) -> Encoder:
        return config.codec.encoder(config.encoder_settings)

    @staticmethod
    def _new_srtp(config: StreamConfig) -> SrtpContext | None:
        if config.local_crypto is None or config.remote_crypto is None:
            return None
        return SrtpContext(config.local_crypto, config.remote_crypto)

    @property
    def srtp(self) -> SrtpContext | None:
        """The SRTP context when the stream is protected (RFC 3711), else None."""
        return self._srtp

    def reconfigure(self, config: StreamConfig) -> None:
        """Apply a new negotiation (re-INVITE, hold, resume); keeps SSRC, seq and timestamp.

        A new send codec gets a new encoder; a new telephone-event setting drops
        queued digits; the jitter buffer is kept unless the packet size changes;
        new SDES keys make a new SRTP context (its counters carry on).

        Raises:
            SrtpError: a crypto line libsrtp cannot run.
        """
        old = self._config
        if (config.local_crypto, config.remote_crypto) != (old.local_crypto,
                                                           old.remote_crypto):
            srtp = self._new_srtp(config)
            if srtp is not None and self._srtp is not None:
                srtp.counters = self._srtp.counters
            self._srtp = srtp
        self._config = config
        if (config.codec != old.codec or config.encoder_settings != old.encoder_settings
                or config.ptime != old.ptime):
            self._encoder = self._new_encoder(config)
            self._sender.clock_rate = config.codec.clock_rate
        if (config.audio_rate, config.codec.sample_rate, config.encode_rate) != (
                old.audio_rate, old.codec.sample_rate, old.encode_rate):
            self._tx_resampler = _resampler(config.audio_rate, config.encode_rate)
            self._tx_fifo = silence(0)
            self._rx_resamplers.clear()
            self._rx_fifo = silence(0)
            self._rx_owed = 0.0
        if (config.telephone_event_pt != old.telephone_event_pt or config.ptime != old.ptime
                or config.telephone_event_clock_rate != old.telephone_event_clock_rate):
            self._dtmf_sender = None
        if (config.accepted != old.accepted or config.receive_settings != old.receive_settings
                or config.ptime != old.ptime or config.audio_rate != old.audio_rate):
            self._decoders.clear()
        if config.frame_samples != old.frame_samples or config.codec != old.codec:
            self._jitter = None  # a new one for the new packet size, at the next packet
            self._rx_fifo = silence(0)
            self._rx_owed = 0.0
        if not old.direction.sends:
            self._talkspurt = True

    def _new_jitter_buffer(self) -> JitterBuffer:
        delay = max(self._jitter_delay, self._config.ptime)
        return JitterBuffer(self._config.codec.clock_rate, self._config.frame_samples,
                            initial_delay=delay, min_delay=min(0.02, delay))

    # -- send path -------------------------------------------------------------------

    def _to_codec_rate(self, pcm: Pcm) -> Pcm:
        """One packet of PCM at the codec's rate from ``pcm`` at the device's rate.

        The resampler releases output in blocks, so a FIFO sits behind it; when it
        holds less than a packet, silence is put in front once (a fixed latency
        of the filter's delay) and every later packet comes out whole.
        """
        cfg = self._config
        need = round(len(pcm) * cfg.encode_rate / cfg.audio_rate)
        if need == len(pcm) and not len(self._tx_fifo) \
                and isinstance(self._tx_resampler, _Passthrough):
            return pcm  # same rate, nothing held back: the frame as it is
        out = self._tx_resampler.process(pcm)
        fifo = np.concatenate((self._tx_fifo, out)) if len(self._tx_fifo) else out
        if len(fifo) < need:
            fifo = np.concatenate((np.zeros(need - len(fifo), dtype=np.int16), fifo))
        self._tx_fifo = fifo[need:]
        result: Pcm = fifo[:need].astype(np.int16, copy=False)
        return result

    def encode_frame(self, pcm: Pcm, *, now: float,
                     decision: SendDecision | None = None) -> list[bytes]:
        """Packetize one ptime of audio captured at ``now``; returns the datagrams to send.

        ``pcm`` is at ``config.audio_rate``; it is resampled to the codec's rate.
        The RTP timestamp advances by the frame's length whether or not anything
        is sent. While a DTMF event is queued, its telephone-event packet replaces
        the audio packet (RFC 4733 §2.5.1). ``decision`` (from the capture chain)
        may replace the audio with an RFC 3389 comfort-noise packet (when CN was
        negotiated) or with nothing. The first audio packet after the start or
        after a period without sending audio has the marker bit (RFC 3551 §4.1).
        """
        cfg = self._config
        step = round(len(pcm) * cfg.codec.clock_rate / cfg.audio_rate)
        out: list[bytes] = []
        if cfg.direction.sends:
            event = self._dtmf_sender.next_packet() if self._dtmf_sender is not None else None
            action = SendAction.AUDIO if decision is None else decision.action
            codec_pcm = self._to_codec_rate(pcm)
            packet: RtpPacket | None
            if event is not None and cfg.telephone_event_pt is not None:
                if event.start:
                    self._event_timestamp = self._timestamp
                    self.counters.dtmf_sent += 1
                packet = RtpPacket(
                    payload_type=cfg.telephone_event_pt,
                    sequence_number=self._seq,
                    timestamp=(self._event_timestamp + event.timestamp_offset) & _TS_MASK,
                    ssrc=self.ssrc,
                    payload=event.payload,
                    marker=event.marker,
                )
            elif action is SendAction.AUDIO:
                marker = self._talkspurt or (decision is not None and decision.talkspurt_start)
                packet = RtpPacket(
                    payload_type=cfg.payload_type,
                    sequence_number=self._seq,
                    timestamp=self._timestamp,
                    ssrc=self.ssrc,
                    payload=self._encoder.encode(codec_pcm),
                    marker=marker,
                )
                self._talkspurt = False
            elif (action is SendAction.COMFORT_NOISE and cfg.cn_payload_type is not None
                  and decision is not None and decision.noise_level is not None):
                # RFC 3389 §4: a CN packet at the start of silence and on level changes
                packet = RtpPacket(
                    payload_type=cfg.cn_payload_type,
                    sequence_number=self._seq,
                    timestamp=self._timestamp,
                    ssrc=self.ssrc,
                    payload=bytes([decision.noise_level & 0x7F]),
                )
                self.counters.cn_sent += 1
                self._talkspurt = True
            else:
                packet = None
                self.counters.suppressed_frames += 1
                self._talkspurt = True
            if packet is not None:
                plain = bytes(packet)
                if self.rtp_tap is not None:
                    self.rtp_tap("send", plain)
                data = self._protect(plain)
                self._last_rtp_at = now
                if data is not None:
                    out.append(data)
                    self.counters.packets_sent += 1
                    self.counters.bytes_sent += len(data)
                self._seq = (self._seq + 1) & 0xFFFF
                # the media time of this tick, so the SR extrapolates from it (RFC 3550 §6.4.1)
                self._sender.sent(len(packet.payload), self._timestamp, now=now)
                self._sent_since_report = True
        else:
            self._talkspurt = True
        if not out and self._keepalive_due(now):
            keepalive = self._keepalive_packet(now)
            if keepalive is not None:
                out.append(keepalive)
        self._timestamp = (self._timestamp + step) & _TS_MASK
        return out

    # -- RTP keep-alive (RFC 6263) ---------------------------------------------------------

    def set_keepalive(self, payload_type: int | None, interval: float = 0.0) -> None:
        """Send an RTP keep-alive packet when no RTP went out for ``interval`` seconds
        (the manual's setRtpKeepAlive); ``payload_type`` None turns it off.

        RFC 6263 §4.6: an RTP packet with a payload type the peer did not negotiate
        (PortSIP's usual 126) and no payload, which a receiver discards; it keeps
        NAT bindings open while we send nothing (held, recvonly, VAD silence). A
        keep-alive type that the negotiation gives a meaning to is not sent.

        Raises:
            ValueError: the payload type is not 0-127 or the interval is not positive.
        """
        if payload_type is None:
            self._keepalive = None
            return
        if not 0 <= payload_type <= 127:
            raise ValueError(f"keep-alive payload type {payload_type} is not 0-127")
        if interval <= 0:
            raise ValueError(f"keep-alive interval must be positive, got {interval}")
        self._keepalive = (payload_type, interval)

    @property
    def keepalive(self) -> tuple[int, float] | None:
        """``(payload type, interval)`` when RTP keep-alives are on."""
        return self._keepalive

    def _keepalive_due(self, now: float) -> bool:
        keepalive = self._keepalive
        if keepalive is None:
            return False
        pt, interval = keepalive
        cfg = self._config
        if pt in cfg.accepted or pt in (cfg.payload_type, cfg.telephone_event_pt,
                                        cfg.cn_payload_type):
            return False
        if self._last_rtp_at is None:
            self._last_rtp_at = now  # the interval runs from the first tick
            return False
        return now - self._last_rtp_at >= interval - 1e-9

    def _keepalive_packet(self, now: float) -> bytes | None:
        assert self._keepalive is not None
        packet = bytes(RtpPacket(payload_type=self._keepalive[0], sequence_number=self._seq,
                                 timestamp=self._timestamp, ssrc=self.ssrc))
        if self.rtp_tap is not None:
            self.rtp_tap("send", packet)
        self._seq = (self._seq + 1) & 0xFFFF
        self._last_rtp_at = now
        self.counters.keepalive_sent += 1
        return self._protect(packet)

    def _protect(self, data: bytes) -> bytes | None:
        if self._srtp is None:
            return data
        try:
            return self._srtp.protect(data)
        except SrtpError:
            self.counters.srtp_send_failed += 1
            return None

    def _protect_rtcp(self, data: bytes) -> bytes:
        if self._srtp is None:
            return data
        return self._srtp.protect_rtcp(data)

    def send_dtmf(self, digits: str, *, now: float, duration: float = 0.1) -> None:
        """Queue RFC 4733 events for each character of ``digits`` (0-9 * # A-D !).

        ``now`` is when the request was made; the events go out on the next
        ``encode_frame`` calls.

        Raises:
            ValueError: telephone-event was not negotiated, or a character or the
                duration is invalid.
        """
        cfg = self._config
        if cfg.telephone_event_pt is None:
            raise ValueError("telephone-event (RFC 4733) was not negotiated for this stream")
        if self._dtmf_sender is None:
            self._dtmf_sender = DtmfSender(clock_rate=cfg.telephone_event_clock_rate,
                                           ptime=cfg.ptime)
        self._dtmf_sender.send_digits(digits, duration=duration)

    @property
    def dtmf_busy(self) -> bool:
        """True while DTMF events are queued or being sent."""
        return self._dtmf_sender is not None and self._dtmf_sender.busy

    # -- receive path ----------------------------------------------------------------

    def receive(self, data: bytes, *, arrival: float) -> None:
        """Feed one datagram from a port that may carry RTP and RTCP (RFC 5761 §4)."""
        if is_rtcp(data):
            self.receive_rtcp(data, arrival=arrival)
        else:
            self.receive_rtp(data, arrival=arrival)

    def receive_rtp(self, data: bytes, *, arrival: float) -> None:
        """Feed one RTP datagram that arrived at ``arrival``; bad input is counted, not raised.

        With SRTP, a packet that fails authentication or the replay check is
        dropped before anything else looks at it (RFC 3711 §3.3), counted in
        ``srtp.counters``.
        """
        counters = self.counters
        if self._srtp is not None:
            plain = self._srtp.unprotect(data)
            if plain is None:
                return
            data = plain
        try:
            packet = RtpPacket.parse(data)
        except MalformedPacket:
            counters.malformed += 1
            return
        cfg = self._config
        pt = packet.payload_type
        is_event = cfg.telephone_event_pt is not None and pt == cfg.telephone_event_pt
        if not is_event and pt not in cfg.accepted:
            counters.unknown_payload_type += 1
            return
        if not self._accept_ssrc(packet.ssrc):
            counters.foreign_ssrc += 1
            return
        counters.packets_received += 1
        counters.bytes_received += len(data)
        if self.rtp_tap is not None:
            self.rtp_tap("recv", data)
        assert self._receiver is not None
        self._receiver.receive(packet.sequence_number, packet.timestamp, arrival=arrival)
        if is_event:
            self._receive_event(packet, arrival)
            return
        if not cfg.direction.receives:
            counters.discarded += 1
            return
        self._last_audio = (packet.sequence_number, packet.timestamp)
        self.jitter_buffer.put_payload(packet.sequence_number, packet.timestamp,
                                       bytes([pt]) + packet.payload, arrival=arrival,
                                 ssrc=packet.ssrc, marker=packet.marker)

    def _receive_event(self, packet: RtpPacket, arrival: float) -> None:
        cfg = self._config
        try:
            digit = self._dtmf_receiver.receive(packet.payload, packet.timestamp,
                                                marker=packet.marker)
        except ValueError:
            self.counters.malformed += 1
            return
        if not cfg.direction.receives:
            return
        if digit is not None:
            self.counters.dtmf_received += 1
            self._dtmf_events.append(digit)
        # The event packet takes the place of an audio frame: hold its sequence
        # number in the jitter buffer (played as silence) at the media time it
        # stands for, so the event neither looks like loss nor skews the jitter.
        if self._last_audio is not None and cfg.telephone_event_pt is not None:
            last_seq, last_ts = self._last_audio
            delta = (packet.sequence_number - last_seq) & 0xFFFF
            if 0 < delta < 0x8000:
                ts = (last_ts + delta * cfg.frame_samples) & _TS_MASK
                self.jitter_buffer.put_payload(packet.sequence_number, ts,
                                         bytes([cfg.telephone_event_pt]), arrival=arrival,
                                         ssrc=packet.ssrc)

    def _accept_ssrc(self, ssrc: int) -> bool:
        """Lock onto the first source; follow a new one after ``ssrc_switch_after`` packets."""
        if self._remote_ssrc is None:
            self._lock(ssrc)
            return True
        if ssrc == self._remote_ssrc:
            self._candidate = None
            self._candidate_count = 0
            return True
        if ssrc == self._candidate:
            self._candidate_count += 1
        else:
            self._candidate = ssrc
            self._candidate_count = 1
        if self._candidate_count >= self.ssrc_switch_after:
            self.counters.ssrc_changes += 1
            self._lock(ssrc)
            return True
        return False

    def _lock(self, ssrc: int) -> None:
        self._remote_ssrc = ssrc
        self._candidate = None
        self._candidate_count = 0
        self.remote_bye = False
        self._receiver = ReceiverStats(ssrc=ssrc, clock_rate=self._config.codec.clock_rate,
                                       min_sequential=1)
        self._dtmf_receiver = DtmfReceiver()
        self._last_audio = None
        if self._jitter is not None:
            self._jitter.reset()

    @property
    def remote_ssrc(self) -> int | None:
        """The source we listen to, or None before the first packet (or after its BYE)."""
        return self._remote_ssrc

    def pop_dtmf(self) -> list[DtmfDigit]:
        """The DTMF digits received since the last call, once per event, in order."""
        events, self._dtmf_events = self._dtmf_events, []
        return events

    def pull_audio(self, samples: int, *, now: float) -> Pcm:
        """``samples`` of decoded PCM (at ``config.audio_rate``) to play at ``now``.

        Pops the jitter buffer one packet at a time, as many packets as the
        requested duration needs: a frame is decoded, a missing one is concealed
        by the decoder (counted), and while the buffer fills the result is
        silence. Each codec's output goes through one resampler to the device rate.
        """
        cfg = self._config
        self._rx_owed += samples / cfg.audio_rate
        parts = [self._rx_fifo]
        while self._rx_owed > 1e-9:
            pcm, rate = self._next_decoded(now)
            self._rx_owed -= len(pcm) / rate if len(pcm) else cfg.ptime
            parts.append(self._rx_resampler(rate).process(pcm))
        if len(parts) == 2 and not len(parts[0]) and len(parts[1]) == samples:
            return parts[1]  # the usual tick: one whole packet, nothing queued
        return self._take_rx(parts, samples)

    def _take_rx(self, parts: list[Pcm], samples: int) -> Pcm:
        """``samples`` from the FIFO and the decoded ``parts``; the rest stays queued."""
        joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if len(joined) < samples:  # the resampler's start-up delay, once
            joined = np.concatenate((np.zeros(samples - len(joined), dtype=np.int16), joined))
        self._rx_fifo = joined[samples:]
        result: Pcm = joined[:samples].astype(np.int16, copy=False)
        return result

    def _next_decoded(self, now: float) -> tuple[Pcm, int]:
        """One packet's worth of PCM from the jitter buffer and the rate it is at."""
        cfg = self._config
        jitter = self._jitter
        # no buffer yet: nothing was received, the buffer would still be prefetching
        item = jitter.pop(now=now) if jitter is not None else None
        if isinstance(item, Frame):
            pt, body = item.payload[0], item.payload[1:]
            if pt == cfg.telephone_event_pt and pt not in cfg.accepted:
                self.counters.event_frames += 1
                return silence(cfg.pcm_samples), cfg.codec.sample_rate
            row = cfg.accepted.get(pt)
            if row is None:  # accepted before a re-negotiation dropped the type
                self.counters.silence_frames += 1
                return silence(cfg.pcm_samples), cfg.codec.sample_rate
            decoder = self._decoder(pt)
            pcm = decoder.decode(body)
            rate = row.decode_rate(cfg.audio_rate)
            self._last_decoder = decoder
            self._last_rate = rate
            self._last_pt = pt
            self.counters.frames_decoded += 1
            return pcm, rate
        if isinstance(item, Missing):
            self.counters.concealed_frames += 1
            last = self._last_decoder
            if last is not None and self.concealment:
                rate = self._last_rate
                samples = round(cfg.ptime * rate)
                following = jitter.peek_next() if jitter is not None else None
                if (self.fec and isinstance(last, OpusDecoder) and following
                        and following[0] == self._last_pt):
                    # RFC 7587 §3.2: the next packet's LBRR data is this lost frame
                    self.counters.fec_frames += 1
                    return last.recover(following[1:], samples), rate
                return last.conceal(samples), rate
            return silence(cfg.pcm_samples), cfg.codec.sample_rate
        self.counters.silence_frames += 1
        return silence(cfg.pcm_samples), cfg.codec.sample_rate

    def _rx_resampler(self, rate: int) -> _Leg:
        resampler = self._rx_resamplers.get(rate)
        if resampler is None:
            resampler = self._rx_resamplers[rate] = _resampler(rate, self._config.audio_rate)
        return resampler

    def _decoder(self, pt: int) -> Decoder:
        decoder = self._decoders.get(pt)
        if decoder is None:
            cfg = self._config
            row = cfg.accepted[pt]
            if row.name.upper() == "CN":
                # one CN packet stands for silence until the next: a packet's worth each
                decoder = CnDecoder(frame_samples=round(cfg.ptime * row.sample_rate))
            else:
                settings = cfg.receive_settings.get(pt)
                rate = row.decode_rate(cfg.audio_rate)
                if rate != row.sample_rate:
                    settings = dataclasses.replace(settings or CodecSettings(), output_rate=rate)
                decoder = row.decoder(settings)
            self._decoders[pt] = decoder
        return decoder

    # -- RTCP -----------------------------------------------------------------------------

    def _interval(self) -> float:
        """``T`` times a factor uniform in [0.5, 1.5) from ``ids`` (RFC 3550 §6.3.1)."""
        return self.rtcp_interval * (0.5 + (self._ids.ssrc() & _TS_MASK) / 2**32)

    def rtcp_due(self, now: float) -> bool:
        """True when a report should be built and sent at ``now``."""
        return now >= self.next_rtcp_at

    def _report(self, now: float) -> RtcpSrPacket | RtcpRrPacket:
        """SR when we sent RTP since the last report, else RR (RFC 3550 §6.4)."""
        receiver = self._receiver
        blocks = [receiver.report_block(now=now)] if receiver is not None and receiver.valid \
            else []
        if self._sent_since_report:
            self._sent_since_report = False
            return self._sender.sender_report(self.ssrc, wallclock=now + self.wallclock_offset,
                                              reports=blocks, now=now)
        return RtcpRrPacket(self.ssrc, blocks)

    def build_rtcp(self, *, now: float) -> bytes:
        """A compound report (SR or RR, then SDES CNAME) and the next due time.

        RFC 3550 §6.1: "Each individual RTCP packet in the compound packet ...
        MUST contain a report packet (SR or RR) first ... and an SDES CNAME".
        """
        packets: list[RtcpPacket] = [self._report(now), RtcpSdesPacket.cname(self.ssrc,
                                                                               self.cname)]
        self.next_rtcp_at = now + self._interval()
        self.counters.rtcp_sent += 1
        return self._protect_rtcp(build_compound(packets))

    def build_bye(self, *, now: float, reason: str | None = None) -> bytes:
        """A compound report ending in BYE for our SSRC (RFC 3550 §6.6), to send on close."""
        packets: list[RtcpPacket] = [
            self._report(now),
            RtcpSdesPacket.cname(self.ssrc, self.cname),
            RtcpByePacket((self.ssrc,), reason),
        ]
        self.counters.rtcp_sent += 1
        return self._protect_rtcp(build_compound(packets))

    def receive_rtcp(self, data: bytes, *, arrival: float) -> None:
        """Feed one RTCP datagram: SRs for LSR, report blocks for RTT, BYE to unlock.

        With SRTP, SRTCP that fails authentication or replay checks is dropped
        (counted in ``srtp.counters``).
        """
        if self._srtp is not None:
            plain = self._srtp.unprotect_rtcp(data)
            if plain is None:
                return
            data = plain
        try:
            packets = parse_rtcp(data)
        except MalformedPacket:
            self.counters.rtcp_malformed += 1
            return
        self.counters.rtcp_received += 1
        for packet in packets:
            blocks: list[ReportBlock] = []
            if isinstance(packet, RtcpSrPacket):
                if packet.ssrc == self._remote_ssrc and self._receiver is not None:
                    self._receiver.record_sender_report(packet.ntp_timestamp, arrival=arrival)
                blocks = packet.reports
            elif isinstance(packet, RtcpRrPacket):
                blocks = packet.reports
            elif (isinstance(packet, RtcpByePacket) and self._remote_ssrc is not None
                  and self._remote_ssrc in packet.ssrcs):
                self._remote_ssrc = None  # the next source is locked at once
                self.remote_bye = True
            for block in blocks:
                if block.ssrc != self.ssrc:
                    continue
                self._remote_report = block
                arrived = ntp_middle32(ntp_from_seconds(arrival + self.wallclock_offset))
                measured = rtt(arrived, block.lsr, block.dlsr)
                if measured is not None:
                    self._rtt = measured

    @property
    def rtt(self) -> float | None:
        """The last round-trip time measured from a report block, seconds (RFC 3550 §6.4.1)."""
        return self._rtt

    @property
    def remote_report(self) -> ReportBlock | None:
        """The last report block the remote sent about our stream."""
        return self._remote_report

    # -- statistics ---------------------------------------------------------------------

    def statistics(self, now: float) -> dict[str, int | float | str | None]:
        """A snapshot of the stream's counters and quality figures at ``now``.

        ``lost`` and ``fraction_lost`` are cumulative over the locked source
        (RFC 3550 A.3); ``jitter_ms`` is the A.8 estimate; ``rtt_ms`` is None until
        a report block with LSR came back; ``remote_*`` come from the peer's reports.
        """
        c = self.counters
        receiver = self._receiver
        expected = receiver.expected if receiver is not None else 0
        lost = receiver.cumulative_lost if receiver is not None else 0
        remote = self._remote_report
        jitter = self.jitter_buffer
        return {
            "codec": self._config.codec.name,
            "payload_type": self._config.payload_type,
            "direction": self._config.direction.value,
            "ssrc": self.ssrc,
            "remote_ssrc": self._remote_ssrc,
            "packets_sent": c.packets_sent,
            "bytes_sent": c.bytes_sent,
            "packets_received": c.packets_received,
            "bytes_received": c.bytes_received,
            "lost": lost,
            "fraction_lost": max(0, lost) / expected if expected > 0 else 0.0,
            "jitter_ms": 1000 * receiver.jitter_seconds if receiver is not None else 0.0,
            "rtt_ms": None if self._rtt is None else 1000 * self._rtt,
            "late": jitter.stats.late,
            "duplicates": jitter.stats.duplicates,
            "jitter_discarded": jitter.stats.discarded,
            "malformed": c.malformed,
            "concealed_frames": c.concealed_frames,
            "fec_frames": c.fec_frames,
            "underruns": jitter.stats.underruns,
            "jitter_buffer_delay_ms": 1000 * jitter.delay,
            "dtmf_sent": c.dtmf_sent,
            "dtmf_received": c.dtmf_received,
            "rtcp_sent": c.rtcp_sent,
            "rtcp_received": c.rtcp_received,
            "remote_fraction_lost": None if remote is None else remote.fraction_lost / 256,
            "remote_lost": None if remote is None else remote.packets_lost,
            "remote_jitter_ms": None if remote is None
            else 1000 * remote.jitter / self._config.codec.clock_rate,
            "cn_sent": c.cn_sent,
            "suppressed_frames": c.suppressed_frames,
            "keepalive_sent": c.keepalive_sent,
            "unknown_payload_type": c.unknown_payload_type,
            **self._srtp_statistics(),
            "time": now,
        }

    def _srtp_statistics(self) -> dict[str, int | float | str | None]:
        """``srtp`` (the suite, or None) and the ``srtp_*`` packet counters."""
        srtp = self._srtp
        if srtp is None:
            return {"srtp": None}
        k = srtp.counters
        return {
            "srtp": srtp.send_key.suite.name,
            "srtp_protected": k.protected,
            "srtp_unprotected": k.unprotected,
            "srtp_replayed": k.replayed,
            "srtp_auth_failed": k.auth_failed,
            "srtp_malformed": k.malformed,
            "srtp_expired": k.expired,
            "srtp_rtcp_protected": k.rtcp_protected,
            "srtp_rtcp_unprotected": k.rtcp_unprotected,
            "srtp_rtcp_dropped": (k.rtcp_replayed + k.rtcp_auth_failed + k.rtcp_malformed
                                  + k.rtcp_expired),
            "srtp_send_failed": self.counters.srtp_send_failed,
        }

    @property
    def jitter_buffer(self) -> JitterBuffer:
        """The receive jitter buffer (for its ``stats`` and ``delay``).

        Made on first use (the first packet received): a call that ends before any
        packet arrives never builds one."""
        jitter = self._jitter
        if jitter is None:
            jitter = self._jitter = self._new_jitter_buffer()
        return jitter
