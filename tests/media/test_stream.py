"""RtpStream, sans-IO: two streams wired back to back with exact times.

Proves:
- sent packets carry the negotiated payload type, consecutive sequence numbers from the
  random start, timestamps advancing by one frame, and the marker bit on the first only;
  sequence numbers wrap at 2**16 and timestamps at 2**32;
- the receiver's pulled audio is exactly the G.711 round trip (PCMU and PCMA) of the
  sender's input, one frame late (the jitter buffer's prefetch);
- one lost packet is concealed (counted once, not silence); a reordered pair still
  plays exactly; duplicates and late packets are counted;
- the digits "1#" sent as RFC 4733 events arrive exactly once each; each event is a
  marker start, updates on one timestamp and three end packets; the events neither look
  like loss to the receiver nor break the audio that follows;
- direction: a stream that does not send encodes nothing but keeps its RTP clock and
  marks the talkspurt when it resumes; a stream that does not receive discards audio;
- RTCP: due times follow the interval and the injected randomness; A's SR is parsed by
  B, B's RR (no RTP sent) carries LSR/DLSR, and A computes the exact RTT; BYE unlocks;
- SSRC lock: a foreign source is ignored until it sends SSRC_SWITCH_AFTER packets;
- malformed RTP, RTCP and telephone-event payloads, and unknown payload types, are
  counted, never raised;
- StreamConfig.from_negotiated reads a real offer/answer;
- a stream that has received nothing (its jitter buffer is made by the first packet)
  plays silence and reports zero receive statistics, and the audio that then arrives
  plays exactly as in a stream that received from the start.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import numpy as np
import pytest

from voipkit.base.ids import SequentialIds
from voipkit.media.codecs import DEFAULT_CODECS, PCMA, PCMU, CodecSpec
from voipkit.media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voipkit.media.dtmf import TelephoneEvent
from voipkit.media.frames import Pcm
from voipkit.media.ports import ToneSource
from voipkit.media.rtcp import RtcpRrPacket, RtcpSdesPacket, RtcpSrPacket, parse_rtcp
from voipkit.media.rtp import RtpPacket
from voipkit.media.stream import SSRC_SWITCH_AFTER, RtpStream, StreamConfig
from voipkit.sdp import Direction, create_offer, negotiate_answer, process_answer

PTIME = 0.02
FRAME = 160


class FixedIds(SequentialIds):
    """SequentialIds whose ssrc() returns the given values in order (then 0)."""

    def __init__(self, *values: int) -> None:
        super().__init__("f")
        self._values = list(values)

    def ssrc(self) -> int:
        return self._values.pop(0) if self._values else 0


def pcmu(direction: Direction = Direction.SENDRECV, codec: CodecSpec = PCMU,
         pt: int = 0) -> StreamConfig:
    return StreamConfig(payload_type=pt, codec=codec, ptime=PTIME, telephone_event_pt=101,
                        direction=direction)


def pair(config: StreamConfig | None = None) -> tuple[RtpStream, RtpStream]:
    cfg = config or pcmu()
    a = RtpStream(cfg, ids=FixedIds(0xAAAA0001, 1000, 50_000), cname="a@test", now=0.0)
    b = RtpStream(cfg, ids=FixedIds(0xBBBB0002, 2000, 90_000), cname="b@test", now=0.0)
    return a, b


def tone_frames(count: int, freq: float = 440.0) -> list[Pcm]:
    tone = ToneSource(freq, level_dbfs=-6.0)
    return [tone.read_frame(FRAME, 8000) for _ in range(count)]


def run(a: RtpStream, b: RtpStream, frames: Iterable[Pcm], *,
        drop: Collection[int] = (), swap: int | None = None,
        start: int = 0) -> tuple[list[bytes], Pcm]:
    """One tick per frame at t = n * ptime: A encodes, B receives (same instant), B pulls."""
    sent: list[bytes] = []
    held: bytes | None = None
    out: list[Pcm] = []
    for n, pcm in enumerate(frames, start):
        t = n * PTIME
        for data in a.encode_frame(pcm, now=t):
            index = len(sent)
            sent.append(data)
            if index in drop:
                continue
            if swap is not None and index == swap:
                held = data
                continue
            b.receive_rtp(data, arrival=t)
            if held is not None and swap is not None and index == swap + 1:
                b.receive_rtp(held, arrival=t)
                held = None
        out.append(b.pull_audio(FRAME, now=t))
    return sent, np.concatenate(out)


def test_packets_carry_pt_seq_timestamp_and_marker() -> None:
    a, b = pair()
    sent, _ = run(a, b, tone_frames(4))
    packets = [RtpPacket.parse(d) for d in sent]
    assert [p.payload_type for p in packets] == [0, 0, 0, 0]
    assert [p.sequence_number for p in packets] == [1000, 1001, 1002, 1003]
    assert [p.timestamp for p in packets] == [50_000, 50_160, 50_320, 50_480]
    assert [p.marker for p in packets] == [True, False, False, False]
    assert {p.ssrc for p in packets} == {0xAAAA0001}
    assert all(len(p.payload) == FRAME for p in packets)
    assert a.counters.packets_sent == 4 and a.counters.bytes_sent == 4 * (12 + FRAME)


def test_sequence_and_timestamp_wrap() -> None:
    a = RtpStream(pcmu(), ids=FixedIds(7, 0xFFFE, 0xFFFF_FF00), cname="a", now=0.0)
    b = RtpStream(pcmu(), ids=FixedIds(8, 1, 1), cname="b", now=0.0)
    frames = tone_frames(6)
    sent, out = run(a, b, frames)
    packets = [RtpPacket.parse(d) for d in sent]
    assert [p.sequence_number for p in packets] == [0xFFFE, 0xFFFF, 0, 1, 2, 3]
    assert [p.timestamp for p in packets] == [0xFFFF_FF00, 0xFFFF_FFA0, 0x40, 0xE0, 0x180, 0x220]
    expected = ulaw_decode(ulaw_encode(np.concatenate(frames)))
    assert np.array_equal(out[FRAME:], expected[:-FRAME])
    assert b.counters.concealed_frames == 0
    assert b.statistics(0.2)["lost"] == 0


@pytest.mark.parametrize(("codec", "pt", "encode", "decode"), [
    (PCMU, 0, ulaw_encode, ulaw_decode),
    (PCMA, 8, alaw_encode, alaw_decode),
])
def test_received_audio_is_the_g711_round_trip_one_frame_late(
    codec: CodecSpec, pt: int, encode: object, decode: object
) -> None:
    a, b = pair(pcmu(codec=codec, pt=pt))
    frames = tone_frames(25)
    _, out = run(a, b, frames)
    source = np.concatenate(frames)
    assert callable(encode) and callable(decode)
    expected = decode(encode(source))
    assert np.array_equal(out[:FRAME], np.zeros(FRAME, dtype=np.int16))  # prefetching
    assert np.array_equal(out[FRAME:], expected[:-FRAME])
    assert b.counters.frames_decoded == 24 and b.counters.silence_frames == 1
    stats = b.statistics(0.5)
    assert stats["codec"] == codec.name
    assert stats["packets_received"] == 25 and stats["lost"] == 0


def test_one_lost_packet_is_concealed_once() -> None:
    a, b = pair()
    frames = tone_frames(20)
    _, out = run(a, b, frames, drop={8})
    expected = ulaw_decode(ulaw_encode(np.concatenate(frames)))
    assert b.counters.concealed_frames == 1
    lost_at = slice(9 * FRAME, 10 * FRAME)  # frame 8 plays at tick 9
    assert np.any(out[lost_at] != 0)  # concealment, not silence
    assert not np.array_equal(out[lost_at], expected[8 * FRAME: 9 * FRAME])
    assert np.array_equal(out[10 * FRAME:], expected[9 * FRAME: -FRAME])
    stats = b.statistics(0.4)
    assert stats["lost"] == 1 and stats["concealed_frames"] == 1
    assert stats["fraction_lost"] == pytest.approx(1 / 20)


def test_reordered_packets_still_play_exactly() -> None:
    a, b = pair()
    frames = tone_frames(20)
    _, out = run(a, b, frames, swap=6)  # packet 6 arrives after packet 7, one tick late
    expected = ulaw_decode(ulaw_encode(np.concatenate(frames)))
    assert b.counters.concealed_frames == 0
    assert np.array_equal(out[FRAME:], expected[:-FRAME])


def test_duplicates_and_late_packets_are_counted() -> None:
    a, b = pair()
    frames = tone_frames(10)
    sent, _ = run(a, b, frames)
    b.receive_rtp(sent[9], arrival=0.2)  # still buffered: a duplicate
    b.receive_rtp(sent[2], arrival=0.2)  # played long ago: late
    stats = b.statistics(0.2)
    assert stats["duplicates"] == 1 and stats["late"] == 1


def test_dtmf_digits_arrive_once_each_without_disturbing_audio() -> None:
    a, b = pair()
    frames = tone_frames(60)
    before, out_before = run(a, b, frames[:5])
    a.send_dtmf("1#", duration=0.1, now=5 * PTIME)
    after, out_after = run(a, b, frames[5:], start=5)
    sent, out = before + after, np.concatenate((out_before, out_after))
    events = [p for p in map(RtpPacket.parse, sent) if p.payload_type == 101]
    by_ts: dict[int, list[RtpPacket]] = {}
    for p in events:
        by_ts.setdefault(p.timestamp, []).append(p)
    assert len(by_ts) == 2
    for packets, digit in zip(by_ts.values(), (1, 11), strict=True):
        decoded = [TelephoneEvent.decode(p.payload) for p in packets]
        assert [p.marker for p in packets] == [True] + [False] * (len(packets) - 1)
        assert {e.event for e in decoded} == {digit}
        assert [e.end for e in decoded] == [False] * 4 + [True] * 3
        assert [e.duration for e in decoded] == [160, 320, 480, 640, 800, 800, 800]
    first_ts = 50_000 + 5 * FRAME
    assert list(by_ts) == [first_ts, first_ts + 9 * FRAME]  # 7 packets + 2 gap ticks later
    digits = b.pop_dtmf()
    assert [d.char for d in digits] == ["1", "#"]
    assert b.pop_dtmf() == []
    assert a.counters.dtmf_sent == 2 and b.counters.dtmf_received == 2
    assert b.counters.concealed_frames == 0 and b.counters.event_frames == 14
    # audio after the events is exact again
    expected = ulaw_decode(ulaw_encode(np.concatenate(frames)))
    assert np.array_equal(out[-10 * FRAME:], expected[-11 * FRAME: -FRAME])


def test_dtmf_without_telephone_event_is_refused() -> None:
    cfg = StreamConfig(payload_type=0, codec=PCMU)
    stream = RtpStream(cfg, ids=FixedIds(), cname="x", now=0.0)
    with pytest.raises(ValueError, match="telephone-event"):
        stream.send_dtmf("1", now=0.0)


def test_not_sending_keeps_the_clock_and_marks_the_resumed_talkspurt() -> None:
    a, b = pair()
    frames = tone_frames(10)
    run(a, b, frames[:3])
    a.reconfigure(pcmu(Direction.RECVONLY))  # the peer put us on hold (it sent sendonly)
    held, _ = run(a, b, frames[3:6], start=3)
    assert held == []
    assert a.counters.packets_sent == 3
    a.reconfigure(pcmu(Direction.SENDRECV))
    resumed, _ = run(a, b, frames[6:], start=6)
    packets = [RtpPacket.parse(d) for d in resumed]
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert packets[0].sequence_number == 1003  # no gap in sequence numbers
    assert packets[0].timestamp == 50_000 + 6 * FRAME  # the clock ran during the hold


def test_not_receiving_discards_audio() -> None:
    a, b = pair()
    b.reconfigure(pcmu(Direction.SENDONLY))
    _, out = run(a, b, tone_frames(10))
    assert not np.any(out)
    assert b.counters.discarded == 10 and b.counters.frames_decoded == 0
    assert b.statistics(0.2)["packets_received"] == 10  # still counted for RTCP


def test_rtcp_schedule_follows_the_interval_and_ids() -> None:
    # factor = 0.5 + value / 2**32: 2**31 -> 1.0, 0 -> 0.5, 3 * 2**30 -> 1.25
    stream = RtpStream(pcmu(), ids=FixedIds(1, 2, 3, 2**31, 0, 3 * 2**30), cname="s",
                       now=100.0)
    assert stream.next_rtcp_at == 102.5  # half the first interval (RFC 3550 §6.2)
    assert not stream.rtcp_due(102.49) and stream.rtcp_due(102.5)
    stream.build_rtcp(now=102.5)
    assert stream.next_rtcp_at == 105.0
    stream.build_rtcp(now=105.0)
    assert stream.next_rtcp_at == 111.25


def test_sr_then_rr_gives_the_sender_an_exact_rtt() -> None:
    a, b = pair()
    run(a, b, tone_frames(50))  # A sends, B only receives
    sr_bytes = a.build_rtcp(now=10.0)
    sr, sdes = parse_rtcp(sr_bytes)
    assert isinstance(sr, RtcpSrPacket) and isinstance(sdes, RtcpSdesPacket)
    assert sr.ssrc == a.ssrc and sr.packet_count == 50 and sr.octet_count == 50 * FRAME
    assert sdes.chunks[0].get(1) == b"a@test"
    b.receive_rtcp(sr_bytes, arrival=10.05)
    rr_bytes = b.build_rtcp(now=10.25)
    rr = parse_rtcp(rr_bytes)[0]
    assert isinstance(rr, RtcpRrPacket)  # B sent no RTP
    (block,) = rr.reports
    assert block.ssrc == a.ssrc and block.packets_lost == 0
    assert block.highest_sequence == 1049
    assert block.dlsr == round(0.2 * 65536)
    assert a.rtt is None
    a.receive_rtcp(rr_bytes, arrival=10.35)
    assert a.rtt == pytest.approx(0.15, abs=2 / 65536)
    stats = a.statistics(10.35)
    assert stats["rtt_ms"] == pytest.approx(150, abs=0.1)
    assert stats["remote_lost"] == 0 and stats["remote_fraction_lost"] == 0.0
    # A sent nothing since its SR: its next report is an RR
    assert isinstance(parse_rtcp(a.build_rtcp(now=15.0))[0], RtcpRrPacket)


def test_bye_unlocks_the_source_and_a_new_one_is_followed() -> None:
    a, b = pair()
    run(a, b, tone_frames(5))
    c = RtpStream(pcmu(), ids=FixedIds(0xCCCC0003, 500, 0), cname="c", now=0.0)
    for n in range(SSRC_SWITCH_AFTER - 1):
        b.receive_rtp(c.encode_frame(tone_frames(1)[0], now=0.1 + n * PTIME)[0], arrival=0.2)
    assert b.remote_ssrc == a.ssrc and b.counters.foreign_ssrc == SSRC_SWITCH_AFTER - 1
    b.receive_rtp(c.encode_frame(tone_frames(1)[0], now=0.2)[0], arrival=0.2)
    assert b.remote_ssrc == c.ssrc and b.counters.ssrc_changes == 1
    b.receive_rtcp(c.build_bye(now=0.3, reason="bye"), arrival=0.3)
    assert b.remote_bye and b.remote_ssrc is None
    b.receive_rtp(a.encode_frame(tone_frames(1)[0], now=0.3)[0], arrival=0.3)
    assert b.remote_ssrc == a.ssrc and not b.remote_bye


def test_bad_input_is_counted_not_raised() -> None:
    a, b = pair()
    run(a, b, tone_frames(3))
    b.receive_rtp(b"\x80\x00\x00", arrival=0.1)  # shorter than the fixed header
    b.receive_rtp(b"\x40" + bytes(20), arrival=0.1)  # version 1
    short_event = RtpPacket(101, 1003, 50_480, a.ssrc, payload=b"\x01\x0a")
    b.receive_rtp(bytes(short_event), arrival=0.1)
    b.receive_rtp(bytes(RtpPacket(96, 1004, 50_640, a.ssrc, payload=bytes(160))), arrival=0.1)
    b.receive_rtcp(b"\x80\xc8\x00\x10junk", arrival=0.1)
    b.receive(b"\x81\xc9\x00\x07" + bytes(4), arrival=0.1)  # RFC 5761 demux -> RTCP, truncated
    assert b.counters.malformed == 3
    assert b.counters.unknown_payload_type == 1
    assert b.counters.rtcp_malformed == 2
    assert b.statistics(0.1)["malformed"] == 3


def test_config_from_a_real_offer_answer() -> None:
    caps = DEFAULT_CODECS.capabilities()
    offer = create_offer(capabilities=caps[::-1], address="192.0.2.1", port=40000,
                         session_id=1, session_version=1)
    answer, (theirs,) = negotiate_answer(offer, capabilities=caps, address="192.0.2.2",
                                         port=50000, session_id=2, session_version=1,
                                         rtcp_mux=False)
    (ours,) = process_answer(offer, answer)
    cfg = StreamConfig.from_negotiated(ours)
    assert cfg.codec is PCMA and cfg.payload_type == 8 and cfg.telephone_event_pt == 101
    assert cfg.ptime == 0.02 and cfg.direction is Direction.SENDRECV
    assert dict(cfg.accepted) == {8: PCMA, 0: PCMU}
    assert StreamConfig.from_negotiated(theirs).codec is PCMA


def test_stream_before_any_packet_plays_silence_then_the_audio_that_arrives() -> None:
    a, b = pair()
    for n in range(3):  # three ticks with nothing received
        assert np.array_equal(b.pull_audio(FRAME, now=n * PTIME), np.zeros(FRAME, np.int16))
    assert b.counters.silence_frames == 3
    stats = b.statistics(3 * PTIME)
    assert stats["packets_received"] == 0 and stats["lost"] == 0
    assert stats["late"] == stats["underruns"] == stats["jitter_discarded"] == 0
    assert stats["jitter_buffer_delay_ms"] == pytest.approx(40.0)  # the initial target
    frames = tone_frames(10)
    _, out = run(a, b, frames, start=3)
    expected = ulaw_decode(ulaw_encode(np.concatenate(frames)))
    assert np.array_equal(out[:FRAME], np.zeros(FRAME, dtype=np.int16))  # prefetching
    assert np.array_equal(out[FRAME:], expected[:-FRAME])
    assert b.counters.frames_decoded == 9 and b.counters.silence_frames == 4
