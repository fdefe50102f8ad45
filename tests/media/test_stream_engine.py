"""RtpStream with the audio engine's pieces, sans-IO, with exact times.

Proves:
- a stream whose device rate differs from the codec's (Opus: 16 kHz device, 48 kHz
  codec and RTP clock) sends one packet per tick with timestamps stepping 960, and the
  far end plays a 1 kHz tone back at the device rate (dominant 1 kHz);
- G.722 steps its RTP timestamp by 160 per 20 ms (8000 Hz clock, RFC 3551 §4.5.2)
  while coding 320 samples of 16 kHz audio;
- codec_ptime: G.723.1 makes 20 ms into 30 ms, G.711 keeps 10 ms, AMR keeps 40 ms;
- StreamConfig.from_negotiated applies fmtp and bit rate settings and finds CN;
- with VAD+CNG (ProcessingChain) a silent source sends CN packets (PT 13, one octet
  level, no marker) and no audio, a tone resumes audio with the marker bit on its
  first packet only, and silence after the tone is audio for at least the hangover
  frames, then CN again; without negotiated CN the silence sends nothing;
- SRTP: two streams keyed by SDES lines exchange protected RTP and RTCP; the
  plaintext is never on the wire; a forged tag and a replayed packet are dropped and
  counted, and the statistics carry the srtp_* counters.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from voipkit.base.ids import SequentialIds
from voipkit.media.codecs import AMR, CN, G722, G723, OPUS, PCMU, CodecSettings
from voipkit.media.dsp import ProcessingChain
from voipkit.media.frames import Pcm, dominant_frequency, silence
from voipkit.media.ports import ToneSource
from voipkit.media.rtp import RtpPacket
from voipkit.media.stream import RtpStream, StreamConfig, codec_ptime
from voipkit.sdp import Crypto
from voipkit.sdp.model import Direction, RtpMap
from voipkit.sdp.negotiate import NegotiatedMedia


class FixedIds(SequentialIds):
    def __init__(self, *values: int) -> None:
        super().__init__("f")
        self._values = list(values)

    def ssrc(self) -> int:
        return self._values.pop(0) if self._values else 0


def streams(config: StreamConfig, other: StreamConfig | None = None
            ) -> tuple[RtpStream, RtpStream]:
    a = RtpStream(config, ids=FixedIds(0xAAAA0001, 1000, 50_000), cname="a@t", now=0.0)
    b = RtpStream(other or config, ids=FixedIds(0xBBBB0002, 2000, 90_000), cname="b@t",
                  now=0.0)
    return a, b


def test_opus_resamples_between_device_and_codec() -> None:
    cfg = StreamConfig(payload_type=111, codec=OPUS, device_rate=16000)
    a, b = streams(cfg)
    tone = ToneSource(1000.0, -6.0)
    timestamps, played = [], []
    for n in range(50):
        t = n * 0.02
        out = a.encode_frame(tone.read_frame(320, 16000), now=t)
        assert len(out) == 1
        timestamps.append(RtpPacket.parse(out[0]).timestamp)
        b.receive_rtp(out[0], arrival=t)
        frame = b.pull_audio(320, now=t)
        assert len(frame) == 320
        played.append(frame)
    assert {(y - x) & 0xFFFFFFFF for x, y in itertools.pairwise(timestamps)} == {960}
    tail = np.concatenate(played[25:])
    assert np.sqrt(np.mean(tail.astype(np.float64) ** 2)) > 3000
    assert abs(dominant_frequency(tail, 16000) - 1000.0) < 20


def test_g722_clock_is_8000_for_16000_audio() -> None:
    cfg = StreamConfig(payload_type=9, codec=G722, device_rate=16000)
    a, _ = streams(cfg)
    tone = ToneSource(5000.0, -6.0)
    first, second = (RtpPacket.parse(a.encode_frame(tone.read_frame(320, 16000),
                                                    now=n * 0.02)[0]) for n in range(2))
    assert (second.timestamp - first.timestamp) & 0xFFFFFFFF == 160
    assert len(first.payload) == 160  # 320 samples at 4 bits each (64 kb/s)


def test_codec_ptime_rounds_to_whole_frames() -> None:
    assert codec_ptime(G723, 0.02) == pytest.approx(0.03)
    assert codec_ptime(G723, 0.06) == pytest.approx(0.06)
    assert codec_ptime(PCMU, 0.01) == pytest.approx(0.01)
    assert codec_ptime(AMR, 0.04) == pytest.approx(0.04)


def _negotiated(send: RtpMap, payload_types: dict[int, RtpMap], *, ptime: float = 0.02,
                fmtp: dict[str, str] | None = None, local: Crypto | None = None,
                remote: Crypto | None = None) -> NegotiatedMedia:
    return NegotiatedMedia(index=0, kind="audio", remote_address="127.0.0.1",
                           remote_port=4000, remote_rtcp=("127.0.0.1", 4001), rtcp_mux=False,
                           send_codec=send, send_fmtp=fmtp or {}, payload_types=payload_types,
                           telephone_event_pt=None, direction=Direction.SENDRECV, ptime=ptime,
                           local_crypto=local, remote_crypto=remote)


def test_from_negotiated_applies_settings_and_finds_cn() -> None:
    from voipkit.media.codecs import FULL_CODECS

    pcmu, cn = RtpMap(0, "PCMU", 8000), RtpMap(13, "CN", 8000)
    cfg = StreamConfig.from_negotiated(_negotiated(pcmu, {0: pcmu, 13: cn}), FULL_CODECS)
    assert cfg.cn_payload_type == 13 and cfg.accepted[13] is CN
    g723 = RtpMap(4, "G723", 8000)
    cfg = StreamConfig.from_negotiated(_negotiated(g723, {4: g723}), FULL_CODECS)
    assert cfg.ptime == pytest.approx(0.03) and cfg.frame_samples == 240
    opus = RtpMap(111, "opus", 48000, 2)
    cfg = StreamConfig.from_negotiated(
        _negotiated(opus, {111: opus}, fmtp={"useinbandfec": "1"}), FULL_CODECS,
        device_rate=16000, local_fmtp={"opus": {"maxaveragebitrate": "20000"}},
        bitrates={"opus": 24000})
    assert cfg.settings == CodecSettings(remote_fmtp={"useinbandfec": "1"},
                                         local_fmtp={"maxaveragebitrate": "20000"},
                                         ptime=0.02, bitrate=24000)
    assert cfg.cn_payload_type is None and cfg.audio_rate == 16000


def _vad_run(cn_pt: int | None) -> list[RtpPacket | None]:
    cfg = StreamConfig(payload_type=0, codec=PCMU, cn_payload_type=cn_pt,
                       receive_codecs={0: PCMU, 13: CN} if cn_pt else {})
    a, _ = streams(cfg)
    chain = ProcessingChain(sample_rate=8000, frame_samples=160, vad=True, cng=True,
                            hangover_frames=5)
    tone = ToneSource(440.0, -12.0)
    frames: list[Pcm] = ([silence(160)] * 20 + [tone.read_frame(160, 8000) for _ in range(20)]
                         + [silence(160)] * 20)
    out: list[RtpPacket | None] = []
    for n, frame in enumerate(frames):
        processed, decision = chain.process_capture(frame)
        sent = a.encode_frame(processed, now=n * 0.02, decision=decision)
        assert len(sent) <= 1
        out.append(RtpPacket.parse(sent[0]) if sent else None)
    chain.close()
    return out


def test_vad_cng_sends_comfort_noise_then_audio_with_marker() -> None:
    out = _vad_run(13)
    silent = out[:20]
    assert all(p is None or p.payload_type == 13 for p in silent)
    cn = [p for p in silent if p is not None]
    assert cn and all(len(p.payload) == 1 and not p.marker for p in cn)
    talk = out[20:40]
    assert all(p is not None and p.payload_type == 0 for p in talk)
    assert [p.marker for p in talk if p is not None] == [True] + [False] * 19
    after = out[40:]
    assert all(p is not None and p.payload_type == 0 for p in after[:5])  # the hangover
    first_cn = next(i for i, p in enumerate(after) if p is not None and p.payload_type == 13)
    assert 5 <= first_cn < 15  # our hangover plus the detector's own
    assert all(p is None or p.payload_type == 13 for p in after[first_cn:])
    seqs = [p.sequence_number for p in out if p is not None]
    assert all((y - x) & 0xFFFF == 1 for x, y in itertools.pairwise(seqs))


def test_vad_without_negotiated_cn_sends_nothing_in_silence() -> None:
    out = _vad_run(None)
    assert all(p is None for p in out[:20])
    assert out[20] is not None and out[20].marker and out[20].payload_type == 0
    assert all(p is None for p in out[55:])


KEY_A = Crypto.inline(1, "AES_CM_128_HMAC_SHA1_80", bytes(range(30)))
KEY_B = Crypto.inline(1, "AES_CM_128_HMAC_SHA1_80", bytes(range(30, 60)))


def test_srtp_streams_protect_and_drop_forgeries_and_replays() -> None:
    a_cfg = StreamConfig(payload_type=0, codec=PCMU, local_crypto=KEY_A, remote_crypto=KEY_B)
    b_cfg = StreamConfig(payload_type=0, codec=PCMU, local_crypto=KEY_B, remote_crypto=KEY_A)
    a, b = streams(a_cfg, b_cfg)
    tone = ToneSource(440.0, -6.0)
    sent: list[bytes] = []
    for n in range(10):
        frame = tone.read_frame(160, 8000)
        data = a.encode_frame(frame, now=n * 0.02)[0]
        plain = RtpPacket.parse(data)
        assert len(plain.payload) == 160 + 10  # the 80-bit tag follows the payload
        assert plain.payload[:160] != bytes(PCMU.make_encoder().encode(frame))
        sent.append(data)
        b.receive_rtp(data, arrival=n * 0.02)
    assert b.counters.packets_received == 10
    forged = bytearray(sent[-1])
    forged[2:4] = ((RtpPacket.parse(sent[-1]).sequence_number + 1) & 0xFFFF).to_bytes(2, "big")
    b.receive_rtp(bytes(forged), arrival=0.3)
    b.receive_rtp(sent[3], arrival=0.3)
    b.receive_rtcp(a.build_rtcp(now=0.3), arrival=0.3)
    assert b.counters.packets_received == 10 and b.counters.rtcp_received == 1
    stats = b.statistics(0.3)
    assert stats["srtp"] == "AES_CM_128_HMAC_SHA1_80"
    assert stats["srtp_unprotected"] == 10 and stats["srtp_rtcp_unprotected"] == 1
    assert stats["srtp_auth_failed"] == 1 and stats["srtp_replayed"] == 1
    assert a.statistics(0.3)["srtp_protected"] == 10
