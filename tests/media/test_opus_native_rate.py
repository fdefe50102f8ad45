"""Opus fed at the device's rate: no upsampler in front of the encoder, same wire format.

Proves:
- ``StreamConfig.encode_rate`` is the device rate when the codec row takes it natively
  (Opus: 8, 12, 16, 24 kHz, ``CodecSpec.input_rates``) and the codec's own rate
  otherwise (PCMU on a 16 kHz device is fed 8 kHz; G.722 16 kHz; Opus on a 48 kHz
  device 48 kHz); ``encoder_settings`` carries that rate only when it differs;
- ``encoder_for`` refuses a rate libopus does not take;
- a 16 kHz Opus stream sends one packet per 20 ms tick, RTP timestamps still stepping
  960 (the 48 kHz clock of RFC 7587 §4.1), packets any Opus decoder reads as 20 ms
  (960 samples at 48 kHz), coded as at most wideband (TOC, RFC 6716 §3.1), and the
  far end plays a 1 kHz tone back at 16 kHz;
- quality: the bundled speech through a 16 kHz Opus stream pair (sans-IO, no loss)
  scores at least the PESQ (wideband) of the former path, where the device's 16 kHz
  was upsampled to 48 kHz before the encoder, and at least 3.8;
- reconfiguring a stream from a 16 kHz to a 48 kHz device rebuilds the encoder at 48 kHz;
- the decoders' copy straight out of a packed mono s16 frame gives the samples PyAV's
  ``to_ndarray`` gives (Opus, G.722, PCMU packets decoded by a second FFmpeg context).
"""

from __future__ import annotations

import dataclasses
from importlib.resources import files
from pathlib import Path

import av
import numpy as np
import pytest
from pesq import pesq  # type: ignore[import-untyped]

from voipkit.base.ids import SequentialIds
from voipkit.media.codecs import G722, OPUS, PCMU, CodecSettings, CodecSpec
from voipkit.media.codecs.opus import OpusOptions, encoder_for
from voipkit.media.frames import Pcm, dominant_frequency
from voipkit.media.ports import ToneSource, WavFileSource
from voipkit.media.rtp import RtpPacket
from voipkit.media.stream import RtpStream, StreamConfig

SPEECH = Path(str(files("voipkit.data") / "speech-8k.wav"))
# RFC 6716 §3.1 TOC config: 0-3 SILK NB, 4-7 MB, 8-11 WB, 12-13 hybrid SWB, 14-15 FB,
# 16-19 CELT NB, 20-23 WB, 24-27 SWB, 28-31 FB
_AT_MOST_WIDEBAND = set(range(0, 12)) | set(range(16, 24))


def _opus(device_rate: int, codec: CodecSpec = OPUS) -> StreamConfig:
    return StreamConfig(payload_type=111, codec=codec, device_rate=device_rate,
                        settings=CodecSettings())


def test_encode_rate_is_the_device_rate_where_the_codec_takes_it() -> None:
    assert [_opus(rate).encode_rate for rate in (8000, 12000, 16000, 24000, 48000)] == \
        [8000, 12000, 16000, 24000, 48000]
    assert StreamConfig(payload_type=0, codec=PCMU, device_rate=16000).encode_rate == 8000
    assert StreamConfig(payload_type=9, codec=G722, device_rate=16000).encode_rate == 16000
    assert StreamConfig(payload_type=9, codec=G722, device_rate=8000).encode_rate == 16000
    settings = _opus(16000).encoder_settings
    assert settings is not None and settings.input_rate == 16000
    assert _opus(48000).encoder_settings == CodecSettings()  # unchanged
    with pytest.raises(ValueError, match="not 44100"):
        encoder_for(OpusOptions(bitrate=32000, channels=1, fec=False, frame_ms=20,
                                cutoff=None, complexity=5), input_rate=44100)


def _pair(config: StreamConfig) -> tuple[RtpStream, RtpStream]:
    a = RtpStream(config, ids=SequentialIds("a"), now=0.0)
    b = RtpStream(config, ids=SequentialIds("b"), now=0.0, jitter_delay=0.0)
    return a, b


