"""RFC 3262 reliable provisional responses: modes, RSeq/RAck and the retransmission schedule.

Knows: the manual's four ``setReliableProvisional`` modes, the RSeq and RAck
header syntax (§7.1, §7.2) and the UAS retransmission rule (§3: "retransmitted
... with an exponential backoff ... initially T1 ... doubled each time ...
ceases when a matching PRACK is received" and the reliable 1xx gives up after
64*T1). Must not know: transactions, sockets or clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from voipkit.sip.message import Message


class ReliableProvisional(IntEnum):
    """setReliableProvisional(mode): the manual's numbers, reSIProcate's names.

    As UAC, modes 1 and 2 add ``Supported: 100rel`` to the INVITE and mode 3 adds
    ``Require: 100rel``. As UAS they decide which 1xx are sent reliably.
    """

    NEVER = 0
    "Disable PRACK (the default): 1xx are never sent reliably unless the caller requires it."

    SUPPORTED_ESSENTIAL = 1
    "Only send reliable provisionals if sending a body and the far end supports them."

    SUPPORTED = 2
    "Always send reliable provisionals if the far end supports them."

    REQUIRED = 3
    "Always send reliable provisionals; a caller without 100rel support gets 421."


@dataclass(frozen=True, slots=True)
class RAck:
    """RFC 3262 §7.2: ``RAck: response-num CSeq-num Method``."""

    rseq: int
    "The RSeq of the provisional response acknowledged."

    cseq: int
    "The CSeq number of the INVITE it answered."

    method: str
    "The method of that request (INVITE)."

    def __str__(self) -> str:
        return f"{self.rseq} {self.cseq} {self.method}"


def parse_rseq(message: Message) -> int | None:
    """The RSeq of a provisional response (1 to 2**31-1), if present and valid."""
    value = message.headers.get("RSeq")
    if value is None or not value.strip().isdigit():
        return None
    rseq = int(value.strip())
    return rseq if 0 < rseq < 2**31 else None


def parse_rack(message: Message) -> RAck | None:
    """The RAck of a PRACK, if present and well formed."""
    value = message.headers.get("RAck")
    if value is None:
        return None
    parts = value.split()
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return RAck(int(parts[0]), int(parts[1]), parts[2].upper())


def retransmit_delays(t1: float, limit: float) -> list[float]:
    """Offsets from the first send at which an unacknowledged reliable 1xx is resent.

    T1, 3T1, 7T1 ... (intervals T1, 2T1, 4T1, ...) strictly before ``limit`` (64*T1).
    """
    offsets: list[float] = []
    at, interval = t1, t1
    while at < limit:
        offsets.append(at)
        interval *= 2
        at += interval
    return offsets
