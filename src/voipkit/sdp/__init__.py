"""L1: the SDP model, parser and RFC 3264 offer/answer.

Knows: RFC 8866 (formerly 4566) session descriptions, the attributes a VoIP stack reads
from them, and RFC 3264 negotiation over codec capability rows.
Must not know: SIP, RTP packets, codecs beyond their SDP names, sockets, asyncio, or the
clock. Imports only the standard library and ``voipkit.base``. This module only
re-exports what ``model``, ``parse`` and ``negotiate`` define.
"""

from voipkit.sdp.errors import NegotiationError, SdpError
from voipkit.sdp.model import (
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Bandwidth,
    Connection,
    Crypto,
    Direction,
    KeyParam,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SessionDescription,
    Ssrc,
    Timing,
)
from voipkit.sdp.negotiate import (
    CodecCapability,
    MediaOffer,
    NegotiatedMedia,
    create_offer,
    is_hold,
    negotiate_answer,
    new_crypto,
    next_version,
    offer_media,
    process_answer,
    rtcp_feedback,
)
from voipkit.sdp.parse import parse_sdp

__all__ = [
    "STATIC_PAYLOAD_TYPES",
    "Attribute",
    "Bandwidth",
    "CodecCapability",
    "Connection",
    "Crypto",
    "Direction",
    "KeyParam",
    "MediaDescription",
    "MediaOffer",
    "NegotiatedMedia",
    "NegotiationError",
    "Origin",
    "Rtcp",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "Ssrc",
    "Timing",
    "create_offer",
    "is_hold",
    "negotiate_answer",
    "new_crypto",
    "next_version",
    "offer_media",
    "parse_sdp",
    "process_answer",
    "rtcp_feedback",
]
