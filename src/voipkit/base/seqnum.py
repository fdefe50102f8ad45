"""Wrap-safe arithmetic on 16-bit and 32-bit sequence numbers and timestamps.

Knows: modular arithmetic (RFC 1982 serial-number comparison, as RTP uses it).
Must not know: packets.
"""

from __future__ import annotations


def uint16_add(a: int, b: int) -> int:
    """``(a + b) mod 2**16``."""
    return (a + b) & 0xFFFF


def uint16_gt(a: int, b: int) -> bool:
    """True when ``a`` is after ``b`` in 16-bit serial-number order."""
    half = 0x8000
    return (a < b and b - a > half) or (a > b and a - b < half)


def uint32_add(a: int, b: int) -> int:
    """``(a + b) mod 2**32``."""
    return (a + b) & 0xFFFFFFFF


def uint32_gt(a: int, b: int) -> bool:
    """True when ``a`` is after ``b`` in 32-bit serial-number order."""
    half = 0x80000000
    return (a < b and b - a > half) or (a > b and a - b < half)
