"""Stream I/O in the sans-IO media layer: PcmInput, the RTP tap and RTP keep-alive.

Proves:
- PcmInput returns exactly the pushed samples, frame by frame, at the stream rate;
  holds 100 ms at most: a push beyond that keeps the first 100 ms and counts the
  rest as dropped; a frame read short is padded with silence and counted as an
  underrun; odd byte counts and bad rates are refused; a 16 kHz stream read at
  8 kHz comes out at the same frequency and level (resampled, no added delay);
- RtpStream's tap sees each sent packet exactly as it goes on the wire without
  SRTP, and unprotected with SRTP (the wire bytes differ, the tap's parse to the
  same header and G.711 payload); the receiver's tap sees the same plain packets,
  and nothing for a packet SRTP rejects or of an unknown payload type;
- RTP keep-alive (RFC 6263 §4.6): while audio is sent nothing else goes out; a
  stream that does not send emits an empty packet of the keep-alive payload type
  exactly every interval (by the tick times given), with consecutive sequence
  numbers; the peer counts it as an unknown payload type and it neither locks nor
  disturbs its audio; a keep-alive type equal to a negotiated one is never sent;
  off (None) sends nothing; bad arguments raise.
"""

from __future__ import annotations

import numpy as np
import pytest

from voipkit.base.ids import SequentialIds
from voipkit.media.codecs import PCMU
from voipkit.media.codecs.g711 import ulaw_encode
from voipkit.media.frames import dominant_frequency, level_dbfs
from voipkit.media.pcm_input import PcmInput
from voipkit.media.rtp import RtpPacket
from voipkit.media.stream import RtpStream, StreamConfig
from voipkit.sdp import Crypto, Direction

PTIME = 0.02
FRAME = 160


def _ramp(n: int, start: int = 0) -> np.ndarray:
    return ((np.arange(start, start + n) * 37) % 20000 - 10000).astype(np.int16)


