"""Audio codecs for RTP: protocols, the codec table, and bit-exact G.711.

Knows: PCM frames as int16 numpy arrays, payload bytes, the SDP-visible
description of each codec (name, clock rate, channels, payload type, fmtp).
Must not know: RTP headers, SDP text, sockets or the clock.
"""

from voipkit.media.codecs.base import Decoder, Encoder, Pcm
from voipkit.media.codecs.g711 import G711Decoder, G711Encoder
from voipkit.media.codecs.registry import (
    DEFAULT_CODECS,
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    CodecCapability,
    CodecRegistry,
    CodecSpec,
)

__all__ = [
    "DEFAULT_CODECS",
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "CodecCapability",
    "CodecRegistry",
    "CodecSpec",
    "Decoder",
    "Encoder",
    "G711Decoder",
    "G711Encoder",
    "Pcm",
]
