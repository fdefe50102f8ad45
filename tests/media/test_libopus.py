"""The libopus decoder binding (media/codecs/libopus.py) and its use by RtpStream.

Proves:
- decoding at 48 kHz gives exactly what PyAV's libopus decoder gives for the same
  packets (tolerance 0: both call the same libopus ``opus_decode``), and decoding at
  16 kHz gives 320 samples per 20 ms packet that follow the 16 kHz input;
- libopus PLC (``conceal``) continues speech: non-silent, without a jump at the
  junction larger than the decoded signal's own sample-to-sample steps;
- ``recover`` rebuilds dropped packets from the next packet's in-band FEC (encoder
  with ``useinbandfec=1``, 10 % expected loss) at least 6 dB closer to the lossless
  decode than PLC does; without LBRR in the stream it is no better than PLC;
- RtpStream uses FEC for a lost Opus packet when the next one is already buffered
  (counted in ``fec_frames``), PLC when ``fec`` is off, decodes at the device rate,
  and our Opus row does not ask for ``useinbandfec=1`` by default (LBRR costs quality
  on clean calls);
- a library that cannot be loaded raises an error naming both places looked in.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voipkit.base.ids import SequentialIds
from voipkit.media.codecs import OPUS
from voipkit.media.codecs.libopus import (
    LibopusUnavailableError,
    OpusDecoder,
    libopus_path,
    load_libopus,
)
from voipkit.media.codecs.opus import encoder_for, opus_options
from voipkit.media.codecs.pyav import PyAvDecoder
from voipkit.media.codecs.registry import CodecSettings
from voipkit.media.frames import Pcm
from voipkit.media.ports import WavFileSource
from voipkit.media.stream import RtpStream, StreamConfig

SPEECH = Path(str(files("voipkit.data") / "speech-8k.wav"))


def _frames(rate: int, samples: int) -> list[Pcm]:
    source = WavFileSource(SPEECH)
    try:
        out = []
        while not source.finished:
            out.append(source.read_frame(samples, rate))
        return out
    finally:
        source.close()


def _packets(rate: int, *, fec: bool) -> list[bytes]:
    opts = opus_options({"useinbandfec": "1" if fec else "0"})
    encoder = encoder_for(opts, input_rate=rate)
    return [encoder.encode(frame) for frame in _frames(rate, rate // 50)]


def _snr(reference: Pcm, signal: Pcm) -> float:
    ref = reference.astype(np.float64)
    err = ref - signal.astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / max(float(np.sum(err**2)), 1e-9)))


def test_library_loads_and_says_which() -> None:
    assert "libopus" in libopus_path()


def test_unloadable_library_names_both_places() -> None:
    with pytest.raises(LibopusUnavailableError) as info:
        load_libopus(("/nonexistent/libopus-none.so",))
    assert "av.libs" in str(info.value) and "libopus0" in str(info.value)


def test_decode_at_48k_equals_pyav() -> None:
    packets = _packets(48000, fec=False)
    ours = OpusDecoder(48000)
    theirs = PyAvDecoder("libopus", sample_rate=48000)
    a = np.concatenate([ours.decode(p) for p in packets])
    b = np.concatenate([theirs.decode(p) for p in packets])
    assert len(a) == len(b) == 960 * len(packets)
    assert np.abs(a.astype(np.int32) - b).max() == 0
    assert np.abs(a).max() > 5000
    ours.close()
    ours.close()  # idempotent


def test_decode_straight_at_16k_follows_the_input() -> None:
    frames = _frames(16000, 320)
    encoder = encoder_for(opus_options({}), input_rate=16000)
    decoder = OpusDecoder(16000)
    out = [decoder.decode(encoder.encode(f)) for f in frames]
    assert {len(f) for f in out} == {320}
    sent, got = np.concatenate(frames), np.concatenate(out)
    lag = int(np.argmax([np.dot(sent[:-400].astype(np.float64),
                                got[k:k + len(sent) - 400].astype(np.float64))
                         for k in range(400)]))
    assert _snr(sent[:-400], got[lag:lag + len(sent) - 400]) > 8.0


def test_empty_and_corrupt_packets_give_no_samples() -> None:
    decoder = OpusDecoder(16000)
    assert len(decoder.decode(b"")) == 0
    assert len(decoder.decode(b"\xff\xff\xff")) == 0  # code 3, invalid frame count
    with pytest.raises(ValueError):
        OpusDecoder(44100)


def test_plc_is_non_silent_and_continuous() -> None:
    packets = _packets(16000, fec=False)
    decoder = OpusDecoder(16000)
    decoded = [decoder.decode(p) for p in packets[:60]]
    last = decoded[-1].astype(np.int32)
    assert np.sqrt(np.mean(last.astype(np.float64) ** 2)) > 300  # voiced speech here
    concealed = decoder.conceal(320)
    assert len(concealed) == 320
    rms = float(np.sqrt(np.mean(concealed[:160].astype(np.float64) ** 2)))
    assert rms > 100
    junction = abs(int(concealed[0]) - int(last[-1]))
    assert junction <= np.abs(np.diff(last)).max()
    assert len(decoder.conceal(100)) == 100  # not a multiple of 2.5 ms: trimmed
    assert len(decoder.conceal(3000)) == 3000  # over 120 ms: split


def _lost_frames(packets: list[bytes], *, fec: bool) -> tuple[Pcm, Pcm]:
    """(lossless decode, decode with every 10th packet lost) of the lost frames."""
    lost = range(20, len(packets) - 1, 10)
    clean_decoder = OpusDecoder(16000)
    clean = [clean_decoder.decode(p) for p in packets]
    decoder = OpusDecoder(16000)
    out: list[Pcm] = []
    for i, packet in enumerate(packets):
        if i in lost:
            out.append(decoder.recover(packets[i + 1], 320) if fec else decoder.conceal(320))
        else:
            out.append(decoder.decode(packet))
    pick: list[npt.NDArray[np.int16]] = [clean[i] for i in lost]
    return np.concatenate(pick), np.concatenate([out[i] for i in lost])


def test_fec_recovers_lost_frames_far_better_than_plc() -> None:
    packets = _packets(16000, fec=True)
    fec = _snr(*_lost_frames(packets, fec=True))
    plc = _snr(*_lost_frames(packets, fec=False))
    print(f"lost frames vs lossless decode: FEC {fec:.1f} dB, PLC {plc:.1f} dB")
    assert fec > plc + 6.0
    plain = _packets(16000, fec=False)  # no LBRR sent: recover() can only conceal
    assert _snr(*_lost_frames(plain, fec=True)) < plc + 1.0


def _opus_config(device_rate: int) -> StreamConfig:
    return StreamConfig(payload_type=111, codec=OPUS, device_rate=device_rate,
                        settings=CodecSettings(remote_fmtp={"useinbandfec": "1"}))


def _run(*, fec: bool, drop: int) -> tuple[RtpStream, Pcm]:
    a = RtpStream(_opus_config(16000), ids=SequentialIds("a"), now=0.0)
    b = RtpStream(_opus_config(16000), ids=SequentialIds("b"), now=0.0, jitter_delay=0.04)
    b.fec = fec
    out = []
    frames = _frames(16000, 320)[:80]
    for n, frame in enumerate(frames):
        now = n * 0.02
        for data in a.encode_frame(frame, now=now):
            if n != drop:
                b.receive_rtp(data, arrival=now)
        out.append(b.pull_audio(320, now=now))
    return b, np.concatenate(out)


def test_stream_uses_fec_when_the_next_packet_is_buffered() -> None:
    with_fec, pcm_fec = _run(fec=True, drop=60)
    plc, pcm_plc = _run(fec=False, drop=60)
    clean, pcm_clean = _run(fec=True, drop=-1)
    assert with_fec.counters.concealed_frames == 1 and with_fec.counters.fec_frames == 1
    assert plc.counters.concealed_frames == 1 and plc.counters.fec_frames == 0
    assert clean.counters.concealed_frames == 0
    assert with_fec.statistics(2.0)["fec_frames"] == 1
    decoder = with_fec._decoders[111]
    assert isinstance(decoder, OpusDecoder) and decoder.sample_rate == 16000  # no resampler
    fec, plc_snr = _snr(pcm_clean, pcm_fec), _snr(pcm_clean, pcm_plc)
    print(f"stream, one voiced packet lost: FEC {fec:.1f} dB, PLC {plc_snr:.1f} dB")
    assert fec > plc_snr + 3.0


def test_opus_row_does_not_ask_for_lbrr_by_default() -> None:
    # LBRR costs ~0.6 PESQ on clean calls: only setAudioCodecParameter asks for it
    assert OPUS.capability().fmtp == {}
    assert OPUS.decode_rate(16000) == 16000 and OPUS.decode_rate(44100) == 48000
