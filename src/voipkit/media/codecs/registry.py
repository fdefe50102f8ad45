"""Codecs as rows of a table (style guide example 8) and the registry that finds them.

Knows: what SDP says about a codec (rtpmap encoding name, clock rate,
channels, static payload type, fmtp) and how to build its encoder/decoder.
Must not know: SDP text, RTP packets, sockets or the clock.

``CodecRegistry.capabilities()`` returns ``voipkit.sdp.CodecCapability`` rows
(media-contract.md), the only view of a codec that offer/answer needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from voipkit.media.codecs.base import Decoder, Encoder
from voipkit.media.codecs.g711 import G711Decoder, G711Encoder
from voipkit.sdp import CodecCapability

__all__ = [
    "DEFAULT_CODECS",
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "CodecCapability",
    "CodecRegistry",
    "CodecSettings",
    "CodecSpec",
]


def _no_codec() -> Encoder:
    raise TypeError("this row carries events, not audio: it has no encoder or decoder")


def _no_decoder() -> Decoder:
    raise TypeError("this row carries events, not audio: it has no encoder or decoder")


@dataclass(frozen=True, slots=True, kw_only=True)
class CodecSettings:
    """What one leg negotiated and chose for a codec, for rows whose codec takes options.

    ``remote_fmtp`` is the peer's a=fmtp (how it wants to receive: it shapes our
    encoder); ``local_fmtp`` is ours (how we receive: it shapes our decoder).
    ``ptime`` is seconds of audio per RTP packet; ``bitrate`` is bits per second.
    ``input_rate`` is the PCM rate the encoder is fed, one of the row's
    ``input_rates`` (None: the row's ``sample_rate``); ``output_rate`` is the
    PCM rate the decoder gives, one of its ``output_rates`` (None: ``sample_rate``).
    """

    remote_fmtp: Mapping[str, str] = field(default_factory=dict)
    local_fmtp: Mapping[str, str] = field(default_factory=dict)
    ptime: float | None = None
    bitrate: int | None = None
    input_rate: int | None = None
    output_rate: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CodecSpec:
    """One row of the codec table: what SDP says, plus how to build the codec.

    ``is_audio`` is False for rows such as telephone-event that are negotiated
    like codecs but carry events (their factories raise TypeError).
    ``input_rates`` are other PCM rates the encoder takes natively (Opus encodes
    8, 12, 16 or 24 kHz input as well as 48 kHz, RFC 6716 §2): a stream whose
    device runs at one of them feeds the encoder directly, without a resampler.
    ``output_rates`` likewise are other rates the decoder can give (libopus
    decodes to 8, 12, 16 or 24 kHz), so the received audio needs no resampler.
    """

    name: str  # rtpmap encoding name
    clock_rate: int  # RTP clock (8000 for G.722: RFC 3551 §4.5.2)
    sample_rate: int  # PCM rate the codec consumes
    # the required fields come first (keyword-only, so only repr sees the order): mypyc
    # cannot compile a signature with a required parameter after a defaulted one
    make_encoder: Callable[[], Encoder]
    make_decoder: Callable[[], Decoder]
    channels: int = 1
    static_payload_type: int | None = None
    preferred_payload_type: int | None = None  # for dynamic types (96-127)
    fmtp: Mapping[str, str] = field(default_factory=dict)
    is_audio: bool = True
    frame_duration: float = 0.02  # seconds per codec frame; ptime is a whole number of these
    make_encoder_with: Callable[[CodecSettings], Encoder] | None = None
    make_decoder_with: Callable[[CodecSettings], Decoder] | None = None
    input_rates: tuple[int, ...] = ()
    output_rates: tuple[int, ...] = ()

    def decode_rate(self, audio_rate: int) -> int:
        """The PCM rate the decoder gives when the audio is played at ``audio_rate``."""
        return audio_rate if audio_rate in self.output_rates else self.sample_rate

    def encode_rate(self, audio_rate: int) -> int:
        """The PCM rate to feed the encoder when the audio comes at ``audio_rate``."""
        return audio_rate if audio_rate in self.input_rates else self.sample_rate

    def encoder(self, settings: CodecSettings | None = None) -> Encoder:
        """An encoder shaped by ``settings`` (fmtp, ptime, bitrate) where the row takes them."""
        if settings is not None and self.make_encoder_with is not None:
            return self.make_encoder_with(settings)
        return self.make_encoder()

    def decoder(self, settings: CodecSettings | None = None) -> Decoder:
        """A decoder shaped by ``settings`` (our fmtp) where the row takes them."""
        if settings is not None and self.make_decoder_with is not None:
            return self.make_decoder_with(settings)
        return self.make_decoder()

    def matches(self, encoding: str, clock_rate: int, channels: int = 1) -> bool:
        """RFC 4566 §6: encoding names compare case-insensitively."""
        return (
            self.name.lower() == encoding.lower()
            and self.clock_rate == clock_rate
            and self.channels == channels
        )

    def capability(self) -> CodecCapability:
        """The row as SDP negotiates it."""
        pt = self.static_payload_type
        if pt is None:
            pt = self.preferred_payload_type
        return CodecCapability(
            encoding=self.name,
            clock_rate=self.clock_rate,
            channels=self.channels,
            payload_type=pt,
            fmtp=dict(self.fmtp),
        )


class CodecRegistry:
    """An ordered set of codec rows; order is offer preference."""

    def __init__(self, specs: Iterable[CodecSpec]) -> None:
        self._specs = list(specs)
        # (lower-case name, clock rate, channels) -> the first matching row: every call
        # looks its codecs up (send codec and each received payload type), so the scan
        # of ``matches`` over the table is done once here. The rows never change.
        self._index: dict[tuple[str, int, int], CodecSpec] = {}
        for spec in self._specs:
            self._index.setdefault((spec.name.lower(), spec.clock_rate, spec.channels), spec)

    def __iter__(self) -> Iterator[CodecSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def find(self, encoding: str, clock_rate: int, channels: int = 1) -> CodecSpec | None:
        """The row for an rtpmap, or None (names compare case-insensitively, RFC 4566
        §6): the first row that ``matches``."""
        return self._index.get((encoding.lower(), clock_rate, channels))

    def find_static(self, payload_type: int) -> CodecSpec | None:
        """The row with a static payload type (for an m= line without rtpmap, RFC 3551 §6)."""
        for spec in self._specs:
            if spec.static_payload_type == payload_type:
                return spec
        return None

    def capabilities(self) -> list[CodecCapability]:
        """The media codecs, in preference order, as SDP capabilities.

        Rows that carry events rather than media (telephone-event) are left out:
        the SDP layer adds telephone-event itself, at each clock rate offered.
        """
        return [spec.capability() for spec in self._specs if spec.is_audio]


PCMU = CodecSpec(
    name="PCMU",
    clock_rate=8000,
    sample_rate=8000,
    static_payload_type=0,
    make_encoder=lambda: G711Encoder("u"),
    make_decoder=lambda: G711Decoder("u"),
)
PCMA = CodecSpec(
    name="PCMA",
    clock_rate=8000,
    sample_rate=8000,
    static_payload_type=8,
    make_encoder=lambda: G711Encoder("a"),
    make_decoder=lambda: G711Decoder("a"),
)
# RFC 4733 §7.1.1: "audio/telephone-event", events 0-15 plus 16 (flash) for DTMF.
TELEPHONE_EVENT = CodecSpec(
    name="telephone-event",
    clock_rate=8000,
    sample_rate=8000,
    preferred_payload_type=101,
    fmtp=MappingProxyType({"0-16": ""}),  # a=fmtp:101 0-16, as voipkit.sdp parses it
    make_encoder=_no_codec,
    make_decoder=_no_decoder,
    is_audio=False,
)

DEFAULT_CODECS = CodecRegistry([PCMU, PCMA, TELEPHONE_EVENT])
