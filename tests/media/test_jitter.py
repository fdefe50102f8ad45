"""JitterBuffer: ordering, loss, drops, wrap-around, resets and delay adaptation.

Proves, with explicit ``arrival``/``now`` floats and no clock (8 kHz, 20 ms frames):
- in-order packets play in order after the initial 40 ms prefetch;
- reordered packets (also at the very start) play in sequence order;
- a lost packet becomes ``Missing`` for exactly its sequence number;
- a duplicate and a packet behind the playout cursor are dropped and counted;
- sequence numbers wrap 65535 -> 0 and timestamps wrap 2**32 -> 0 seamlessly;
- an empty buffer holds the cursor (a late packet is still played), and goes
  back to ``Prefetching`` after ``underrun_limit`` empty pops;
- a new SSRC and a large sequence jump reset the buffer;
- the delay grows at once under jitter, stays within ``max_delay``, then shrinks
  one frame per ``shrink_interval`` when the jitter stops, discarding frames;
- the ring size is a power of two; ``put`` takes any packet-shaped object;
- clock drift (issue: "clock-drift compensation"): a sender 0.5 % fast is absorbed by
  discarding the surplus frames one by one (delay stays at target), a sender 0.5 % slow
  by one concealed frame per shortfall (playout never falls back to silence).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from voipkit.media.jitter import Frame, JitterBuffer, Missing, Prefetching

PTIME = 0.02


@dataclass
class Pkt:
    sequence_number: int
    timestamp: int
    payload: bytes
    ssrc: int = 0x1234
    marker: bool = False


def pkt(seq: int, ssrc: int = 0x1234, *, ts: int | None = None) -> Pkt:
    return Pkt(seq & 0xFFFF, (seq * 160 if ts is None else ts) & 0xFFFFFFFF,
               seq.to_bytes(4, "big", signed=True), ssrc)


def played(jb: JitterBuffer, start: float, pops: int) -> list[int | str]:
    """Pop ``pops`` times, one per 20 ms; sequence numbers, 'M<seq>' or 'P'."""
    out: list[int | str] = []
    for i in range(pops):
        r = jb.pop(now=start + i * PTIME)
        if isinstance(r, Frame):
            out.append(r.sequence_number)
        elif isinstance(r, Missing):
            out.append(f"M{r.sequence_number}")
        else:
            out.append("P")
    return out


def test_in_order_after_prefetch() -> None:
    jb = JitterBuffer(8000, 160)
    assert isinstance(jb.pop(now=0.0), Prefetching)
    jb.put(pkt(10), arrival=0.0)
    assert isinstance(jb.pop(now=0.0), Prefetching)  # 1 frame < 40 ms target
    jb.put(pkt(11), arrival=0.02)
    first = jb.pop(now=0.02)
    assert first == Frame((10).to_bytes(4, "big"), 1600, 10)
    for s in range(12, 20):
        jb.put(pkt(s), arrival=(s - 10) * PTIME)
    assert played(jb, 0.04, 9) == [11, 12, 13, 14, 15, 16, 17, 18, 19]
    assert jb.stats.played == 10 and jb.stats.missing == 0


def test_prefetch_ends_by_time_with_a_single_packet() -> None:
    jb = JitterBuffer(8000, 160)
    jb.put(pkt(1), arrival=1.0)
    assert isinstance(jb.pop(now=1.02), Prefetching)
    assert isinstance(jb.pop(now=1.04), Frame)


def test_reorder_plays_in_sequence_order() -> None:
    jb = JitterBuffer(8000, 160)
    for i, s in enumerate([101, 100, 103, 102, 105, 104]):
        jb.put(pkt(s), arrival=i * PTIME)
    assert played(jb, 0.1, 7) == [100, 101, 102, 103, 104, 105, "M106"]
    assert jb.stats.late == 0


def test_loss_becomes_missing_for_that_sequence_number() -> None:
    jb = JitterBuffer(8000, 160)
    for s in [1, 2, 4, 5]:
        jb.put(pkt(s), arrival=s * PTIME)
    assert played(jb, 0.1, 4) == [1, 2, "M3", 4]
    assert jb.stats.missing == 1


def test_duplicate_and_late_are_dropped_and_counted() -> None:
    jb = JitterBuffer(8000, 160)
    for s in [1, 2, 3]:
        jb.put(pkt(s), arrival=s * PTIME)
    jb.put(pkt(2), arrival=0.07)
    assert jb.stats.duplicates == 1
    assert played(jb, 0.08, 2) == [1, 2]
    jb.put(pkt(1), arrival=0.12)  # behind the cursor: too late
    jb.put(pkt(2), arrival=0.12)
    assert jb.stats.late == 2
    assert played(jb, 0.12, 1) == [3]
    assert jb.depth == 0


def test_sequence_and_timestamp_wrap() -> None:
    jb = JitterBuffer(8000, 160)
    seqs = [65533, 65534, 65535, 0, 1, 2]
    base_ts = 0xFFFFFFFF - 2 * 160
    for i, s in enumerate(seqs):
        jb.put(pkt(s, ts=base_ts + i * 160), arrival=i * PTIME)
    frames = [jb.pop(now=0.1 + i * PTIME) for i in range(6)]
    assert [f.sequence_number for f in frames if isinstance(f, Frame)] == seqs
    assert [f.timestamp for f in frames if isinstance(f, Frame)][2:4] == [
        0xFFFFFFFF - 2 * 160 + 2 * 160, (base_ts + 3 * 160) & 0xFFFFFFFF]
    assert jb.jitter == pytest.approx(0.0, abs=1e-9)  # no false jitter at the wrap
    assert jb.stats.resets == 0


def test_reorder_across_the_wrap() -> None:
    jb = JitterBuffer(8000, 160)
    for i, s in enumerate([65535, 1, 0, 2]):
        jb.put(pkt(s, ts=((s + 1) & 0xFFFF) * 160), arrival=i * PTIME)
    assert played(jb, 0.1, 4) == [65535, 0, 1, 2]


def test_underrun_holds_the_cursor_then_prefetches() -> None:
    jb = JitterBuffer(8000, 160, underrun_limit=3)
    for s in [1, 2]:
        jb.put(pkt(s), arrival=s * PTIME)
    assert played(jb, 0.04, 3) == [1, 2, "M3"]
    jb.put(pkt(3), arrival=0.085)  # late but not lost: the cursor waited
    jb.put(pkt(4), arrival=0.09)
    assert played(jb, 0.1, 2) == [3, 4]
    assert played(jb, 0.14, 5) == ["M5", "M5", "M5", "P", "P"]
    assert jb.stats.underruns == 5 and not jb.started


def test_ssrc_change_and_large_jump_reset() -> None:
    jb = JitterBuffer(8000, 160)
    for s in [1, 2, 3]:
        jb.put(pkt(s), arrival=s * PTIME)
    assert played(jb, 0.1, 1) == [1]
    jb.put(pkt(500, ssrc=0x9999), arrival=0.12)
    assert jb.stats.resets == 1 and jb.depth == 1
    jb.put(pkt(501, ssrc=0x9999), arrival=0.14)
    assert played(jb, 0.14, 2) == [500, 501]
    jb.put(pkt(30000, ssrc=0x9999), arrival=0.2)  # far beyond the ring
    assert jb.stats.resets == 2
    jb.put(pkt(30001, ssrc=0x9999), arrival=0.22)
    assert played(jb, 0.22, 2) == [30000, 30001]


def test_marker_resyncs_after_the_buffer_ran_dry() -> None:
    jb = JitterBuffer(8000, 160)
    for s in [1, 2]:
        jb.put(pkt(s), arrival=s * PTIME)
    assert played(jb, 0.04, 3) == [1, 2, "M3"]
    talkspurt = pkt(7)
    talkspurt.marker = True
    jb.put(talkspurt, arrival=0.1)
    jb.put(pkt(8), arrival=0.12)
    assert played(jb, 0.12, 2) == [7, 8]


def test_delay_adapts_to_jitter_and_shrinks_slowly() -> None:
    jb = JitterBuffer(8000, 160, initial_delay=0.04, min_delay=0.02, max_delay=0.2)
    assert jb.capacity & (jb.capacity - 1) == 0 and jb.capacity >= 20
    seq, results = 0, []
    # 2 s with every other packet 60 ms late
    for i in range(100):
        jb.put(pkt(seq), arrival=i * PTIME + (0.06 if i % 2 else 0.0))
        seq += 1
        results.append(jb.pop(now=i * PTIME + 0.01))
    grown = jb.delay
    assert grown == pytest.approx(0.07)  # spread 60 ms + half a frame
    assert jb.jitter > 0.05
    assert not any(isinstance(r, Missing) for r in results[20:])  # adapted: no loss
    assert jb.stats.late <= 2
    # 7 s more with steady arrivals: once the 2 s window has forgotten the
    # jitter, one frame less per second, down to the floor
    delays = []
    for i in range(100, 450):
        jb.put(pkt(seq), arrival=i * PTIME)
        seq += 1
        jb.pop(now=i * PTIME + 0.01)
        if i % 50 == 49:
            delays.append(round(jb.delay, 3))
    assert delays == [0.07, 0.07, 0.05, 0.03, 0.02, 0.02, 0.02]
    assert jb.stats.discarded >= 1
    assert jb.depth <= jb.target_frames + 1


def test_delay_never_exceeds_max() -> None:
    jb = JitterBuffer(8000, 160, max_delay=0.1)
    for i in range(50):
        jb.put(pkt(i), arrival=i * PTIME + (0.5 if i % 2 else 0.0))
    assert jb.delay == 0.1


def test_put_payload_without_a_packet_and_reset() -> None:
    jb = JitterBuffer(8000, 160)
    jb.put_payload(5, 800, b"a", arrival=0.0)
    jb.put_payload(6, 960, b"b", arrival=0.02)
    assert jb.pop(now=0.02) == Frame(b"a", 800, 5)
    jb.reset()
    assert isinstance(jb.pop(now=0.04), Prefetching) and jb.depth == 0
    with pytest.raises(ValueError):
        JitterBuffer(8000, 160, min_delay=0.1, initial_delay=0.04)


def _run_drifting_sender(ratio: float, seconds: float = 120.0) -> tuple[JitterBuffer, dict[str,
                                                                                             int],
                                                                        list[int]]:
    """A sender whose clock runs ``ratio`` times ours: a packet every 20 ms / ratio of our
    time, pops every 20 ms; returns the buffer, what the pops gave and the depth after
    each pop."""
    jb = JitterBuffer(8000, 160)
    counts = {"frame": 0, "missing": 0, "prefetch": 0}
    depths: list[int] = []
    interval = PTIME / ratio
    seq = 0
    pops = int(seconds / PTIME)
    for i in range(pops):
        now = i * PTIME
        while seq * interval <= now:  # every packet sent by now has arrived (no jitter)
            jb.put(pkt(seq), arrival=seq * interval)
            seq += 1
        result = jb.pop(now=now)
        kind = ("frame" if isinstance(result, Frame)
                else "missing" if isinstance(result, Missing) else "prefetch")
        counts[kind] += 1
        depths.append(jb.depth)
    return jb, counts, depths


def test_a_sender_clock_running_fast_is_compensated_by_discarding_frames() -> None:
    """0.5 % fast: 30 frames more than we play arrive in 120 s; the buffer drops the
    excess one frame at a time instead of letting its delay creep up."""
    jb, counts, depths = _run_drifting_sender(1.005)
    excess = round(120 * 50 * 0.005)  # 30 frames more than we play in 120 s
    assert counts["missing"] == 0
    assert max(depths[500:]) <= jb.target_frames + 2  # the delay does not creep up
    assert excess - 3 <= jb.stats.discarded <= excess + 3


def test_a_sender_clock_running_slow_is_compensated_by_concealment() -> None:
    """0.5 % slow: the buffer runs short by one frame every 4 s; each time the pop is a
    ``Missing`` (the decoder conceals one frame) and the cursor waits, so playout
    stays continuous and the delay does not drain away."""
    jb, counts, depths = _run_drifting_sender(0.995)
    shortfall = round(120 * 50 * 0.005)
    assert counts["prefetch"] <= 3  # only the start: never back to silence
    assert shortfall - 4 <= counts["missing"] <= shortfall + 4
    assert min(depths[500:]) >= 0 and jb.stats.discarded == 0