def test_a_16khz_opus_stream_sends_48khz_clock_packets_and_plays_the_tone() -> None:
    a, b = _pair(_opus(16000))
    tone = ToneSource(1000.0, -6.0)
    timestamps, configs, played = [], set(), []
    reader = OPUS.decoder()
    for n in range(25):
        now = n * 0.02
        datagrams = a.encode_frame(tone.read_frame(320, 16000), now=now)
        assert len(datagrams) == 1
        packet = RtpPacket.parse(datagrams[0])
        timestamps.append(packet.timestamp)
        configs.add(packet.payload[0] >> 3)
        assert packet.payload[0] & 0x03 == 0  # one frame per packet (code 0)
        assert len(reader.decode(packet.payload)) == 960  # 20 ms at 48 kHz
        b.receive_rtp(datagrams[0], arrival=now)
        played.append(b.pull_audio(320, now=now))
    assert np.all(np.diff(timestamps) == 960)
    assert configs <= _AT_MOST_WIDEBAND
    last = np.concatenate(played[-10:])
    assert len(last) == 3200
    assert dominant_frequency(last, 16000) == pytest.approx(1000.0, abs=10)


def _speech16() -> Pcm:
    source = WavFileSource(SPEECH)
    frames = []
    try:
        while not source.finished:
            frames.append(source.read_frame(320, 16000))
    finally:
        source.close()
    return np.concatenate(frames)


def _chain_pesq(config: StreamConfig, speech: Pcm) -> float:
    a, b = _pair(config)
    out = []
    frames = [speech[i:i + 320] for i in range(0, len(speech) - 319, 320)]
    for n, frame in enumerate(frames + [np.zeros(320, np.int16)] * 10):
        for data in a.encode_frame(frame, now=n * 0.02):
            b.receive_rtp(data, arrival=n * 0.02)
        out.append(b.pull_audio(320, now=n * 0.02))
    degraded = np.concatenate(out).astype(np.float64)
    reference = speech[:len(frames) * 320].astype(np.float64)
    size = 1 << (len(reference) + len(degraded)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(degraded, size) * np.conj(np.fft.rfft(reference, size)),
                        size)
    lag = int(np.argmax(corr[:len(degraded)]))
    aligned = degraded[lag:lag + len(reference)]
    aligned = np.concatenate((aligned, np.zeros(len(reference) - len(aligned))))
    return float(pesq(16000, reference.astype(np.float32), aligned.astype(np.float32), "wb"))


def test_native_16khz_input_scores_at_least_the_upsampled_path() -> None:
    speech = _speech16()
    upsampled = _chain_pesq(_opus(16000, dataclasses.replace(OPUS, input_rates=())), speech)
    native = _chain_pesq(_opus(16000), speech)
    print(f"Opus 32 kb/s chain PESQ-WB: 48 kHz input {upsampled:.3f}, 16 kHz input {native:.3f}")
    assert native >= upsampled
    assert native >= 3.8


def test_reconfigure_to_a_48khz_device_rebuilds_the_encoder() -> None:
    a, _ = _pair(_opus(16000))
    assert len(a.encode_frame(np.zeros(320, np.int16), now=0.0)) == 1
    a.reconfigure(_opus(48000))
    assert a.config.encode_rate == 48000
    assert len(a.encode_frame(np.zeros(960, np.int16), now=0.02)) == 1


@pytest.mark.parametrize(("codec", "name", "rate", "samples"),
                         [(OPUS, "libopus", 48000, 320), (G722, "g722", 16000, 320),
                          (PCMU, "pcm_mulaw", 8000, 160)])
def test_decoded_samples_equal_pyav_to_ndarray(codec: CodecSpec, name: str, rate: int,
                                               samples: int) -> None:
    settings = CodecSettings(input_rate=16000) if codec is OPUS else None
    encoder, decoder = codec.encoder(settings), codec.decoder()
    reference = av.CodecContext.create(name, "r")
    assert isinstance(reference, av.AudioCodecContext)
    reference.sample_rate = rate
    reference.layout = "mono"
    tone = ToneSource(700.0, -10.0)
    for _ in range(10):
        payload = encoder.encode(tone.read_frame(samples, 16000 if codec is not PCMU else 8000))
        expected = np.concatenate([frame.to_ndarray().reshape(-1)
                                   for frame in reference.decode(av.Packet(payload))])
        got = decoder.decode(payload)
        assert got.dtype == np.int16 and np.array_equal(got, expected)
        assert np.any(got != 0)
