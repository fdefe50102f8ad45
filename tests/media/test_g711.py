"""G.711 is bit-exact, fast paths agree with the reference, and concealment behaves.

Proves:
- the µ-law and A-law encode tables equal the ITU-T G.191 reference
  ``ulaw_compress`` / ``alaw_compress`` (retyped below in plain Python) for all
  65536 int16 inputs, and the decode tables equal ``ulaw_expand`` /
  ``alaw_expand`` for all 256 codes;
- well-known code points (silence is 0xFF in µ-law, 0xD5 in A-law);
- decode(encode(decode(c))) == decode(c): the decoded levels are fixed points;
- G711Encoder/G711Decoder match the module functions and the PCMU/PCMA rows build them;
- concealment repeats the detected pitch period exactly for the first 10 ms, fades to
  silence 60 ms into an erasure, returns silence without history, and a good packet
  ends the erasure.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from voipkit.media.codecs import PCMA, PCMU, G711Decoder, G711Encoder
from voipkit.media.codecs.g711 import (
    ALAW_DECODE,
    ALAW_ENCODE,
    ULAW_DECODE,
    ULAW_ENCODE,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)

# --- ITU-T G.191 STL g711.c, retyped sample by sample -------------------------------


def ref_alaw_compress(linear: int) -> int:
    ix = (~linear) >> 4 if linear < 0 else linear >> 4
    if ix > 15:
        iexp = 1
        while ix > 16 + 15:
            ix >>= 1
            iexp += 1
        ix -= 16
        ix += iexp << 4
    if linear >= 0:
        ix |= 0x0080
    return ix ^ 0x0055


def ref_alaw_expand(code: int) -> int:
    ix = (code ^ 0x0055) & 0x007F
    iexp = ix >> 4
    mant = ix & 0x000F
    if iexp > 0:
        mant = mant + 16
    mant = (mant << 4) + 0x0008
    if iexp > 1:
        mant = mant << (iexp - 1)
    return mant if code > 127 else -mant


def ref_ulaw_compress(linear: int) -> int:
    absno = ((~linear) >> 2) + 33 if linear < 0 else (linear >> 2) + 33
    if absno > 0x1FFF:
        absno = 0x1FFF
    i = absno >> 6
    segno = 1
    while i != 0:
        segno += 1
        i >>= 1
    high_nibble = 0x0008 - segno
    low_nibble = 0x000F - ((absno >> segno) & 0x000F)
    code = (high_nibble << 4) | low_nibble
    if linear >= 0:
        code |= 0x0080
    return code


def ref_ulaw_expand(code: int) -> int:
    sign = -1 if code < 0x0080 else 1
    mantissa = ~code
    exponent = (mantissa >> 4) & 0x0007
    segment = exponent + 1
    mantissa &= 0x000F
    step = 4 << segment
    return sign * ((0x0080 << exponent) + step * mantissa + step // 2 - 4 * 33)


ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)


def test_ulaw_encode_table_matches_reference_for_every_input() -> None:
    expected = bytes(ref_ulaw_compress(int(x)) for x in ALL_SAMPLES)
    assert ulaw_encode(ALL_SAMPLES) == expected


def test_alaw_encode_table_matches_reference_for_every_input() -> None:
    expected = bytes(ref_alaw_compress(int(x)) for x in ALL_SAMPLES)
    assert alaw_encode(ALL_SAMPLES) == expected


def test_decode_tables_match_reference_for_every_code() -> None:
    codes = bytes(range(256))
    assert ulaw_decode(codes).tolist() == [ref_ulaw_expand(c) for c in range(256)]
    assert alaw_decode(codes).tolist() == [ref_alaw_expand(c) for c in range(256)]


def test_table_shapes_and_types() -> None:
    assert ULAW_ENCODE.shape == ALAW_ENCODE.shape == (65536,)
    assert ULAW_DECODE.shape == ALAW_DECODE.shape == (256,)
    assert ULAW_ENCODE.dtype == np.uint8 and ULAW_DECODE.dtype == np.int16
    with pytest.raises(ValueError):
        ULAW_ENCODE[0] = 1


def test_known_code_points() -> None:
    assert ulaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16)) == b"\xff\x7f\x80\x00"
    assert alaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16)) == b"\xd5\x55\xaa\x2a"
    assert ulaw_decode(b"\x80\x00\xff").tolist() == [32124, -32124, 0]
    assert alaw_decode(b"\xaa\x2a\xd5").tolist() == [32256, -32256, 8]


@pytest.mark.parametrize("encode,decode", [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_decoded_levels_are_fixed_points(encode, decode) -> None:  # type: ignore[no-untyped-def]
    levels = decode(bytes(range(256)))
    assert decode(encode(levels)).tolist() == levels.tolist()


def test_codec_objects_match_functions_and_rows() -> None:
    frame = (np.sin(np.arange(160) / 5) * 12000).astype(np.int16)
    assert G711Encoder("u").encode(frame) == ulaw_encode(frame)
    assert G711Encoder("a").encode(frame) == alaw_encode(frame)
    assert PCMU.make_encoder().encode(frame) == ulaw_encode(frame)
    assert PCMA.make_encoder().encode(frame) == alaw_encode(frame)
    payload = ulaw_encode(frame)
    assert PCMU.make_decoder().decode(payload).tolist() == ulaw_decode(payload).tolist()
    assert G711Decoder("a").decode(alaw_encode(frame)).dtype == np.int16
    with pytest.raises(ValueError):
        G711Encoder("x")
    with pytest.raises(ValueError):
        G711Decoder("mu")


def _periodic_decoded(period: int, frames: int, law: str) -> tuple[G711Decoder, np.ndarray]:
    t = np.arange(frames * 160 + 160)
    wave = (np.sin(2 * np.pi * t / period) * 8000 + np.sin(6 * np.pi * t / period) * 2000)
    pcm = wave.astype(np.int16)
    decoder = G711Decoder(law)
    for i in range(frames):
        decoder.decode(G711Encoder(law).encode(pcm[i * 160 : (i + 1) * 160]))
    reference = G711Decoder(law).decode(G711Encoder(law).encode(pcm))
    return decoder, reference


def test_conceal_repeats_the_pitch_period_for_the_first_10_ms() -> None:
    decoder, reference = _periodic_decoded(period=80, frames=3, law="u")
    hidden = decoder.conceal(80)
    # The signal is exactly periodic, so the repetition continues it sample for sample.
    assert hidden.tolist() == reference[480:560].tolist()


def test_conceal_fades_to_silence_60_ms_into_the_erasure() -> None:
    decoder, _ = _periodic_decoded(period=100, frames=3, law="a")
    chunks = [decoder.conceal(80) for _ in range(8)]  # 8 x 10 ms
    peaks = [int(np.abs(c.astype(np.int32)).max()) for c in chunks]
    assert peaks[0] > 7000
    assert all(a >= b for a, b in itertools.pairwise(peaks))
    assert peaks[3] < peaks[1] * 0.8  # linear fade: 20 % per 10 ms after the first 10 ms
    assert peaks[6] == 0 and peaks[7] == 0


def test_conceal_without_history_is_silence_and_decode_ends_erasure() -> None:
    decoder = G711Decoder("u")
    assert decoder.conceal(160).tolist() == [0] * 160
    assert decoder.conceal(0).size == 0
    frame = (np.sin(np.arange(400) * 2 * np.pi / 50) * 9000).astype(np.int16)
    decoder.decode(ulaw_encode(frame))
    for _ in range(10):
        decoder.conceal(160)  # deep into the erasure: silence
    assert not decoder.conceal(80).any()
    decoder.decode(ulaw_encode(frame))  # a good packet resets the fade
    assert np.abs(decoder.conceal(80).astype(np.int32)).max() > 5000


def test_conceal_with_short_history_repeats_the_last_frame() -> None:
    decoder = G711Decoder("u")
    levels = ulaw_decode(bytes(range(0, 160, 2)))  # 80 samples, less than a pitch search needs
    decoder.decode(bytes(range(0, 160, 2)))
    assert decoder.conceal(80).tolist() == levels.tolist()
