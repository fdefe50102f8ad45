"""The libopus decoder through a small cffi ABI-mode binding: decode, PLC and in-band FEC.

Knows: the decoder half of the C API in ``opus/opus.h`` (libopus 1.x),
declared with ``ffi.cdef`` and opened with ``ffi.dlopen`` — no compiler or
headers at install time. The library is the ``libopus`` PyAV's wheel ships in
``av.libs/`` (so no new system package is needed), else the system's
``libopus.so.0`` (Debian package ``libopus0``). RFC 6716: a decoder runs at
8, 12, 16, 24 or 48 kHz whatever rate the packet was coded at (§2), so audio
is decoded straight at the device rate; ``opus_decode`` with no data is the
decoder's packet-loss concealment, and with ``decode_fec=1`` it decodes the
LBRR copy of the *previous* frame that a packet may carry (RFC 7587
§3.2: the sender codes it when the receiver's fmtp says ``useinbandfec=1``).

Must not know: RTP headers, SDP, sockets, threads or the clock.

Why not PyAV: FFmpeg's libopus wrapper never passes ``decode_fec=1`` and
treats an empty packet as end of stream, so neither FEC nor libopus's own PLC
is reachable through it; it also always decodes at 48 kHz.

Native state is owned by ``OpusDecoder``: ``close()`` frees it with
``opus_decoder_destroy`` and is idempotent; ``ffi.gc`` is a safety net for a
decoder dropped without ``close()``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import cffi  # type: ignore[import-untyped]
import numpy as np

from voipkit.media.codecs.base import Pcm

__all__ = [
    "DEBIAN_PACKAGE",
    "RATES",
    "LibopusUnavailableError",
    "OpusDecodeError",
    "OpusDecoder",
    "libopus_available",
    "libopus_path",
    "load_libopus",
]

DEBIAN_PACKAGE = "libopus0"
SYSTEM_NAMES = ("libopus.so.0", "opus")
RATES = (8000, 12000, 16000, 24000, 48000)
_MAX_FRAME_S = 0.12  # RFC 6716 §3.2.5: a packet holds at most 120 ms

_CDEF = """
typedef struct OpusDecoder OpusDecoder;
OpusDecoder *opus_decoder_create(int32_t Fs, int channels, int *error);
int opus_decode(OpusDecoder *st, const unsigned char *data, int32_t len,
                int16_t *pcm, int frame_size, int decode_fec);
