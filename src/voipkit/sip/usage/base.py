"""What every dialog usage is, and what it may ask of the manager that hosts it.

Knows: the core's events, transaction keys and dialog ids. Must not know:
sockets, time sources, SDP content or media. A usage (reSIProcate DUM's word:
ClientRegistration, InviteSession, ClientSubscription ...) is one sans-IO state
machine for one piece of SIP work. It acts only through its ``UsageHost``:
sending requests and responses (which routes the core's later events back to
it), binding dialogs, scheduling its own timers, and emitting typed events.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

from mypy_extensions import mypyc_attr

from voipkit.base.ids import IdSource
from voipkit.sip.addressing import Destination
from voipkit.sip.dialog import Dialog, DialogId
from voipkit.sip.events import CoreEvent
from voipkit.sip.message import Request, Response
from voipkit.sip.transaction.keys import TransactionKey
from voipkit.sip.ua import UserAgentCore


class UsageEvent:
    """Base class of every event a usage emits (frozen dataclasses, past tense)."""

    __slots__ = ()


class UsageHost(Protocol):
    """The manager as a usage sees it."""

    @property
    def core(self) -> UserAgentCore:
        """The transaction/dialog core (for building responses and reading dialogs)."""
        ...

    @property
    def ids(self) -> IdSource:
        """Where new tags, Call-IDs and CSeq starts come from."""
        ...

    def send_request_for(self, usage: Usage, request: Request, targets: Sequence[Destination],
                         *, now: float) -> TransactionKey:
        """Send through the core; events about it come back to ``usage``."""
        ...

    def send_response_for(self, usage: Usage, response: Response, *, now: float) -> None:
        """Answer a request this usage received."""
        ...

    def cancel(self, usage: Usage, invite: TransactionKey, *, now: float) -> TransactionKey:
        """CANCEL a pending INVITE this usage sent."""
        ...

    def bind_dialog(self, usage: Usage, dialog: DialogId) -> None:
        """Route in-dialog requests and dialog events for ``dialog`` to ``usage``."""
        ...

    def add_dialog(self, usage: Usage, dialog: Dialog) -> None:
        """Register a dialog the usage created itself (SUBSCRIBE, REFER) and bind it."""
        ...

    def bind_transaction(self, usage: Usage, key: TransactionKey) -> None:
        """Route events about a server transaction (CANCEL, Timer H) to ``usage``."""
        ...

    def expect_notify(self, usage: Usage, call_id: str, local_tag: str) -> None:
        """Route NOTIFYs that carry ``call_id`` and our tag ``local_tag`` but match no
        dialog yet to ``usage`` (RFC 6665 §4.1.2.4: a NOTIFY ahead of the 2xx)."""
        ...

    def forget_notify(self, usage: Usage, call_id: str, local_tag: str) -> None:
        """Undo ``expect_notify`` (also done when the usage finishes)."""
        ...

    def schedule(self, usage: Usage, name: Hashable, at: float) -> None:
        """Call ``usage.on_timer(name, now=...)`` at ``at`` (rescheduling replaces)."""
        ...

    def cancel_timer(self, usage: Usage, name: Hashable) -> None:
        """Forget a timer scheduled with ``schedule``."""
        ...

    def emit(self, event: UsageEvent) -> None:
        """Queue an event for the application."""
        ...

    def finished(self, usage: Usage) -> None:
        """The usage is over: drop its routes and timers."""
        ...


@mypyc_attr(allow_interpreted_subclasses=True)
class Usage:
    """One piece of SIP work, driven by core events and its own timers.

    Subclasses override ``on_event`` (core events routed to them) and
    ``on_timer``; both take ``now`` and act through ``self.host``. An application
    may define its own usages in plain Python: compiled with mypyc, this class
    allows interpreted subclasses (its own subclasses here are compiled).
    """

    def __init__(self, host: UsageHost, usage_id: int) -> None:
        self.host = host
        self.id = usage_id
        "Unique per manager, never reused (the facade's sessionId and friends)."

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        """A core event about a transaction or dialog this usage owns."""
        raise TypeError(f"{type(self).__name__} got an event it cannot handle: {event!r}")

    def on_timer(self, name: Hashable, *, now: float) -> None:
        """A timer this usage scheduled fired."""
        raise TypeError(f"{type(self).__name__} scheduled no timer {name!r}")
