"""Opus over FFmpeg's ``libopus``, with the RFC 7587 fmtp turned into encoder options.

Knows: RFC 7587 — the rtpmap is always ``opus/48000/2`` (§7) whatever is
sent; the RTP clock is 48000 Hz; one Opus packet per RTP packet, of 2.5 to
120 ms (we use 10, 20, 40 or 60 ms, the ``ptime``); the receiver's fmtp
(§6.1) asks the sender for: ``maxaveragebitrate`` (6000–510000 b/s),
``useinbandfec=1`` (send LBRR data for the previous frame), ``stereo=1``
(prefers stereo), ``maxplaybackrate`` (no point coding above that audio
bandwidth), ``ptime``. ``sprop-stereo`` and ``sprop-maxcapturerate`` are
what the sender will send; decoding is always to mono here, which libopus
downmixes, at the device rate (8, 12, 16, 24 or 48 kHz: RFC 6716 §2).
Must not know: RTP headers, SDP text, sockets or the clock.

Cost: libopus ``complexity`` (FFmpeg ``compression_level``) dominates the
per-frame cost (bench/bench_codecs.py); we default to 5 of 10, which keeps
speech quality close to 10 at about half the CPU. ``application=voip``.

FEC and PLC: FFmpeg's libopus decoder never passes ``decode_fec=1`` to
libopus and treats an empty packet as end of stream, so decoding goes through
our own binding of the libopus decoder (libopus.py): ``conceal`` is libopus's
PLC and ``recover`` decodes the LBRR copy of a lost frame from the packet after
it (the stream uses it when that packet is already in the jitter buffer). We
honour a peer's ``useinbandfec=1`` when we send, but our own fmtp does not ask
for it by default: LBRR is paid for inside the same bitrate (at 32 kb/s ~0.55
PESQ-WB on a clean path, for 0.5-0.9 gained at 5 % loss, docs/codecs.md), and
PyAV cannot retune an open encoder to code it only while loss is seen.
``setAudioCodecParameter("opus", "useinbandfec=1")`` asks peers for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from voipkit.media.codecs.libopus import OpusDecoder, libopus_available
from voipkit.media.codecs.pyav import PyAvEncoder, can_encode
from voipkit.media.codecs.registry import CodecSettings, CodecSpec

__all__ = [
    "DEFAULT_BITRATE",
    "DEFAULT_COMPLEXITY",
    "INPUT_RATES",
    "OPUS",
    "OPUS_AVAILABLE",
    "OpusOptions",
    "opus_decoder",
    "opus_encoder",
    "opus_options",
]

SAMPLE_RATE = 48000
INPUT_RATES = (8000, 12000, 16000, 24000, SAMPLE_RATE)
DEFAULT_BITRATE = 32000  # per channel-pair; good wideband/fullband speech
DEFAULT_COMPLEXITY = 5
FEC_PACKET_LOSS = 10  # % loss libopus plans LBRR data for (it needs a non-zero figure)
_FRAME_MS = (10, 20, 40, 60)
# RFC 7587 §6.1 maxplaybackrate -> the audio bandwidth worth coding (FFmpeg "cutoff", Hz)
_CUTOFF = ((8000, 4000), (12000, 6000), (16000, 8000), (24000, 12000))
_ENCODER = "libopus"
OPUS_AVAILABLE = can_encode(_ENCODER) and libopus_available()


@dataclass(frozen=True, slots=True)
class OpusOptions:
    """The encoder settings a peer's fmtp and our own choices come to."""

    bitrate: int  # b/s
    channels: int  # 2 only when the peer's fmtp says stereo=1
    fec: bool  # in-band FEC (LBRR), when the peer's fmtp says useinbandfec=1
    frame_ms: int  # one Opus frame per RTP packet: 10, 20, 40 or 60
    cutoff: int | None  # audio bandwidth in Hz from maxplaybackrate, None for fullband
    complexity: int  # libopus complexity 0-10


def _int(fmtp: Mapping[str, str], key: str) -> int | None:
    for name, value in fmtp.items():
        if name.lower() == key:
            try:
                return int(float(value.strip()))
            except ValueError:
                return None
    return None


