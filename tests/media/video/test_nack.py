"""The NACK generator and the retransmission buffer keep exact deadlines and state.

Proves:
- a hole seen at t is NACKed at t + delay, then every interval, at most max_retries
  times (exact deadlines), and a packet that arrives stops its NACKs;
- holes across the 16-bit wrap are found; a jump beyond max_missing is not NACKed;
- the sender's buffer returns the packets a NACK names while it still holds them;
- end to end: a packet dropped on the way is NACKed, retransmitted and fills the hole
  (generic NACK bytes through ``voipkit.media.rtcp``).
"""

from __future__ import annotations

from voipkit.media.rtcp import RtcpNackPacket, parse_rtcp
from voipkit.media.rtp import RtpPacket
from voipkit.media.video.nack import NackGenerator, RetransmissionBuffer


def test_exact_nack_deadlines() -> None:
    # Binary-exact times, so deadlines compare with ==.
    gen = NackGenerator(delay=0.125, interval=0.5, max_retries=3)
    for seq, t in ((0, 0.0), (1, 0.25), (2, 0.5), (5, 0.75)):
        gen.received(seq, now=t)
    assert gen.missing == [3, 4]
    assert gen.get_timer() == 0.875
    assert gen.handle_timer(now=0.87) == []
    assert gen.handle_timer(now=0.875) == [3, 4]
    assert gen.get_timer() == 1.375
    gen.received(3, now=1.0)
    assert gen.recovered == 1 and gen.missing == [4]
    assert gen.handle_timer(now=1.375) == [4]
    assert gen.get_timer() == 1.875
    assert gen.handle_timer(now=1.875) == [4]  # the third NACK: then it gives up
    assert gen.get_timer() is None and gen.given_up == 1 and gen.nacked == 4


def test_wrap_and_big_jumps() -> None:
    gen = NackGenerator(max_missing=10)
    gen.received(65534, now=0)
    gen.received(65535, now=0)
    gen.received(2, now=0)
    assert gen.missing == [0, 1]
    gen.received(100, now=1)  # 97 numbers missing: a new start, not NACKed
    assert gen.missing == []
    gen.received(99, now=1)  # reordered old packet: nothing to do
    assert gen.get_timer() is None


def test_retransmission_buffer() -> None:
    buf = RetransmissionBuffer(capacity=4)
    for seq in range(65534, 65534 + 6):
        buf.store(seq & 0xFFFF, bytes(RtpPacket(96, seq & 0xFFFF, 0, 1, b"x")))
    assert buf.get(65535) is None  # overwritten by 3
    resent = [RtpPacket.parse(d).sequence_number for d in buf.retransmissions([0, 1, 65535, 3])]
    assert resent == [0, 1, 3]
    assert buf.retransmitted == 3 and buf.unavailable == 1


def test_a_dropped_packet_is_recovered() -> None:
    sent = [RtpPacket(96, seq, 0, 0xAB, bytes([seq])) for seq in range(10, 16)]
    buf = RetransmissionBuffer()
    gen = NackGenerator(delay=0.125)
    for packet in sent:
        buf.store(packet.sequence_number, bytes(packet))
    arrived: dict[int, bytes] = {}
    for t, packet in enumerate(sent):
        if packet.sequence_number == 12:
            continue  # lost on the way
        arrived[packet.sequence_number] = packet.payload
        gen.received(packet.sequence_number, now=t * 0.25)
    deadline = gen.get_timer()
    assert deadline == 3 * 0.25 + 0.125  # the hole shows when 13 arrives
    wire = bytes(RtcpNackPacket(sender_ssrc=0xCD, media_ssrc=0xAB,
                                lost=tuple(gen.handle_timer(now=deadline))))
    (nack,) = parse_rtcp(wire)
    assert isinstance(nack, RtcpNackPacket) and nack.lost == (12,)
    for datagram in buf.retransmissions(nack.lost):
        retransmitted = RtpPacket.parse(datagram)
        arrived[retransmitted.sequence_number] = retransmitted.payload
        gen.received(retransmitted.sequence_number, now=deadline + 0.0625)
    assert sorted(arrived) == list(range(10, 16)) and arrived[12] == bytes([12])
    assert gen.get_timer() is None and gen.recovered == 1
