"""L1: pure media — RTP/RTCP packets, statistics, RFC 4733 DTMF, codecs, frames,
passive ports, the jitter buffer, SRTP, recording and playback, the conference
bridge, capture-side processing (VAD, CNG, AEC, ANS, AGC).

Knows: RFC 3550, RFC 4733, RFC 3711, codecs (G.711 through numpy tables, the others
through PyAV), numpy frames, media files.
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
from voipkit.media.player import FilePlayer, MediaFileError, PlayMode, mix_into
from voipkit.media.ports import (
    MediaSink,
    MediaSource,
    NullSink,
    SilenceSource,
    ToneSource,
    WavFileSink,
    WavFileSource,
)
from voipkit.media.quality import statistics_document
from voipkit.media.recorder import Recorder, RecordMode
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
from voipkit.media.srtp import SrtpContext, SrtpError, SrtpPolicy
from voipkit.media.stats import ReceiverStats, SenderStats

__all__ = [
    "DEFAULT_CODECS",
    "FULL_CODECS",
    "LOCAL_DEVICE",
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "AudioFrame",
    "CodecRegistry",
    "CodecSpec",
    "ConferenceBridge",
    "DtmfDigit",
    "DtmfReceiver",
    "DtmfSender",
    "FilePlayer",
    "Frame",
    "JitterBuffer",
    "MalformedPacket",
    "MediaFileError",
    "MediaSink",
    "MediaSource",
    "Missing",
    "NullSink",
    "PlayMode",
    "Prefetching",
    "ReceiverStats",
    "RecordMode",
    "Recorder",
    "ReportBlock",
    "RtcpByePacket",
    "RtcpRrPacket",
    "RtcpSdesPacket",
    "RtcpSrPacket",
    "RtcpUnknownPacket",
    "RtpPacket",
    "SenderStats",
    "SilenceSource",
    "SrtpContext",
    "SrtpError",
    "SrtpPolicy",
    "TelephoneEvent",
    "ToneSource",
    "WavFileSink",
    "WavFileSource",
    "build_compound",
    "dominant_frequency",
    "is_rtcp",
    "level_dbfs",
    "mix",
    "mix_into",
    "mix_minus",
    "parse_rtcp",
    "statistics_document",
]
