"""Sources of identifiers: branches, tags, Call-IDs, CSeq starts, SSRCs.

Knows: ``secrets`` (the only randomness in the sans-IO layers). Must not know:
anything about the protocols that use the ids. Tests inject ``SequentialIds``
so that messages built by the core are byte-for-byte predictable.
"""

from __future__ import annotations

import os
import secrets
from collections import deque
from typing import Protocol

#: RFC 3261 §8.1.1.7: every branch a compliant element creates starts with this.
MAGIC_COOKIE = "z9hG4bK"


class IdSource(Protocol):
    """Everything the core needs to make up."""

    def branch(self) -> str:
        """A new Via branch, starting with the RFC 3261 magic cookie."""
        ...

    def tag(self) -> str:
        """A new From/To tag (RFC 3261 §19.3: at least 32 bits of randomness)."""
        ...

    def call_id(self) -> str:
        """A new, globally unique Call-ID (RFC 3261 §8.1.1.4)."""
        ...

    def cseq_start(self) -> int:
        """A first CSeq number, below 2**31 (RFC 3261 §8.1.1.5)."""
        ...

    def ssrc(self) -> int:
        """A random 32-bit RTP synchronisation source (RFC 3550 §8)."""
        ...

    def token(self, nbytes: int = 8) -> str:
        """Random hex, for cnonces, instance ids and the like."""
        ...


_PIECE = 16
_REFILL = 4096
_pieces: deque[bytes] = deque()
# a forked child must not hand out the parent's remaining pieces again
os.register_at_fork(after_in_child=_pieces.clear)


def random_bytes(nbytes: int) -> bytes:
    """``nbytes`` from the operating system's CSPRNG (``secrets.token_bytes``).

    Up to 16 bytes come from a shared pool filled 4 KiB at a time and handed out in
    16-byte pieces, each used once: a busy UAS makes seven ids per call, and a system
    call per id cost more than building them. Taking a piece is one
    ``deque.popleft`` (atomic), so threads may share the pool; a forked child starts
    with an empty one.
    """
    if nbytes > _PIECE:
        return secrets.token_bytes(nbytes)
    try:
        piece = _pieces.popleft()
    except IndexError:
        block = secrets.token_bytes(_REFILL)
        _pieces.extend(block[i:i + _PIECE] for i in range(_PIECE, len(block), _PIECE))
        piece = block[:_PIECE]
    return piece[:nbytes]


class RandomIds:
    """Cryptographically random ids (``random_bytes``): the default outside tests."""

    def branch(self) -> str:
        return MAGIC_COOKIE + random_bytes(8).hex()

    def tag(self) -> str:
        return random_bytes(6).hex()

    def call_id(self) -> str:
        return random_bytes(12).hex()

    def cseq_start(self) -> int:
        return int.from_bytes(random_bytes(2), "big") % 2**15 + 1

    def ssrc(self) -> int:
        return int.from_bytes(random_bytes(4), "big")

    def token(self, nbytes: int = 8) -> str:
        return random_bytes(nbytes).hex()


class SequentialIds:
    """Predictable ids for tests: ``z9hG4bK-a-1``, ``a-tag-2``, ``a-call-3`` ..."""

    def __init__(self, prefix: str = "x") -> None:
        self._prefix = prefix
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def branch(self) -> str:
        return f"{MAGIC_COOKIE}-{self._prefix}-{self._next()}"

    def tag(self) -> str:
        return f"{self._prefix}-tag-{self._next()}"

    def call_id(self) -> str:
        return f"{self._prefix}-call-{self._next()}"

    def cseq_start(self) -> int:
        return 1

    def ssrc(self) -> int:
        return 0x1000 + self._next()

    def token(self, nbytes: int = 8) -> str:
        return f"{self._next():0{2 * nbytes}x}"
