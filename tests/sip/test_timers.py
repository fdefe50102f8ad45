"""TimerConfig derives every RFC 3261/6026 timer from T1, T2, T4; TimerHeap keeps one
live deadline per key, skips stale entries, and pops due keys in deadline order."""

import pytest

from voipkit.sip.timers import TimerConfig, TimerHeap, TimerName


def test_default_values_follow_rfc3261_table_4() -> None:
    cfg = TimerConfig()
    assert (cfg.t1, cfg.t2, cfg.t4) == (0.5, 4.0, 5.0)
    assert cfg.transaction_timeout == 32.0
    assert cfg.timer_d_for(reliable=False) == 32.0
    assert cfg.timer_d_for(reliable=True) == 0.0
    assert cfg.timer_i_for(reliable=False) == 5.0
    assert cfg.timer_i_for(reliable=True) == 0.0
    assert cfg.timer_j_for(reliable=False) == 32.0
    assert cfg.timer_j_for(reliable=True) == 0.0
    assert cfg.timer_k_for(reliable=False) == 5.0
    assert cfg.timer_k_for(reliable=True) == 0.0


def test_retransmit_intervals_double_and_cap() -> None:
    cfg = TimerConfig()
    assert [cfg.invite_retransmit_interval(n) for n in range(6)] == [0.5, 1, 2, 4, 8, 16]
    assert [cfg.capped_retransmit_interval(n) for n in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_shrunk_t1_scales_derived_timers() -> None:
    cfg = TimerConfig(t1=0.01, t2=0.08)
    assert cfg.transaction_timeout == pytest.approx(0.64)
    assert cfg.timer_j_for(reliable=False) == pytest.approx(0.64)


def test_config_is_frozen_keyword_only_and_checked() -> None:
    cfg = TimerConfig()
    with pytest.raises(AttributeError):
        cfg.t1 = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        TimerConfig(0.5)  # type: ignore[misc]
    with pytest.raises(ValueError):
        TimerConfig(t1=5.0, t2=4.0)


def test_timer_letters_include_rfc6026() -> None:
    assert [t.value for t in TimerName] == list("ABDEFGHIJKLM")


def test_heap_pops_in_deadline_order() -> None:
    heap: TimerHeap[str] = TimerHeap()
    heap.schedule("b", 2.0)
    heap.schedule("a", 1.0)
    heap.schedule("c", 3.0)
    assert heap.next_deadline() == 1.0
    assert heap.pop_due(0.9) == []
    assert heap.pop_due(2.0) == ["a", "b"]
    assert heap.next_deadline() == 3.0
    assert len(heap) == 1


def test_rescheduling_skips_the_stale_entry() -> None:
    heap: TimerHeap[str] = TimerHeap()
    heap.schedule("x", 1.0)
    heap.schedule("x", 5.0)
    assert heap.next_deadline() == 5.0
    assert heap.deadline("x") == 5.0
    assert heap.pop_due(4.0) == []
    assert heap.pop_due(5.0) == ["x"]
    assert heap.next_deadline() is None


def test_moving_a_deadline_earlier_works() -> None:
    heap: TimerHeap[str] = TimerHeap()
    heap.schedule("x", 5.0)
    heap.schedule("x", 1.0)
    assert heap.pop_due(1.0) == ["x"]
    assert heap.pop_due(10.0) == []


def test_cancel_removes_and_ignores_unknown() -> None:
    heap: TimerHeap[str] = TimerHeap()
    heap.schedule("x", 1.0)
    heap.schedule("y", 2.0)
    heap.cancel("x")
    heap.cancel("never")
    assert "x" not in heap
    assert heap.next_deadline() == 2.0
    assert heap.pop_due(3.0) == ["y"]


def test_ties_pop_in_scheduling_order() -> None:
    heap: TimerHeap[tuple[str, TimerName]] = TimerHeap()
    heap.schedule(("t2", TimerName.E), 1.0)
    heap.schedule(("t1", TimerName.F), 1.0)
    assert heap.pop_due(1.0) == [("t2", TimerName.E), ("t1", TimerName.F)]


def test_cancel_then_reschedule_is_live_again() -> None:
    heap: TimerHeap[str] = TimerHeap()
    heap.schedule("x", 1.0)
    heap.cancel("x")
    heap.schedule("x", 3.0)
    assert heap.pop_due(2.0) == []
    assert heap.pop_due(3.0) == ["x"]
