"""Codec rows over PyAV (G.722, Opus, AMR-NB, G.723.1) and RFC 3389 comfort noise.

Proves:
- the registry is built from what this FFmpeg can encode *and* decode; decode-only
  codecs (GSM, iLBC, G.729, AMR-WB) are never offered;
- each codec round-trips a 1 kHz tone above a codec-appropriate SNR floor, after
  aligning by the codec's delay (least-squares lag search);
- frame sizes and octets per frame are exact (G.722: 320 samples -> 160 octets at an
  8000 Hz RTP clock; G.723.1: 240 -> 24; AMR 12.2: 32 octets; Opus 20 ms = 960), a
  wrong frame size raises, and ptime puts whole frames into one payload;
- Opus fmtp (RFC 7587 §6.1) becomes encoder options, and maxaveragebitrate shrinks
  payloads; stereo=1 sets the TOC stereo bit (RFC 6716 §3.1) and still decodes to mono;
- RFC 4867 payload packing against hand-built bandwidth-efficient and octet-aligned
  vectors, round trips, strict rejection of malformed payloads, CMR and mode-set;
- loss concealment: pitch repetition then fade (any rate), AMR's own NO_DATA concealment;
- comfort noise: level in -dBov from a frame, noise at that level, reproducible by seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from voipkit.media.codecs import (
    AMR,
    CN,
    FULL_CODECS,
    G722,
    G723,
    OPUS,
    PCMA,
    PCMU,
    CnDecoder,
    CnEncoder,
    CodecSettings,
    CodecSpec,
    G711Encoder,
    WaveformConcealer,
)
from voipkit.media.codecs.amr import (
    AmrDecoder,
    AmrEncoder,
    AmrFrame,
    choose_mode,
    pack_payload,
    unpack_payload,
)
from voipkit.media.codecs.cn import level_of, rms_of_level
from voipkit.media.codecs.opus import OpusOptions, opus_options
from voipkit.media.codecs.pyav import can_decode, can_encode


def tone(samples: int, rate: int, freq: float = 1000.0, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(samples) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def round_trip(spec: CodecSpec, pcm: np.ndarray, settings: CodecSettings | None = None) -> list:
    encoder, decoder = spec.encoder(settings), spec.decoder(settings)
    frame = round(spec.sample_rate * spec.frame_duration)
    return [decoder.decode(encoder.encode(pcm[i : i + frame])) for i in range(0, len(pcm), frame)]


def aligned_snr(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> float:
    """SNR (dB) of ``decoded`` against ``reference`` at the lag that fits best."""
    ref = reference.astype(np.float64)
    out = decoded.astype(np.float64)
    start = 2 * max_lag  # skip the codec's start-up
    segment = ref[start : start + 4000]
    errors = [
        float(np.sum((segment - out[start + lag : start + lag + len(segment)]) ** 2))
        for lag in range(max_lag)
        if start + lag + len(segment) <= len(out)
    ]
    return 10 * math.log10(float(np.sum(segment**2)) / min(errors))


# --- what is offered -------------------------------------------------------------------


def test_registry_offers_what_this_ffmpeg_encodes_and_decodes() -> None:
    assert [s.name for s in FULL_CODECS] == [
        "opus", "G722", "PCMU", "PCMA", "AMR", "G723", "CN", "telephone-event",
    ]  # fmt: skip
    for name in ("libopus", "g722", "libopencore_amrnb", "g723_1"):
        assert can_encode(name) and can_decode(name)


@pytest.mark.parametrize(
    ("codec", "encoding", "rate"),
    [
        ("gsm", "GSM", 8000),
        ("ilbc", "iLBC", 8000),
        ("g729", "G729", 8000),
        ("amrwb", "AMR-WB", 16000),
    ],
)
def test_decode_only_codecs_are_never_offered(codec: str, encoding: str, rate: int) -> None:
    assert can_decode(codec)
    assert not can_encode(codec)
    assert FULL_CODECS.find(encoding, rate) is None


def test_rows_as_sdp_sees_them() -> None:
    # RFC 3551 §4.5.2: G.722's RTP clock is 8000 although it samples at 16000
    assert (G722.clock_rate, G722.sample_rate, G722.static_payload_type) == (8000, 16000, 9)
    # RFC 7587 §7: always opus/48000/2
    assert (OPUS.name, OPUS.clock_rate, OPUS.channels) == ("opus", 48000, 2)
    assert FULL_CODECS.find("OPUS", 48000, 2) is OPUS
    assert (G723.static_payload_type, G723.frame_duration) == (4, 0.03)
    assert (CN.static_payload_type, CN.clock_rate) == (13, 8000)
    assert AMR.capability().payload_type == 97


def test_rows_without_options_ignore_settings() -> None:
    assert isinstance(PCMU.encoder(CodecSettings(ptime=0.04)), G711Encoder)


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "floor"),
    [(PCMU, 40.0), (PCMA, 35.0), (G722, 40.0), (OPUS, 30.0), (AMR, 10.0), (G723, 15.0)],
    ids=lambda v: v.name if isinstance(v, CodecSpec) else str(v),
)
def test_tone_round_trip_snr(spec: CodecSpec, floor: float) -> None:
    rate = spec.sample_rate
    frame = round(rate * spec.frame_duration)
    pcm = tone(rate // frame * frame, rate)
    decoded = np.concatenate(round_trip(spec, pcm))
    assert len(decoded) == len(pcm)
    assert aligned_snr(pcm, decoded, max_lag=rate // 50) > floor


# --- exact frames ----------------------------------------------------------------------


def test_g722_frames_are_exact() -> None:
    encoder, decoder = G722.encoder(), G722.decoder()
    payload = encoder.encode(tone(320, 16000))
    assert len(payload) == 160
    assert len(decoder.decode(payload)) == 320
    with pytest.raises(ValueError):
        encoder.encode(tone(160, 16000))
    wide = G722.encoder(CodecSettings(ptime=0.04))  # setAudioSamples(40)
    payload = wide.encode(tone(640, 16000))
    assert len(payload) == 320
    assert len(decoder.decode(payload)) == 640


def test_g7231_frames_are_exact() -> None:
    encoder, decoder = G723.encoder(), G723.decoder()
    payload = encoder.encode(tone(240, 8000))
    assert len(payload) == 24
    assert payload[0] & 0x03 == 0  # RFC 3551 §4.5.3: 0 = 6.3 kb/s frame
    assert len(decoder.decode(payload)) == 240
    two = G723.encoder(CodecSettings(ptime=0.06)).encode(tone(480, 8000))
    assert len(two) == 48
    assert len(decoder.decode(two)) == 480


def test_opus_frames_follow_ptime() -> None:
    decoder = OPUS.decoder()
    assert len(decoder.decode(OPUS.encoder().encode(tone(960, 48000)))) == 960
    encoder = OPUS.encoder(CodecSettings(ptime=0.04))
    payload = encoder.encode(tone(1920, 48000))
    assert len(decoder.decode(payload)) == 1920
    with pytest.raises(ValueError):
        encoder.encode(tone(960, 48000))


def test_corrupt_payload_decodes_to_nothing() -> None:
    assert len(G723.decoder().decode(b"")) == 0
    assert len(AMR.decoder().decode(b"\xf0")) == 0  # TOC missing


# --- Opus fmtp -------------------------------------------------------------------------


def test_opus_fmtp_becomes_encoder_options() -> None:
    assert opus_options({}) == OpusOptions(
        bitrate=32000, channels=1, fec=False, frame_ms=20, cutoff=None, complexity=5
    )
    opts = opus_options(
        {
            "useinbandfec": "1",
            "maxaveragebitrate": "20000",
            "stereo": "1",
            "maxplaybackrate": "16000",
        },
        ptime=0.04,
    )
    assert opts == OpusOptions(
        bitrate=20000, channels=2, fec=True, frame_ms=40, cutoff=8000, complexity=5
    )
    assert opus_options({"ptime": "60"}).frame_ms == 60
    assert opus_options({}, ptime=0.03).frame_ms == 20  # rounded down to an Opus frame
    assert opus_options({}, bitrate=1000).bitrate == 6000  # RFC 7587 §6.1 range
    assert opus_options({"maxaveragebitrate": "16000"}, bitrate=64000).bitrate == 16000
    assert opus_options({"stereo": "0", "sprop-stereo": "1"}).channels == 1


def test_opus_bitrate_changes_payload_size() -> None:
    pcm = tone(48000, 48000)

    def mean_size(settings: CodecSettings) -> float:
        encoder = OPUS.encoder(settings)
        return float(np.mean([len(encoder.encode(pcm[i : i + 960])) for i in range(0, 48000, 960)]))

    low = mean_size(CodecSettings(remote_fmtp={"maxaveragebitrate": "12000"}))
    high = mean_size(CodecSettings(bitrate=64000))
    assert 20 < low < 40  # 12 kb/s is 30 octets per 20 ms
    assert 140 < high < 180  # 64 kb/s is 160 octets per 20 ms


def test_opus_stereo_fmtp_sets_the_toc_stereo_bit() -> None:
    mono = OPUS.encoder().encode(tone(960, 48000))
    stereo = OPUS.encoder(CodecSettings(remote_fmtp={"stereo": "1"})).encode(tone(960, 48000))
    assert not mono[0] & 0x04  # RFC 6716 §3.1: s bit
    assert stereo[0] & 0x04
    assert OPUS.decoder().decode(stereo).shape == (960,)


def test_opus_fec_fmtp_is_accepted_by_the_encoder() -> None:
    encoder = OPUS.encoder(CodecSettings(remote_fmtp={"useinbandfec": "1"}))
    pcm = tone(9600, 48000)
    payloads = [encoder.encode(pcm[i : i + 960]) for i in range(0, 9600, 960)]
    decoder = OPUS.decoder()
    assert sum(len(decoder.decode(p)) for p in payloads) == 9600


# --- AMR (RFC 4867) --------------------------------------------------------------------

SID = AmrFrame(8, True, bytes.fromhex("fffffffffe"))  # 39 one-bits, then the pad bit


def test_amr_bandwidth_efficient_vectors() -> None:
    # CMR 1111 | F0 FT1000 Q1 | 39 ones | 7 zero pad bits (RFC 4867 §4.3)
    assert pack_payload([SID]) == bytes.fromhex("f47fffffffff80")
    assert unpack_payload(bytes.fromhex("f47fffffffff80")) == (15, [SID])
    # CMR 0000 | F1 FT1111 Q1 | F0 FT1111 Q1: two NO_DATA entries, no speech
    no_data = AmrFrame(15, True, b"")
    assert pack_payload([no_data, no_data], cmr=0) == bytes.fromhex("0fdf")
    assert unpack_payload(bytes.fromhex("0fdf")) == (0, [no_data, no_data])


def test_amr_octet_aligned_vectors() -> None:
    frame = AmrFrame(8, True, bytes.fromhex("aabbccdde0"))
    damaged = AmrFrame(8, False, bytes.fromhex("0102030400"))
    payload = bytes.fromhex("70" "c4" "40" "aabbccdde0" "0102030400")  # fmt: skip
    assert pack_payload([frame, damaged], cmr=7, octet_aligned=True) == payload
    assert unpack_payload(payload, octet_aligned=True) == (7, [frame, damaged])


@pytest.mark.parametrize("octet_aligned", [False, True])
def test_amr_real_frames_round_trip_through_the_payload(octet_aligned: bool) -> None:
    encoder = AmrEncoder(mode=7, frames_per_packet=3, octet_aligned=octet_aligned)
    payload = encoder.encode(tone(480, 8000))
    assert len(payload) == (97 if octet_aligned else 95)  # 1+3+3*31 ; ceil((4+18+3*244)/8)
    cmr, frames = unpack_payload(payload, octet_aligned=octet_aligned)
    assert cmr == 15 and [f.frame_type for f in frames] == [7, 7, 7]
    assert pack_payload(frames, octet_aligned=octet_aligned) == payload
    assert len(AmrDecoder(octet_aligned=octet_aligned).decode(payload)) == 480


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        bytes.fromhex("f4"),  # TOC entry cut short
        bytes.fromhex("f47fffff"),  # speech bits cut short
        bytes.fromhex("f47fffffffff8000"),  # an octet more than the TOC says
        bytes.fromhex("f640"),  # CMR 1111 | F0 FT1100 Q1: frame type 12 is reserved
    ],
)
def test_amr_malformed_payloads_are_rejected(payload: bytes) -> None:
    with pytest.raises(ValueError):
        unpack_payload(payload)


def test_amr_octet_aligned_malformed() -> None:
    with pytest.raises(ValueError):
        unpack_payload(bytes.fromhex("f0c4"), octet_aligned=True)  # F=1 but no next entry
    with pytest.raises(ValueError):
        unpack_payload(bytes.fromhex("f044aabb"), octet_aligned=True)  # speech cut short
    with pytest.raises(ValueError):
        unpack_payload(bytes.fromhex("f064"), octet_aligned=True)  # FT 12 reserved


def test_amr_mode_set_and_bitrate_choose_the_mode() -> None:
    assert choose_mode({}) == 7
    assert choose_mode({"mode-set": "0,2,5"}) == 5
    assert choose_mode({"mode-set": "0,2,5"}, 6000) == 2
    assert choose_mode({"mode-set": "2,5"}, 4750) == 2
    encoder = AMR.encoder(CodecSettings(remote_fmtp={"mode-set": "0,2,5", "octet-align": "1"}))
    _, frames = unpack_payload(encoder.encode(tone(160, 8000)), octet_aligned=True)
    assert frames[0].frame_type == 5


def test_amr_unsupported_options_refuse() -> None:
    with pytest.raises(ValueError):
        AMR.encoder(CodecSettings(remote_fmtp={"crc": "1"}))
    with pytest.raises(ValueError):
        AMR.decoder(CodecSettings(local_fmtp={"interleaving": "4"}))


def test_amr_decoder_records_the_peers_mode_request_and_conceals() -> None:
    decoder = AmrDecoder()
    encoder = AmrEncoder(mode=7)
    encoder.cmr = 2
    pcm = tone(1600, 8000)
    for i in range(0, 1600, 160):
        decoder.decode(encoder.encode(pcm[i : i + 160]))
    assert decoder.requested_mode == 2
    concealed = decoder.conceal(200)
    assert len(concealed) == 200
    assert np.abs(concealed[:160]).max() > 1000  # the codec extrapolates, not silence
    lost = decoder.decode(pack_payload([AmrFrame(15, True, b"")]))
    assert len(lost) == 160


# --- concealment -----------------------------------------------------------------------


def test_waveform_concealer_repeats_the_pitch_then_fades() -> None:
    rate = 16000
    history = tone(800, rate, freq=400.0)  # 40-sample period, exactly periodic
    concealer = WaveformConcealer(rate)
    concealer.remember(history)
    out = concealer.conceal(960)
    continuation = tone(800 + 960, rate, freq=400.0)[800:]
    assert np.array_equal(out[:160], continuation[:160])  # 10 ms at full level
    assert np.abs(out[160:400]).max() < np.abs(continuation).max()
    assert np.all(concealer.conceal(160) == 0)  # silent 60 ms into the loss
    concealer.remember(history)  # a good packet ends the erasure
    assert np.array_equal(concealer.conceal(160), continuation[:160])


def test_pyav_decoders_conceal_from_their_history() -> None:
    decoder = G722.decoder()
    assert np.all(decoder.conceal(320) == 0)  # nothing heard yet
    encoder = G722.encoder()
    pcm = tone(3200, 16000)
    for i in range(0, 3200, 320):
        decoder.decode(encoder.encode(pcm[i : i + 320]))
    concealed = decoder.conceal(320)
    assert len(concealed) == 320 and np.abs(concealed).max() > 4000


# --- comfort noise (RFC 3389) ----------------------------------------------------------


def test_cn_level_of_frames() -> None:
    assert level_of(np.full(160, 32767, dtype=np.int16)) == 0  # full-scale square: 0 dBov
    assert level_of(np.zeros(160, dtype=np.int16)) == 127  # digital silence
    square = np.where(np.arange(160) % 2, 328, -328).astype(np.int16)  # ~ -40 dBov
    assert level_of(square) == 40
    assert CnEncoder().encode(square) == bytes([40])


def test_cn_decodes_to_noise_at_the_level() -> None:
    decoder = CnDecoder(seed=7, frame_samples=8000)
    assert np.all(decoder.conceal(160) == 0)  # no level yet
    noise = decoder.decode(bytes([40, 0x81, 0x7F]))  # spectral octets are ignored
    rms = math.sqrt(float(np.mean(noise.astype(np.float64) ** 2)))
    assert rms == pytest.approx(rms_of_level(40), rel=0.05)
    assert level_of(noise) == 40
    more = decoder.conceal(8000)
    assert level_of(more) == 40
    assert decoder.decode(bytes([0x80 | 60])) is not None and decoder.level == 60  # bit 7 masked


def test_cn_noise_is_reproducible_by_seed() -> None:
    a, b = CnDecoder(seed=1), CnDecoder(seed=1)
    assert np.array_equal(a.decode(b"\x1e"), b.decode(b"\x1e"))
    assert not np.array_equal(CnDecoder(seed=2).decode(b"\x1e"), CnDecoder(seed=3).decode(b"\x1e"))
    assert isinstance(CN.make_encoder(), CnEncoder)
