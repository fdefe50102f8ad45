"""The RFC 3264 offer/answer state of one INVITE session, with bodies kept opaque.

Knows: who made the outstanding offer, the last local and remote session
descriptions (as ``bytes`` with their content type), and how to roll back an
offer whose transaction failed (RFC 3261 §14.1: "the session description ... is
as if the re-INVITE was never issued"). Must not know: SDP syntax, media, SIP
messages or transactions — the invite session feeds it bodies and it answers
"is this an offer or an answer?".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from voipkit.sip.errors import LocalProtocolError, RemoteProtocolError


class OfferState(Enum):
    """RFC 3264 §4: at most one offer is outstanding in a session at any time."""

    STABLE = auto()
    "No offer outstanding (none made yet, or the last one was answered)."

    OFFER_SENT = auto()
    "We offered; the peer's next body is the answer."

    OFFER_RECEIVED = auto()
    "The peer offered; our next body is the answer."


@dataclass(frozen=True, slots=True)
class Body:
    """An opaque session description and its Content-Type."""

    data: bytes
    "The bytes exactly as sent or received."

    content_type: str
    "Its media type (``application/sdp`` unless the application says otherwise)."


class OfferAnswer:
    """Tracks one session's offer/answer exchanges (DUM's offer/answer half of its states).

    Local calls that break RFC 3264 (answering when nothing was offered, a
    second offer while one is outstanding) raise ``LocalProtocolError``; remote
    violations raise ``RemoteProtocolError`` with the status the session should
    answer (491 for an offer while ours is outstanding, RFC 3261 §14.2).
    """

    def __init__(self) -> None:
        self.state = OfferState.STABLE
        self.local: Body | None = None
        "Our last session description that became part of the session."
        self.remote: Body | None = None
        "The peer's last session description that became part of the session."
        self.pending: Body | None = None
        "The outstanding offer (ours or theirs)."
        self._saved: tuple[Body | None, Body | None] = (None, None)
        self.exchanges = 0
        "How many offer/answer exchanges completed."

    @property
    def negotiated(self) -> bool:
        """True once at least one exchange completed."""
        return self.exchanges > 0

    def send_offer(self, body: Body) -> None:
        """We put an offer in a request or response."""
        if self.state is not OfferState.STABLE:
            raise LocalProtocolError(f"cannot send an offer in state {self.state.name}")
        self._saved = (self.local, self.remote)
        self.state = OfferState.OFFER_SENT
        self.pending = body

    def receive_offer(self, body: Body) -> None:
        """The peer's message carried an offer."""
        if self.state is not OfferState.STABLE:
            raise RemoteProtocolError("an offer arrived while another is outstanding",
                                      status_hint=491)
        self._saved = (self.local, self.remote)
        self.state = OfferState.OFFER_RECEIVED
        self.pending = body

    def send_answer(self, body: Body) -> None:
        """We answer the peer's outstanding offer."""
        if self.state is not OfferState.OFFER_RECEIVED or self.pending is None:
            raise LocalProtocolError(f"no offer to answer in state {self.state.name}")
        self.remote, self.local = self.pending, body
        self._complete()

    def receive_answer(self, body: Body) -> None:
        """The peer answered our outstanding offer."""
        if self.state is not OfferState.OFFER_SENT or self.pending is None:
            raise RemoteProtocolError("an answer arrived but no offer was outstanding")
        self.local, self.remote = self.pending, body
        self._complete()

    def rollback(self) -> None:
        """Forget the outstanding offer: its transaction failed (RFC 3261 §14.1)."""
        self.local, self.remote = self._saved
        self.state = OfferState.STABLE
        self.pending = None

    def _complete(self) -> None:
        self.state = OfferState.STABLE
        self.pending = None
        self.exchanges += 1
