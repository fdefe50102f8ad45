"""AMR-NB over FFmpeg's ``libopencore_amrnb``, in the RFC 4867 RTP payload format.

Knows: RFC 4867 — the payload header (CMR, 4 bits: the mode the receiver
asks for, 15 = none), the table of contents (one entry per frame: F = more
entries follow, FT = frame type, Q = frame is good), then the speech bits of
each frame; packed bit-tight in the bandwidth-efficient mode (§4.3, the
default) or with every field on an octet boundary in the octet-aligned mode
(§4.4, fmtp ``octet-align=1``); ``mode-set`` limits the modes a sender may
use (§8.1). FFmpeg's codec speaks the RFC 4867 §5 storage format (one
header octet ``FT<<3 | Q<<2`` then the speech bits padded to an octet), which
this module converts to and from the payload format. NO_DATA (FT 15) and
damaged (Q = 0) frames are handed to the decoder, which conceals them.
Not supported (a peer asking for them gets ValueError): ``crc``,
``robust-sorting``, ``interleaving``.
Must not know: RTP headers, SDP text, sockets or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from voipkit.media.codecs.base import Pcm
from voipkit.media.codecs.pyav import PyAvDecoder, PyAvEncoder, can_decode, can_encode
from voipkit.media.codecs.registry import CodecSettings, CodecSpec

__all__ = [
    "AMR",
    "AMR_AVAILABLE",
    "FRAME_BITS",
    "MODE_BITRATES",
    "NO_DATA",
    "AmrDecoder",
    "AmrEncoder",
    "AmrFrame",
    "pack_payload",
    "unpack_payload",
]

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160
NO_DATA = 15
NO_REQUEST = 15  # CMR value: no mode request
MODE_BITRATES = (4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200)  # modes 0-7
# Speech bits per frame type (RFC 4867 §3.6, 3GPP TS 26.101 table 1a); 8 = AMR SID,
# 9-11 = GSM-EFR, TDMA-EFR and PDC-EFR SID (known lengths, not decodable here).
FRAME_BITS: Mapping[int, int] = {
    0: 95, 1: 103, 2: 118, 3: 134, 4: 148, 5: 159, 6: 204, 7: 244,
    8: 39, 9: 43, 10: 38, 11: 37, 15: 0,
}  # fmt: skip
_DECODABLE = frozenset(range(9)) | {NO_DATA}
_ENCODER = "libopencore_amrnb"
_DECODER = "libopencore_amrnb" if can_decode("libopencore_amrnb") else "amrnb"
AMR_AVAILABLE = can_encode(_ENCODER) and can_decode(_DECODER)


@dataclass(frozen=True, slots=True)
class AmrFrame:
    """One frame of a payload: its type, quality bit and speech bits (octet-padded)."""

    frame_type: int
    good: bool  # the Q bit; False means the frame was damaged on the way
    speech: bytes  # ceil(FRAME_BITS[frame_type] / 8) octets, the last one zero-padded

    def __post_init__(self) -> None:
        if self.frame_type not in FRAME_BITS:
            raise ValueError(f"AMR frame type {self.frame_type} is reserved")
        if len(self.speech) != (FRAME_BITS[self.frame_type] + 7) // 8:
            raise ValueError(f"AMR frame type {self.frame_type}: {len(self.speech)} octets")

    @classmethod
    def from_storage(cls, data: bytes) -> AmrFrame:
        """From the RFC 4867 §5.3 storage format FFmpeg reads and writes."""
        if not data:
            raise ValueError("empty AMR storage frame")
        return cls((data[0] >> 3) & 0x0F, bool(data[0] & 0x04), bytes(data[1:]))

    def storage(self) -> bytes:
        """In the RFC 4867 §5.3 storage format."""
        return bytes([(self.frame_type << 3) | (0x04 if self.good else 0)]) + self.speech


def pack_payload(
    frames: Sequence[AmrFrame], *, cmr: int = NO_REQUEST, octet_aligned: bool = False
) -> bytes:
    """An RFC 4867 payload (§4.3 bandwidth-efficient, or §4.4 octet-aligned)."""
    if not frames:
        raise ValueError("an AMR payload carries at least one frame")
    if not 0 <= cmr <= 15:
        raise ValueError(f"CMR {cmr} out of range")
    last = len(frames) - 1
    if octet_aligned:
        out = bytearray([cmr << 4])  # §4.4.1: CMR then 4 reserved zero bits
        for i, f in enumerate(frames):  # §4.4.2: F FT(4) Q P P
            out.append((0x80 if i < last else 0) | (f.frame_type << 3) | (0x04 if f.good else 0))
        for f in frames:
            out += f.speech
        return bytes(out)
    value, nbits = cmr, 4
    for i, f in enumerate(frames):  # §4.3.2: F FT(4) Q, six bits per entry
        entry = ((1 if i < last else 0) << 5) | (f.frame_type << 1) | (1 if f.good else 0)
        value, nbits = (value << 6) | entry, nbits + 6
    for f in frames:  # §4.3.2: speech bits back to back, no padding between frames
        bits = FRAME_BITS[f.frame_type]
        if bits:
            speech = int.from_bytes(f.speech, "big") >> (len(f.speech) * 8 - bits)
            value, nbits = (value << bits) | speech, nbits + bits
    pad = -nbits % 8  # §4.3.2: zero padding to an octet boundary
    return (value << pad).to_bytes((nbits + pad) // 8, "big")


def unpack_payload(payload: bytes, *, octet_aligned: bool = False) -> tuple[int, list[AmrFrame]]:
    """``(cmr, frames)`` from an RFC 4867 payload; ValueError when it is malformed."""
    if octet_aligned:
        return _unpack_octet_aligned(payload)
    total = len(payload) * 8
    value = int.from_bytes(payload, "big")
    pos = 0

    def take(n: int) -> int:
        nonlocal pos
        if pos + n > total:
            raise ValueError("AMR payload is truncated")
        pos += n
        return (value >> (total - pos)) & ((1 << n) - 1)

    cmr = take(4)
    toc: list[tuple[int, bool]] = []
    more = True
    while more:
        entry = take(6)
        more = bool(entry & 0x20)
        toc.append(_toc_entry((entry >> 1) & 0x0F, bool(entry & 1)))
    frames = []
    for ft, good in toc:
        bits = FRAME_BITS[ft]
        nbytes = (bits + 7) // 8
        speech = (take(bits) << (nbytes * 8 - bits)).to_bytes(nbytes, "big") if bits else b""
        frames.append(AmrFrame(ft, good, speech))
    if total - pos >= 8:
        raise ValueError("AMR payload is longer than its table of contents says")
    return cmr, frames


def _unpack_octet_aligned(payload: bytes) -> tuple[int, list[AmrFrame]]:
    if not payload:
        raise ValueError("AMR payload is empty")
    cmr = payload[0] >> 4
    toc: list[tuple[int, bool]] = []
    pos = 1
    while True:
        if pos >= len(payload):
            raise ValueError("AMR payload is truncated in its table of contents")
        entry = payload[pos]
        pos += 1
        toc.append(_toc_entry((entry >> 3) & 0x0F, bool(entry & 0x04)))
        if not entry & 0x80:
            break
    frames = []
    for ft, good in toc:
        nbytes = (FRAME_BITS[ft] + 7) // 8
        if pos + nbytes > len(payload):
            raise ValueError("AMR payload is truncated")
        frames.append(AmrFrame(ft, good, payload[pos : pos + nbytes]))
        pos += nbytes
    if pos != len(payload):
        raise ValueError("AMR payload is longer than its table of contents says")
    return cmr, frames


def _toc_entry(ft: int, good: bool) -> tuple[int, bool]:
    if ft not in FRAME_BITS:
        raise ValueError(f"AMR frame type {ft} is reserved")
    return ft, good


def _flag(fmtp: Mapping[str, str], key: str) -> bool:
    return any(k.lower() == key and v.strip() == "1" for k, v in fmtp.items())


def _mode_set(fmtp: Mapping[str, str]) -> list[int]:
    for key, value in fmtp.items():
        if key.lower() == "mode-set":
            modes = sorted({int(m) for m in value.split(",") if m.strip().isdigit()})
            modes = [m for m in modes if 0 <= m <= 7]
            if modes:
                return modes
    return list(range(8))


def _check_supported(fmtp: Mapping[str, str]) -> None:
    for key in ("crc", "robust-sorting"):
        if _flag(fmtp, key):
            raise ValueError(f"AMR {key}=1 is not supported")
    if any(k.lower() == "interleaving" for k in fmtp):
        raise ValueError("AMR interleaving is not supported")


def choose_mode(fmtp: Mapping[str, str], bitrate: int | None = None) -> int:
    """The highest mode of the peer's mode-set at or below ``bitrate`` (else the lowest)."""
    modes = _mode_set(fmtp)
    if bitrate is None:
        return modes[-1]
    fitting = [m for m in modes if MODE_BITRATES[m] <= bitrate]
    return fitting[-1] if fitting else modes[0]