def _tone(freq: float, rate: int, n: int, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(n) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


# -- PcmInput -------------------------------------------------------------------------------


def test_pcm_input_gives_back_exactly_what_was_pushed() -> None:
    source = PcmInput(8000)
    data = _ramp(3 * FRAME)
    assert source.push(data.astype("<i2").tobytes()) == 3 * FRAME
    for i in range(3):
        assert np.array_equal(source.read_frame(FRAME, 8000), data[i * FRAME:(i + 1) * FRAME])
    assert source.underruns == 0 and source.dropped_samples == 0
    assert source.pushed_samples == 3 * FRAME


def test_pcm_input_keeps_100_ms_and_counts_the_overflow() -> None:
    source = PcmInput(16000)
    assert source.capacity == 1600
    data = _ramp(16000 * 3 // 10)  # 300 ms at once
    assert source.push(data.tobytes()) == 1600
    assert source.dropped_samples == 4800 - 1600
    assert source.buffered == 1600
    assert source.push(_ramp(10).tobytes()) == 0  # still full
    assert source.dropped_samples == 4800 - 1600 + 10
    out = np.concatenate([source.read_frame(320, 16000) for _ in range(5)])
    assert np.array_equal(out, data[:1600])  # the first 100 ms, the rest dropped
    assert source.underruns == 0


def test_pcm_input_underrun_is_padded_and_counted() -> None:
    source = PcmInput(8000)
    source.push(_ramp(100).tobytes())
    frame = source.read_frame(FRAME, 8000)
    assert np.array_equal(frame[:100], _ramp(100)) and not frame[100:].any()
    assert source.underruns == 1
    assert not source.read_frame(FRAME, 8000).any()
    assert source.underruns == 2


def test_pcm_input_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        PcmInput(4000)
    with pytest.raises(ValueError):
        PcmInput(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PcmInput(8000).push(b"\x01\x02\x03")


def test_pcm_input_at_16k_read_at_8k_keeps_frequency_and_level() -> None:
    source = PcmInput(16000)
    tone = _tone(500.0, 16000, 16000)
    frames = []
    for i in range(50):  # 20 ms pushed, 20 ms read, as the manual advises
        source.push(tone[i * 320:(i + 1) * 320].tobytes())
        frames.append(source.read_frame(FRAME, 8000))
    out = np.concatenate(frames)
    assert len(out) == 8000
    assert source.underruns == 0
    assert abs(dominant_frequency(out[800:], 8000) - 500.0) < 10
    assert abs(level_dbfs(out[800:]) - level_dbfs(tone[1600:])) < 0.5


# -- the RTP tap ----------------------------------------------------------------------------


def _config(direction: Direction = Direction.SENDRECV, *, crypto: tuple[Crypto, Crypto] | None
            = None) -> StreamConfig:
    local, remote = crypto if crypto is not None else (None, None)
    return StreamConfig(payload_type=0, codec=PCMU, ptime=PTIME, telephone_event_pt=101,
                        direction=direction, local_crypto=local, remote_crypto=remote)


def _crypto(start: int) -> Crypto:
    return Crypto.inline(1, "AES_CM_128_HMAC_SHA1_80", bytes((start + i) & 0xFF
                                                              for i in range(30)))


def _pair(srtp: bool) -> tuple[RtpStream, RtpStream]:
    a_key, b_key = _crypto(1), _crypto(101)
    a = RtpStream(_config(crypto=(a_key, b_key) if srtp else None),
                  ids=SequentialIds("a"), now=0.0)
    b = RtpStream(_config(crypto=(b_key, a_key) if srtp else None),
                  ids=SequentialIds("b"), now=0.0)
    return a, b


@pytest.mark.parametrize("srtp", [False, True])
def test_rtp_tap_sees_plain_packets_both_ways(srtp: bool) -> None:
    a, b = _pair(srtp)
    sent: list[bytes] = []
    received: list[bytes] = []
    a.rtp_tap = lambda direction, packet: sent.append(packet) if direction == "send" else None
    b.rtp_tap = lambda direction, packet: received.append(packet) if direction == "recv" \
        else None
    audio = _ramp(5 * FRAME)
    wire: list[bytes] = []
    for i in range(5):
        frame = audio[i * FRAME:(i + 1) * FRAME]
        for data in a.encode_frame(frame, now=i * PTIME):
            wire.append(data)
            b.receive_rtp(data, arrival=i * PTIME + 0.001)
    assert len(sent) == len(wire) == 5
    for i, (plain, data) in enumerate(zip(sent, wire, strict=True)):
        packet = RtpPacket.parse(plain)
        assert packet.ssrc == a.ssrc and packet.payload_type == 0
        assert packet.payload == ulaw_encode(audio[i * FRAME:(i + 1) * FRAME])
        if srtp:
            assert data != plain and len(data) == len(plain) + 10  # the 80-bit tag
        else:
            assert data == plain
    assert received == sent
    if srtp:  # a packet failing authentication never reaches the tap
        forged = bytearray(wire[-1])
        forged[-1] ^= 0xFF
        b.receive_rtp(bytes(forged), arrival=1.0)
        assert b.srtp is not None
        assert b.srtp.counters.auth_failed + b.srtp.counters.replayed == 1
    b.receive_rtp(bytes(RtpPacket(payload_type=126, sequence_number=1, timestamp=0,
                                  ssrc=a.ssrc)), arrival=1.0)
    assert len(received) == 5


# -- RTP keep-alive -------------------------------------------------------------------------


def test_no_keepalive_while_audio_is_sent() -> None:
    a, _ = _pair(False)
    a.set_keepalive(126, 0.1)
    for i in range(50):
        out = a.encode_frame(_ramp(FRAME), now=i * PTIME)
        assert [RtpPacket.parse(d).payload_type for d in out] == [0]
    assert a.counters.keepalive_sent == 0


def test_keepalive_every_interval_while_not_sending() -> None:
    a = RtpStream(_config(Direction.RECVONLY), ids=SequentialIds("a"), now=0.0)
    b = RtpStream(_config(), ids=SequentialIds("b"), now=0.0)
    a.set_keepalive(126, 0.1)
    assert a.keepalive == (126, 0.1)
    sent: list[tuple[float, RtpPacket]] = []
    for i in range(51):  # 0.00 .. 1.00 s
        now = round(i * PTIME, 6)
        for data in a.encode_frame(_ramp(FRAME), now=now):
            sent.append((now, RtpPacket.parse(data)))
            b.receive_rtp(data, arrival=now)
    times = [t for t, _ in sent]
    assert times == pytest.approx([0.1 * k for k in range(1, 11)])
    assert all(p.payload_type == 126 and p.payload == b"" and p.ssrc == a.ssrc
               for _, p in sent)
    seqs = [p.sequence_number for _, p in sent]
    assert seqs == [(seqs[0] + k) & 0xFFFF for k in range(10)]
    assert a.counters.keepalive_sent == 10 and a.counters.packets_sent == 0
    assert b.counters.unknown_payload_type == 10
    assert b.counters.packets_received == 0 and b.remote_ssrc is None


def test_keepalive_does_not_disturb_the_peer_audio() -> None:
    a, b = _pair(False)
    a.set_keepalive(126, 0.1)
    c = RtpStream(_config(Direction.RECVONLY), ids=SequentialIds("c"), now=0.0)
    c.set_keepalive(126, 0.04)
    for i in range(20):
        now = i * PTIME
        for data in a.encode_frame(_ramp(FRAME, i * FRAME), now=now):
            b.receive_rtp(data, arrival=now)
        for data in c.encode_frame(_ramp(FRAME), now=now):  # keep-alives from elsewhere
            b.receive_rtp(data, arrival=now)
    assert b.counters.packets_received == 20
    assert b.counters.foreign_ssrc == 0
    assert b.counters.unknown_payload_type == c.counters.keepalive_sent > 0


def test_keepalive_of_a_negotiated_type_or_off_sends_nothing() -> None:
    a = RtpStream(_config(Direction.INACTIVE), ids=SequentialIds("a"), now=0.0)
    a.set_keepalive(101, 0.02)  # telephone-event's type
    assert not any(a.encode_frame(_ramp(FRAME), now=i * PTIME) for i in range(20))
    a.set_keepalive(0, 0.02)  # PCMU's
    assert not any(a.encode_frame(_ramp(FRAME), now=i * PTIME) for i in range(20, 40))
    a.set_keepalive(None)
    assert a.keepalive is None
    assert not any(a.encode_frame(_ramp(FRAME), now=i * PTIME) for i in range(40, 60))
    assert a.counters.keepalive_sent == 0
    with pytest.raises(ValueError):
        a.set_keepalive(128, 1.0)
    with pytest.raises(ValueError):
        a.set_keepalive(126, 0.0)