void opus_decoder_destroy(OpusDecoder *st);
int opus_packet_get_nb_samples(const unsigned char *packet, int32_t len, int32_t Fs);
const char *opus_strerror(int error);
const char *opus_get_version_string(void);
"""

_ffi: Any = cffi.FFI()
_ffi.cdef(_CDEF)
_loaded: Any = None
_loaded_from = ""


class LibopusUnavailableError(RuntimeError):
    """Neither PyAV's bundled libopus nor the system's could be loaded."""


class OpusDecodeError(ValueError):
    """libopus rejected a packet (the message is ``opus_strerror``'s)."""


def _bundled() -> list[str]:
    """PyAV's own copies of libopus (``av.libs/libopus-<hash>.so.*``), if any."""
    spec = importlib.util.find_spec("av")
    if spec is None or spec.origin is None:
        return []
    libs = Path(spec.origin).parent.parent / "av.libs"
    return sorted(str(p) for p in libs.glob("libopus*.so*"))


def load_libopus(names: tuple[str, ...] | None = None) -> Any:
    """Open libopus and return the cffi library; the default search is cached.

    By default PyAV's bundled copy is tried first, then ``SYSTEM_NAMES``.

    Raises:
        LibopusUnavailableError: none of the candidates could be opened.
    """
    global _loaded, _loaded_from
    if names is None and _loaded is not None:
        return _loaded
    candidates = list(names) if names is not None else [*_bundled(), *SYSTEM_NAMES]
    errors: list[str] = []
    for name in candidates:
        try:
            lib = _ffi.dlopen(name)
        except OSError as exc:
            errors.append(f"{name}: {exc}")
            continue
        if names is None:
            _loaded, _loaded_from = lib, name
        return lib
    raise LibopusUnavailableError(
        "libopus could not be loaded (needed to decode Opus with FEC and PLC): "
        "neither PyAV's bundled copy (av.libs/libopus-*.so) nor the system's; "
        f"install the Debian package {DEBIAN_PACKAGE}. Tried "
        + ("; ".join(errors) or "nothing")
    )


def libopus_available() -> bool:
    """True when ``load_libopus()`` succeeds."""
    try:
        load_libopus()
    except LibopusUnavailableError:
        return False
    return True


def libopus_path() -> str:
    """Which file the default search loaded, and its version, e.g. for diagnostics."""
    lib = load_libopus()
    version: str = _ffi.string(lib.opus_get_version_string()).decode()
    return f"{_loaded_from} ({version})"


class OpusDecoder:
    """One libopus decoder giving int16 PCM at ``rate`` (mono unless ``channels=2``).

    Args:
        rate: output rate, one of ``RATES``; packets of any coded bandwidth decode to it.
        channels: 1 (stereo packets are downmixed by libopus) or 2 (interleaved
            pairs, returned as an ``(n, 2)`` array).

    Raises:
        LibopusUnavailableError: libopus cannot be loaded.
        ValueError: an unsupported rate or channel count.
    """

    def __init__(self, rate: int = 48000, channels: int = 1) -> None:
        if rate not in RATES:
            raise ValueError(f"libopus decodes at {RATES} Hz, not {rate}")
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, not {channels}")
        lib = load_libopus()
        err = _ffi.new("int *")
        state = lib.opus_decoder_create(rate, channels, err)
        if err[0] != 0 or state == _ffi.NULL:
            raise LibopusUnavailableError(
                "opus_decoder_create failed: " + _ffi.string(lib.opus_strerror(err[0])).decode()
            )
        self._lib = lib
        self._state: Any = _ffi.gc(state, lib.opus_decoder_destroy)
        self.sample_rate = rate
        self.channels = channels
        self._max = round(rate * _MAX_FRAME_S)
        self._buf = _ffi.new("int16_t[]", self._max * channels)
        self._unit = rate // 400  # 2.5 ms, the granularity of PLC and FEC frame sizes

    def close(self) -> None:
        """Free the native decoder now (``opus_decoder_destroy``); idempotent."""
        if self._state is not None:
            _ffi.release(self._state)
            self._state = None

    def _run(self, data: bytes | None, frame_size: int, fec: bool) -> Pcm:
        if self._state is None:
            raise ValueError("decoder is closed")
        ptr = _ffi.NULL if data is None else _ffi.from_buffer(data)
        length = 0 if data is None else len(data)
        n = self._lib.opus_decode(self._state, ptr, length, self._buf, frame_size, int(fec))
        if n < 0:
            raise OpusDecodeError(_ffi.string(self._lib.opus_strerror(n)).decode())
        raw = np.frombuffer(_ffi.buffer(self._buf, n * self.channels * 2), dtype=np.int16)
        out: Pcm = raw.copy() if self.channels == 1 else raw.reshape(n, 2).copy()
        return out

    def decode(self, packet: bytes) -> Pcm:
        """The PCM in one Opus packet; an empty or corrupt packet gives no samples."""
        if not packet:
            return np.zeros(0, dtype=np.int16)
        try:
            return self._run(packet, self._max, False)
        except OpusDecodeError:
            return np.zeros(0, dtype=np.int16)

    def _sizes(self, samples: int) -> list[int]:
        """``samples`` split into calls libopus accepts (multiples of 2.5 ms, <= 120 ms)."""
        if samples <= 0:
            return []
        units = -(-samples // self._unit)  # rounded up; the extra is trimmed
        chunk = self._max // self._unit
        return [min(chunk, units - i) * self._unit for i in range(0, units, chunk)]

    def conceal(self, samples: int) -> Pcm:
        """libopus PLC: ``samples`` standing in for a lost frame (``opus_decode`` with NULL)."""
        parts = [self._run(None, size, False) for size in self._sizes(samples)]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        out: Pcm = np.concatenate(parts)[:samples]
        return out

    def recover(self, next_packet: bytes, samples: int) -> Pcm:
        """The lost frame just before ``next_packet``, from its in-band FEC (LBRR) data.

        ``samples`` is the lost frame's length. Call ``decode(next_packet)``
        afterwards as usual. A packet without LBRR data for that frame makes
        libopus conceal instead; a corrupt one is concealed here.
        """
        if not next_packet or samples <= 0 or samples % self._unit or samples > self._max:
            return self.conceal(samples)
        try:
            return self._run(next_packet, samples, True)
        except OpusDecodeError:
            return self.conceal(samples)