def opus_options(
    fmtp: Mapping[str, str],
    *,
    ptime: float | None = None,
    bitrate: int | None = None,
    complexity: int = DEFAULT_COMPLEXITY,
) -> OpusOptions:
    """Encoder settings for sending to a peer whose a=fmtp is ``fmtp`` (RFC 7587 §6.1).

    ``bitrate`` (the application's choice) is capped by ``maxaveragebitrate``
    and clamped to 6000–510000; ``ptime`` (seconds, from a=ptime) wins over an
    fmtp ``ptime`` and is rounded down to 10/20/40/60 ms.
    """
    channels = 2 if _int(fmtp, "stereo") == 1 else 1
    rate = bitrate if bitrate is not None else DEFAULT_BITRATE * channels
    cap = _int(fmtp, "maxaveragebitrate")
    if cap is not None and cap > 0:
        rate = min(rate, cap)
    rate = max(6000, min(510000, rate))
    ms = round(ptime * 1000) if ptime else _int(fmtp, "ptime") or 20
    frame_ms = max([m for m in _FRAME_MS if m <= ms], default=10)
    playback = _int(fmtp, "maxplaybackrate")
    cutoff = None
    if playback is not None:
        cutoff = next((hz for limit, hz in _CUTOFF if playback <= limit), None)
    return OpusOptions(
        bitrate=rate,
        channels=channels,
        fec=_int(fmtp, "useinbandfec") == 1,
        frame_ms=frame_ms,
        cutoff=cutoff,
        complexity=max(0, min(10, complexity)),
    )


def opus_encoder(settings: CodecSettings | None = None) -> PyAvEncoder:
    """An encoder for one packet of ``frame_ms`` mono samples per ``encode()``, at
    ``settings.input_rate`` (one of ``INPUT_RATES``) or else 48 kHz."""
    s = settings if settings is not None else CodecSettings()
    opts = opus_options(s.remote_fmtp, ptime=s.ptime, bitrate=s.bitrate)
    return encoder_for(opts, input_rate=s.input_rate or SAMPLE_RATE)


def encoder_for(opts: OpusOptions, *, input_rate: int = SAMPLE_RATE) -> PyAvEncoder:
    """An encoder built from explicit options, fed PCM at ``input_rate``.

    libopus codes 8, 12, 16, 24 and 48 kHz input alike (RFC 6716 §2; the packets
    and the 48 kHz RTP clock are the same). Feeding 16 kHz audio as it is costs
    less than upsampling it first, and codes better: libopus sees a wideband
    signal and spends every bit below 8 kHz (bench/bench_opus_chain.py).
    """
    if input_rate not in INPUT_RATES:
        raise ValueError(f"libopus takes {INPUT_RATES} Hz input, not {input_rate}")
    av_options = {
        "application": "voip",
        "frame_duration": str(opts.frame_ms),
        "compression_level": str(opts.complexity),
    }
    if opts.fec:
        av_options["fec"] = "1"
        av_options["packet_loss"] = str(FEC_PACKET_LOSS)
    if opts.cutoff is not None:
        av_options["cutoff"] = str(opts.cutoff)
    return PyAvEncoder(
        _ENCODER,
        sample_rate=input_rate,
        frame_samples=input_rate * opts.frame_ms // 1000,
        bit_rate=opts.bitrate,
        options=av_options,
        channels=opts.channels,
    )


def opus_decoder(settings: CodecSettings | None = None) -> OpusDecoder:
    """A libopus decoder giving mono (stereo packets are downmixed) at
    ``settings.output_rate`` (one of ``INPUT_RATES``) or else 48 kHz, with
    libopus PLC and in-band FEC recovery."""
    rate = settings.output_rate if settings is not None else None
    return OpusDecoder(rate or SAMPLE_RATE, 1)


OPUS = CodecSpec(
    name="opus",
    clock_rate=SAMPLE_RATE,
    sample_rate=SAMPLE_RATE,
    channels=2,  # RFC 7587 §7: always "opus/48000/2"; mono unless fmtp stereo=1
    preferred_payload_type=111,
    # No useinbandfec=1 by default: without a loss-driven encoder (PyAV cannot retune an
    # open libopus encoder) LBRR costs ~0.6 PESQ on every clean call; we still decode the
    # LBRR of peers that send it, and setAudioCodecParameter("opus", "useinbandfec=1")
    # asks for it (docs/codecs.md "Loss concealment and FEC").
    fmtp=MappingProxyType({}),
    make_encoder=opus_encoder,
    make_decoder=opus_decoder,
    make_encoder_with=opus_encoder,
    make_decoder_with=opus_decoder,
    input_rates=INPUT_RATES[:-1],
    output_rates=INPUT_RATES[:-1],
)
