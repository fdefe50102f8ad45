"""L1: pure media — RTP/RTCP packets, statistics, RFC 4733 DTMF, codecs, frames,
passive ports, the jitter buffer.

Knows: RFC 3550, RFC 4733, G.711 through numpy tables, numpy frames, WAV files.
Must not know: SIP, sockets, asyncio, threads, or the clock (callers pass
``now``/``arrival``). Imports ``voipkit.base`` and ``voipkit.sdp`` only.
"""

from voipkit.media.codecs import (
    DEFAULT_CODECS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    CodecRegistry,
    CodecSpec,
)
from voipkit.media.dtmf import DtmfDigit, DtmfReceiver, DtmfSender, TelephoneEvent
from voipkit.media.frames import AudioFrame, dominant_frequency, level_dbfs, mix, mix_minus
from voipkit.media.jitter import Frame, JitterBuffer, Missing, Prefetching
from voipkit.media.ports import (
    MediaSink,
    MediaSource,
    NullSink,
    SilenceSource,
    ToneSource,
    WavFileSink,
    WavFileSource,
)
from voipkit.media.rtcp import (
    ReportBlock,
    RtcpByePacket,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSrPacket,
    RtcpUnknownPacket,
    build_compound,
    parse_rtcp,
)
from voipkit.media.rtp import MalformedPacket, RtpPacket, is_rtcp
from voipkit.media.stats import ReceiverStats, SenderStats

__all__ = [
    "DEFAULT_CODECS",
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "AudioFrame",
    "CodecRegistry",
    "CodecSpec",
    "DtmfDigit",
    "DtmfReceiver",
    "DtmfSender",
    "Frame",
    "JitterBuffer",
    "MalformedPacket",
    "MediaSink",
    "MediaSource",
    "Missing",
    "NullSink",
    "Prefetching",
    "ReceiverStats",
    "ReportBlock",
    "RtcpByePacket",
    "RtcpRrPacket",
    "RtcpSdesPacket",
    "RtcpSrPacket",
    "RtcpUnknownPacket",
    "RtpPacket",
    "SenderStats",
    "SilenceSource",
    "TelephoneEvent",
    "ToneSource",
    "WavFileSink",
    "WavFileSource",
    "build_compound",
    "dominant_frequency",
    "is_rtcp",
    "level_dbfs",
    "mix",
    "mix_minus",
    "parse_rtcp",
]
