"""Audio codecs for RTP: protocols, the codec table, bit-exact G.711, and rows over PyAV.

Knows: PCM frames as int16 numpy arrays, payload bytes, the SDP-visible
description of each codec (name, clock rate, channels, payload type, fmtp).
Must not know: RTP headers, SDP text, sockets or the clock.

``FULL_CODECS`` holds every row this FFmpeg build can both encode and decode
(probed at import, see docs/codecs.md); decode-only codecs (GSM, iLBC,
G.729, AMR-WB) are never offered.
"""

from voipkit.media.codecs.amr import AMR, AMR_AVAILABLE, AmrDecoder, AmrEncoder
from voipkit.media.codecs.base import Decoder, Encoder, Pcm
from voipkit.media.codecs.cn import CN, CnDecoder, CnEncoder
from voipkit.media.codecs.g711 import G711Decoder, G711Encoder
from voipkit.media.codecs.g722 import G722, G722_AVAILABLE
from voipkit.media.codecs.g7231 import G723, G7231_AVAILABLE
from voipkit.media.codecs.opus import OPUS, OPUS_AVAILABLE
from voipkit.media.codecs.pyav import (
    CodecUnavailableError,
    PyAvDecoder,
    PyAvEncoder,
    WaveformConcealer,
)
from voipkit.media.codecs.registry import (
    DEFAULT_CODECS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    CodecCapability,
    CodecRegistry,
    CodecSettings,
    CodecSpec,
)

# Offer order: wideband first, then G.711 (universal), then the narrowband rest.
FULL_CODECS = CodecRegistry(
    spec
    for spec, available in (
        (OPUS, OPUS_AVAILABLE),
        (G722, G722_AVAILABLE),
        (PCMU, True),
        (PCMA, True),
        (AMR, AMR_AVAILABLE),
        (G723, G7231_AVAILABLE),
        (CN, True),
        (TELEPHONE_EVENT, True),
    )
    if available
)
ALL_CODECS = FULL_CODECS

__all__ = [
    "ALL_CODECS",
    "AMR",
    "CN",
    "DEFAULT_CODECS",
    "FULL_CODECS",
    "G722",
    "G723",
    "OPUS",
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "AmrDecoder",
    "AmrEncoder",
    "CnDecoder",
    "CnEncoder",
    "CodecCapability",
    "CodecRegistry",
    "CodecSettings",
    "CodecSpec",
    "CodecUnavailableError",
    "Decoder",
    "Encoder",
    "G711Decoder",
    "G711Encoder",
    "Pcm",
    "PyAvDecoder",
    "PyAvEncoder",
    "WaveformConcealer",
]
