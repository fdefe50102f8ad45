"""Events the UserAgentCore reports, importable from one place.

Knows: what the core can tell its user — requests and responses that arrived,
ACKs for 2xx, CANCELs, and failures (timeouts, transport errors, missing ACKs).
Must not know: how the user reacts. Every event is a frozen dataclass named in
the past tense, carries the message that caused it, and documents each field.
Drain them with ``UserAgentCore.next_event()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from voipkit.sip.addressing import Address, Destination, TransportKind
from voipkit.sip.dialog import DialogId
from voipkit.sip.message import Request, Response
from voipkit.sip.transaction.keys import TransactionKey


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request arrived and passed validation; answer it with ``send_response``."""

    request: Request
    "The request, with ``received``/``rport`` already added to its top Via."

    transaction: TransactionKey
    "The server transaction the answer goes through."

    source: Address
    "Where the packet came from."

    transport: TransportKind
    "The transport it arrived on."

    dialog: DialogId | None
    "The dialog the request belongs to (validated per RFC 3261 §12.2.2), if any."


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response to a request we sent (retransmissions are absorbed, except 2xx to INVITE)."""

    response: Response
    "The response."

    transaction: TransactionKey
    "The key ``send_request`` returned for the request (stable across failover)."

    request: Request
    "The request as sent (with our Via), e.g. to build a 2xx ACK or an authenticated retry."

    dialog: DialogId | None
    "The dialog this response created or belongs to (1xx with a To tag or 2xx to INVITE)."


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK for a 2xx response arrived (RFC 3261 §13.3.1.4); it has no transaction."""

    request: Request
    "The ACK."

    source: Address
    "Where the packet came from."

    dialog: DialogId | None
    "The dialog it confirms, if the core knows it."


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """A CANCEL matched a pending INVITE (RFC 3261 §9.2).

    The core has already answered the CANCEL with 200 and, when the INVITE had
    no final response yet, answered the INVITE with 487 Request Terminated.
    """

    request: Request
    "The CANCEL."

    invite_transaction: TransactionKey
    "The server transaction of the cancelled INVITE."

    answered_487: bool
    "True when the core answered the INVITE with 487 (it was still pending)."


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """No final response (Timer B or F) from any destination, or no ACK (Timer H)."""

    transaction: TransactionKey
    "send_request's key for a client request; the server transaction's key for Timer H."

    request: Request
    "The request that went unanswered (or whose final response went unacknowledged)."

    tried: tuple[Destination, ...]
    "Destinations tried, in order (empty for a server transaction)."


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The transport failed for the last destination of a request (after failover)."""

    transaction: TransactionKey
    "send_request's key (or the server transaction whose response could not be sent)."

    request: Request
    "The request concerned."

    tried: tuple[Destination, ...]
    "Destinations tried, in order."


@dataclass(frozen=True, slots=True)
class AckTimedOut:
    """We retransmitted a 2xx to INVITE for 64*T1 without an ACK (RFC 3261 §13.3.1.4).

    The dialog is confirmed, but the session SHOULD be ended with a BYE.
    """

    response: Response
    "The 2xx that was never acknowledged."

    dialog: DialogId | None
    "Its dialog."


@dataclass(frozen=True, slots=True)
class DialogTerminated:
    """The core removed a dialog: BYE completed, INVITE failed, or it was forked away."""

    dialog: DialogId
    "The dialog that ended."

    reason: str
    "Why, in a few words (``bye``, ``final response 486``, ...)."


CoreEvent = (
    RequestReceived
    | ResponseReceived
    | AckReceived
    | CancelReceived
    | TransactionTimedOut
    | TransportFailed
    | AckTimedOut
    | DialogTerminated
)
"""Everything ``UserAgentCore.next_event()`` can return."""
