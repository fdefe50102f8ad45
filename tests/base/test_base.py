"""The base layer: sequential ids are predictable and carry the RFC 3261 magic cookie,
random ids are well-formed, and 16/32-bit sequence arithmetic wraps (RFC 1982 order)."""

from voipkit.base import (
    MonotonicClock,
    RandomIds,
    SequentialIds,
    uint16_add,
    uint16_gt,
    uint32_add,
    uint32_gt,
)
from voipkit.base.ids import MAGIC_COOKIE


def test_sequential_ids_are_predictable() -> None:
    ids = SequentialIds("a")
    assert ids.branch() == "z9hG4bK-a-1"
    assert ids.tag() == "a-tag-2"
    assert ids.call_id() == "a-call-3"
    assert ids.cseq_start() == 1
    assert ids.ssrc() == 0x1004
    assert ids.token(2) == "0005"


def test_random_ids_are_well_formed_and_distinct() -> None:
    ids = RandomIds()
    branches = {ids.branch() for _ in range(50)}
    assert len(branches) == 50
    assert all(b.startswith(MAGIC_COOKIE) for b in branches)
    assert all(1 <= ids.cseq_start() < 2**31 for _ in range(50))
    assert all(0 <= ids.ssrc() < 2**32 for _ in range(50))
    assert len(ids.token(4)) == 8
    assert ids.tag() != ids.tag()
    assert ids.call_id() != ids.call_id()


def test_uint16_wraps() -> None:
    assert uint16_add(0xFFFF, 1) == 0
    assert uint16_add(0xFFFE, 5) == 3
    assert uint16_gt(0, 0xFFFF)
    assert not uint16_gt(0xFFFF, 0)
    assert uint16_gt(10, 5)
    assert not uint16_gt(5, 5)
    assert not uint16_gt(0x8000, 0)  # exactly half-way is not "after"


def test_uint32_wraps() -> None:
    assert uint32_add(0xFFFFFFFF, 2) == 1
    assert uint32_gt(1, 0xFFFFFFF0)
    assert not uint32_gt(0xFFFFFFF0, 1)
    assert uint32_gt(100, 99)


def test_monotonic_clock_does_not_go_backwards() -> None:
    clock = MonotonicClock()
    first = clock.now()
    assert clock.now() >= first
