"""The PortSIP SDK's enumerations, with the numeric values its C# ``PortSIPEnums.cs`` uses.

Knows: the vendor's names and numbers only. Must not know: voipkit's own types —
``lib.py`` translates these values to ``voipkit.api`` settings. The manual names
the members without their values; the values are PortSIP's (SDK version 19), so a
ported program that stores or compares them as integers keeps working.

Members are spelled as the vendor spells them (``SESSION_REFERESH_UAC`` included).
Which members voipkit can honour is said per member; the others exist so that a
ported program imports, and ``lib.py`` answers ``INVALID_ARGUMENT`` (logged) when
one is passed.
"""

from __future__ import annotations

from enum import IntEnum


class TRANSPORT_TYPE(IntEnum):  # noqa: N801  (vendor spelling)
    """Transport for SIP signaling (``initialize``)."""

    TRANSPORT_UDP = 0
    TRANSPORT_TLS = 1
    "Listening on TLS needs a certificate, which initialize() cannot take: not usable yet."
    TRANSPORT_TCP = 2
    TRANSPORT_PERS = 3
    "PortSIP's private anti-blocking transport: not supported by voipkit."


class PORTSIP_LOG_LEVEL(IntEnum):  # noqa: N801
    """Log level of ``initialize``; mapped onto the stdlib ``logging`` levels."""

    PORTSIP_LOG_NONE = -1
    PORTSIP_LOG_ERROR = 1
    PORTSIP_LOG_WARNING = 2
    PORTSIP_LOG_INFO = 3
    PORTSIP_LOG_DEBUG = 4


class AUDIOCODEC_TYPE(IntEnum):  # noqa: N801
    """Audio codecs; the value is the RTP payload type PortSIP uses (RFC 3551 for static ones)."""

    AUDIOCODEC_NONE = -1
    AUDIOCODEC_PCMU = 0
    AUDIOCODEC_GSM = 3
    AUDIOCODEC_PCMA = 8
    AUDIOCODEC_G722 = 9
    AUDIOCODEC_G729 = 18
    AUDIOCODEC_ILBC = 97
    AUDIOCODEC_AMR = 98
    AUDIOCODEC_AMRWB = 99
    AUDIOCODEC_SPEEX = 100
    AUDIOCODEC_DTMF = 101
    AUDIOCODEC_SPEEXWB = 102
    AUDIOCODEC_ISACWB = 103
    AUDIOCODEC_ISACSWB = 104
    AUDIOCODEC_OPUS = 105
    AUDIOCODEC_G7221 = 121


class VIDEOCODEC_TYPE(IntEnum):  # noqa: N801
    """Video codecs (voipkit sends H.264 and VP8; compat/portsip/video.py)."""

    VIDEO_CODE_NONE = -1
    VIDEO_CODEC_H263 = 34
    VIDEO_CODEC_I420 = 113
    VIDEO_CODEC_H263_1998 = 115
    VIDEO_CODEC_VP8 = 120
    VIDEO_CODEC_VP9 = 122
    VIDEO_CODEC_H264 = 125


class SRTP_POLICY(IntEnum):  # noqa: N801
    """SRTP policy (``setSrtpPolicy``)."""

    SRTP_POLICY_NONE = 0
    SRTP_POLICY_FORCE = 1
    SRTP_POLICY_PREFER = 2


class DTMF_METHOD(IntEnum):  # noqa: N801
    """How ``sendDtmf`` sends a tone."""

    DTMF_RFC2833 = 0
    "telephone-event packets in the RTP stream (RFC 4733, which obsoletes RFC 2833)."
    DTMF_INFO = 1
    "SIP INFO with an application/dtmf-relay body."


class SESSION_REFRESH_MODE(IntEnum):  # noqa: N801
    """Who refreshes the session (``enableSessionTimer``, RFC 4028 §7.1 refresher)."""

    SESSION_REFERESH_UAC = 0
    SESSION_REFERESH_UAS = 1


class DIRECTION_MODE(IntEnum):  # noqa: N801
    """Stream direction (RTP and stream callbacks)."""

    DIRECTION_NONE = 0
    DIRECTION_SEND_RECV = 1
    DIRECTION_SEND = 2
    DIRECTION_RECV = 3
    DIRECTION_INACTIVE = 4


class RECORD_MODE(IntEnum):  # noqa: N801
    """What ``startRecord`` records (``audioRecordMode``, ``videoRecordMode``)."""

    RECORD_NONE = 0
    RECORD_RECV = 1
    "What is received: the remote party."
    RECORD_SEND = 2
    "What is sent: the local party."
    RECORD_BOTH = 3


class FILE_FORMAT(IntEnum):  # noqa: N801
    """The container of a ``startRecord`` file."""

    FILEFORMAT_NONE = 0
    FILEFORMAT_WAVE = 1
    "16-bit PCM WAV (``.wav``)."
    FILEFORMAT_AMR = 2
    "AMR storage format (RFC 4867 §5): voipkit cannot write it yet."
    FILEFORMAT_MP4 = 3
    "AAC audio in MP4 (``.mp4`` / ``.m4a``)."


DTMF_TONES = "0123456789*#ABCD!"
"``sendDtmf``'s code and ``onRecvDtmfTone``'s tone: index 0-16 (16, ``!``, is FLASH)."

__all__ = [
    "AUDIOCODEC_TYPE",
    "DIRECTION_MODE",
    "DTMF_METHOD",
    "DTMF_TONES",
    "FILE_FORMAT",
    "PORTSIP_LOG_LEVEL",
    "RECORD_MODE",
    "SESSION_REFRESH_MODE",
    "SRTP_POLICY",
    "TRANSPORT_TYPE",
    "VIDEOCODEC_TYPE",
]