class AmrEncoder:
    """PCM (a whole number of 20 ms frames) to one RFC 4867 payload."""

    def __init__(
        self, *, mode: int = 7, frames_per_packet: int = 1, octet_aligned: bool = False
    ) -> None:
        if not 0 <= mode <= 7:
            raise ValueError(f"AMR-NB mode {mode} out of range")
        self.mode = mode
        self.octet_aligned = octet_aligned
        self.cmr = NO_REQUEST  # the mode we ask the peer to send (RFC 4867 §4.3.1)
        self._inner = PyAvEncoder(
            _ENCODER,
            sample_rate=SAMPLE_RATE,
            frame_samples=FRAME_SAMPLES * frames_per_packet,
            bit_rate=MODE_BITRATES[mode],
        )

    def encode(self, pcm: Pcm) -> bytes:
        """One payload for all frames in ``pcm``."""
        frames = [AmrFrame.from_storage(f) for f in self._inner.encode_frames(pcm)]
        return pack_payload(frames, cmr=self.cmr, octet_aligned=self.octet_aligned)


class AmrDecoder:
    """RFC 4867 payloads to 8 kHz PCM; lost and damaged frames are concealed by the codec."""

    def __init__(self, *, octet_aligned: bool = False) -> None:
        self.octet_aligned = octet_aligned
        self.requested_mode: int | None = None  # the peer's last CMR, if it asked for one
        self._inner = PyAvDecoder(_DECODER, sample_rate=SAMPLE_RATE)

    def decode(self, payload: bytes) -> Pcm:
        """All frames of the payload (a malformed payload decodes to no samples)."""
        try:
            cmr, frames = unpack_payload(payload, octet_aligned=self.octet_aligned)
        except ValueError:
            return np.zeros(0, dtype=np.int16)
        if cmr != NO_REQUEST and cmr <= 7:
            self.requested_mode = cmr
        parts = [
            self._inner.decode_raw(f.storage() if f.frame_type in _DECODABLE else _NO_DATA_FRAME)
            for f in frames
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def conceal(self, samples: int) -> Pcm:
        """NO_DATA frames through the decoder (its own concealment), trimmed to ``samples``."""
        if samples <= 0:
            return np.zeros(0, dtype=np.int16)
        count = -(-samples // FRAME_SAMPLES)
        out = np.concatenate([self._inner.decode_raw(_NO_DATA_FRAME) for _ in range(count)])
        if len(out) < samples:
            out = np.concatenate((out, np.zeros(samples - len(out), dtype=np.int16)))
        return out[:samples]


_NO_DATA_FRAME = bytes([(NO_DATA << 3) | 0x04])


def amr_encoder(settings: CodecSettings | None = None) -> AmrEncoder:
    """An encoder for the peer's fmtp (mode-set, octet-align), ptime and bitrate."""
    s = settings if settings is not None else CodecSettings()
    _check_supported(s.remote_fmtp)
    frames = max(1, round((s.ptime or 0.02) / 0.02))
    return AmrEncoder(
        mode=choose_mode(s.remote_fmtp, s.bitrate),
        frames_per_packet=frames,
        octet_aligned=_flag(s.remote_fmtp, "octet-align"),
    )


def amr_decoder(settings: CodecSettings | None = None) -> AmrDecoder:
    """A decoder for the payload format our own fmtp announced."""
    s = settings if settings is not None else CodecSettings()
    _check_supported(s.local_fmtp)
    return AmrDecoder(octet_aligned=_flag(s.local_fmtp, "octet-align"))


AMR = CodecSpec(
    name="AMR",
    clock_rate=SAMPLE_RATE,
    sample_rate=SAMPLE_RATE,
    preferred_payload_type=97,
    make_encoder=amr_encoder,
    make_decoder=amr_decoder,
    make_encoder_with=amr_encoder,
    make_decoder_with=amr_decoder,
)
