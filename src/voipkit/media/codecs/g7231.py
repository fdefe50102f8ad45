"""G.723.1 at 6.3 kb/s over FFmpeg's ``g723_1`` encoder and decoder.

Knows: RFC 3551 §4.5.3 — static payload type 4, 8000 Hz, 30 ms frames
(240 samples); a 6.3 kb/s frame is 24 octets, a 5.3 kb/s frame 20, a SID
frame 4 (the two low bits of the first octet say which). FFmpeg encodes
6.3 kb/s only and never sends SID frames; it decodes all frame types. A
packet of several frames is the frames concatenated.
Must not know: RTP headers, SDP text, sockets or the clock.
"""

from __future__ import annotations

from voipkit.media.codecs.pyav import PyAvDecoder, PyAvEncoder, can_decode, can_encode
from voipkit.media.codecs.registry import CodecSettings, CodecSpec

__all__ = ["G723", "G7231_AVAILABLE", "g7231_decoder", "g7231_encoder"]

SAMPLE_RATE = 8000
FRAME_SAMPLES = 240  # 30 ms
FRAME_DURATION = 0.03
BIT_RATE = 6300  # the only rate FFmpeg's encoder implements: 24-octet frames
G7231_AVAILABLE = can_encode("g723_1") and can_decode("g723_1")


def g7231_encoder(settings: CodecSettings | None = None) -> PyAvEncoder:
    """An encoder taking ``ptime`` worth of samples (a multiple of 30 ms)."""
    ptime = settings.ptime if settings is not None and settings.ptime else FRAME_DURATION
    frames = max(1, round(ptime / FRAME_DURATION))
    return PyAvEncoder(
        "g723_1", sample_rate=SAMPLE_RATE, frame_samples=FRAME_SAMPLES * frames, bit_rate=BIT_RATE
    )


def g7231_decoder(settings: CodecSettings | None = None) -> PyAvDecoder:
    """A decoder for concatenated 6.3, 5.3 kb/s and SID frames."""
    return PyAvDecoder("g723_1", sample_rate=SAMPLE_RATE)


G723 = CodecSpec(
    name="G723",
    clock_rate=8000,
    sample_rate=SAMPLE_RATE,
    static_payload_type=4,
    frame_duration=FRAME_DURATION,
    make_encoder=g7231_encoder,
    make_decoder=g7231_decoder,
    make_encoder_with=g7231_encoder,
    make_decoder_with=g7231_decoder,
)
