"""G.722 (64 kb/s sub-band ADPCM) over FFmpeg's ``g722`` encoder and decoder.

Knows: RFC 3551 §4.5.2 — static payload type 9, RTP clock 8000 Hz although the
codec samples at 16000 Hz (an historical error kept for compatibility), so
20 ms is 320 samples in and 160 bytes out, and RTP timestamps advance 160.
G.722 is a byte stream: a packet of several 20 ms frames is their bytes
concatenated.
Must not know: RTP headers, SDP text, sockets or the clock.
"""

from __future__ import annotations

from voipkit.media.codecs.pyav import PyAvDecoder, PyAvEncoder, can_decode, can_encode
from voipkit.media.codecs.registry import CodecSettings, CodecSpec

__all__ = ["G722", "G722_AVAILABLE", "g722_decoder", "g722_encoder"]

SAMPLE_RATE = 16000
FRAME_SAMPLES = 320  # 20 ms at 16 kHz -> 160 octets
G722_AVAILABLE = can_encode("g722") and can_decode("g722")


def g722_encoder(settings: CodecSettings | None = None) -> PyAvEncoder:
    """An encoder taking ``ptime`` worth of 16 kHz samples (a multiple of 20 ms)."""
    ptime = settings.ptime if settings is not None and settings.ptime else 0.02
    frames = max(1, round(ptime / 0.02))
    return PyAvEncoder("g722", sample_rate=SAMPLE_RATE, frame_samples=FRAME_SAMPLES * frames)


def g722_decoder(settings: CodecSettings | None = None) -> PyAvDecoder:
    """A decoder giving 16 kHz samples, two per payload octet."""
    return PyAvDecoder("g722", sample_rate=SAMPLE_RATE)


G722 = CodecSpec(
    name="G722",
    clock_rate=8000,  # RFC 3551 §4.5.2: the RTP clock is 8000 Hz, the audio 16000 Hz
    sample_rate=SAMPLE_RATE,
    static_payload_type=9,
    make_encoder=g722_encoder,
    make_decoder=g722_decoder,
    make_encoder_with=g722_encoder,
    make_decoder_with=g722_decoder,
)
