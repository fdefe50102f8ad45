"""ReceiverStats and SenderStats follow RFC 3550 A.1, A.3, A.8 and §6.4.1 exactly.

Arrival times are multiples of 1/128 s so every expected value is exact in binary.

Proves:
- jitter is 0 for perfectly paced or constantly delayed packets, follows
  J += (|D| - J)/16 for a known late/on-time pattern, and survives an RTP timestamp wrap;
- probation: the first packet is not counted, an out-of-sequence packet restarts it;
- loss across the 65535 -> 0 wrap: cycles, extended highest sequence, expected, lost
  and fraction lost;
- reordering is not loss; duplicates make cumulative loss negative;
- fraction lost covers only the interval since the previous report;
- a large jump is ignored once and re-synchronises on the next sequential packet;
- LSR/DLSR come from the last SR and ``now``;
- SenderStats counts packets and payload octets and extrapolates the SR RTP timestamp.
"""

from __future__ import annotations

from voipkit.media.rtcp import ReportBlock, ntp_from_seconds, ntp_middle32
from voipkit.media.stats import ReceiverStats, SenderStats

TICK = 1 / 64  # seconds per packet: 125 timestamp units at 8000 Hz
STEP = 125


def feed(stats: ReceiverStats, seqs: list[int], *, delay: float = 0.0) -> list[bool]:
    return [stats.receive(s, (s * STEP) & 0xFFFFFFFF, arrival=(s % 65536) * TICK + delay)
            for s in seqs]


def test_perfect_pacing_and_constant_delay_give_zero_jitter() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000)
    feed(stats, list(range(50)), delay=0.5)
    assert stats.jitter == 0.0
    assert stats.report_block(now=1.0).jitter == 0


def test_jitter_for_a_known_arrival_pattern() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000, min_sequential=0)
    stats.receive(0, 0, arrival=0.0)
    stats.receive(1, 125, arrival=TICK + 1 / 128)  # 62.5 units late: D = 62.5
    assert stats.jitter == 62.5 / 16 == 3.90625
    stats.receive(2, 250, arrival=2 * TICK)  # back on time: |D| = 62.5
    assert stats.jitter == 3.90625 + (62.5 - 3.90625) / 16 == 7.568359375
    assert stats.jitter_seconds == 7.568359375 / 8000
    assert stats.report_block(now=1.0).jitter == 7


def test_jitter_survives_a_timestamp_wrap() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000, min_sequential=0)
    stats.receive(10, 0xFFFFFFFF - 124, arrival=0.0)
    stats.receive(11, 0, arrival=TICK)  # timestamp wrapped by exactly one packet
    assert stats.jitter == 0.0


def test_probation_does_not_count_the_first_packet() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000)
    assert not stats.valid
    assert stats.receive(10, 0, arrival=0.0) is False
    assert stats.receive(20, 1250, arrival=0.1) is False  # out of sequence: probation restarts
    assert stats.receive(21, 1375, arrival=0.2) is True
    assert stats.valid
    assert (stats.base_seq, stats.received, stats.expected) == (21, 1, 1)


def test_loss_across_the_sequence_wrap() -> None:
    stats = ReceiverStats(ssrc=0xA, clock_rate=8000)
    seqs = [65530, 65531, 65532, 65534, 65535, 0, 1, 3, 4, 5]  # 65533 and 2 are lost
    feed(stats, seqs)
    assert stats.cycles == 65536
    assert stats.extended_max == 65536 + 5
    assert stats.base_seq == 65531  # 65530 ended nothing: it was on probation
    assert stats.received == 9
    assert stats.expected == 11
    assert stats.cumulative_lost == 2
    assert stats.report_block(now=1.0) == ReportBlock(
        ssrc=0xA, fraction_lost=(2 << 8) // 11, packets_lost=2, highest_sequence=0x10005,
        jitter=0, lsr=0, dlsr=0,
    )


def test_reordering_is_not_loss() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000, min_sequential=0)
    assert feed(stats, [1, 2, 4, 3, 5]) == [True] * 5
    assert (stats.max_seq, stats.cycles, stats.expected, stats.cumulative_lost) == (5, 0, 5, 0)
    assert stats.report_block(now=1.0).fraction_lost == 0


def test_duplicates_make_loss_negative() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000, min_sequential=0)
    feed(stats, [1, 2, 2, 3])
    block = stats.report_block(now=1.0)
    assert (block.packets_lost, block.fraction_lost, block.highest_sequence) == (-1, 0, 3)


def test_fraction_lost_is_per_interval() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000, min_sequential=0)
    feed(stats, list(range(0, 10)))  # no loss
    assert stats.report_block(now=1.0).fraction_lost == 0
    feed(stats, [10, 12, 14, 16, 18, 19])  # 11, 13, 15, 17 lost: 4 of 10
    block = stats.report_block(now=2.0)
    assert (block.fraction_lost, block.packets_lost) == ((4 << 8) // 10, 4)
    feed(stats, [20, 21])
    block = stats.report_block(now=3.0)
    assert (block.fraction_lost, block.packets_lost) == (0, 4)
    assert stats.report_block(now=4.0).fraction_lost == 0  # empty interval


def test_large_jump_ignored_once_then_resynchronised() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000, min_sequential=0)
    assert feed(stats, [100, 101, 102]) == [True] * 3
    assert stats.receive(5000, 0, arrival=5.0) is False
    assert (stats.max_seq, stats.received) == (102, 3)
    assert stats.receive(5001, 125, arrival=5.0 + TICK) is True  # the peer restarted
    assert (stats.base_seq, stats.max_seq, stats.received, stats.expected) == (5001, 5001, 1, 1)


def test_lsr_and_dlsr_come_from_the_last_sender_report() -> None:
    stats = ReceiverStats(ssrc=1, clock_rate=8000, min_sequential=0)
    feed(stats, [1, 2])
    ntp = ntp_from_seconds(1_700_000_000.5)
    stats.record_sender_report(ntp, arrival=10.0)
    block = stats.report_block(now=12.5)
    assert block.lsr == ntp_middle32(ntp)
    assert block.dlsr == int(2.5 * 65536) == 163840


def test_sender_stats_and_sender_report() -> None:
    sender = SenderStats(clock_rate=8000)
    empty = sender.sender_report(7, wallclock=100.0, now=0.0)
    assert (empty.rtp_timestamp, empty.packet_count, empty.octet_count) == (0, 0, 0)
    sender.sent(160, 1000, now=0.0)
    sender.sent(160, 1125, now=TICK)
    block = ReportBlock(ssrc=9)
    sr = sender.sender_report(7, wallclock=1.5, reports=[block], now=TICK + 0.5)
    assert sr.ssrc == 7
    assert sr.ntp_timestamp == ntp_from_seconds(1.5)
    assert sr.rtp_timestamp == 1125 + 4000
    assert (sr.packet_count, sr.octet_count) == (2, 320)
    assert sr.reports == [block]
