"""UsageManager: the sans-IO dialog usage manager on top of UserAgentCore.

Knows: the core's three inputs and two outputs, which usage owns which
transaction or dialog, and the usages' own timers. Must not know: sockets,
clocks, SDP content or media.

It has the same surface as the core (``receive``, ``send_request``,
``send_response``, ``handle_timer``, ``get_timer``, ``datagrams_to_send``,
``next_event``, ``transport_error``, ``add_local_address``,
``local_address``), so ``aio.SipDriver`` pumps it as it would pump a bare
core. ``next_event`` drains the core's events, hands each one to the usage
that owns its transaction or dialog, and returns what the usages emitted; a
core event nobody owns is returned as it is, and a new request that no usage
owns is offered to the factory registered for its method (a new INVITE makes
a server invite session, and so on) before that.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence

from voipkit.base.ids import IdSource
from voipkit.sip.addressing import Address, Destination, Outgoing, TransportKind
from voipkit.sip.dialog import Dialog, DialogId
from voipkit.sip.events import (
    AckReceived,
    AckTimedOut,
    CancelReceived,
    CoreEvent,
    DialogTerminated,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from voipkit.sip.message import Request, Response
from voipkit.sip.timers import TimerHeap
from voipkit.sip.transaction.keys import TransactionKey
from voipkit.sip.ua import UserAgentCore
from voipkit.sip.usage.base import Usage, UsageEvent

#: Makes the usage for a new out-of-dialog request, or returns None to let the
#: request through as a plain ``RequestReceived`` (the factory may also answer it).
UsageFactory = Callable[["UsageManager", RequestReceived, float], Usage | None]

_RETIRED_LIMIT = 4096

ManagerEvent = UsageEvent | CoreEvent
"""What ``UsageManager.next_event`` returns."""


class UsageManager:
    """Routes core events to usages and merges their timers with the core's."""

    def __init__(self, core: UserAgentCore, *, ids: IdSource) -> None:
        self._core = core
        self._ids = ids
        self._usage_ids = itertools.count(1)
        self._usages: dict[int, Usage] = {}
        self._by_transaction: dict[TransactionKey, Usage] = {}
        self._by_dialog: dict[DialogId, Usage] = {}
        self._keys_of: dict[int, set[TransactionKey]] = {}  # usage id -> its routes
        self._live_of_type: dict[type[Usage], int] = {}
        self._dialogs_of: dict[int, set[DialogId]] = {}
        self._by_notify: dict[tuple[str, str], Usage] = {}  # (Call-ID, our tag) -> subscriber
        self._notify_keys_of: dict[int, set[tuple[str, str]]] = {}
        self._timers: TimerHeap[tuple[int, Hashable]] = TimerHeap()
        self._events: deque[ManagerEvent] = deque()
        self._factories: dict[str, UsageFactory] = {}
        self._retired: dict[TransactionKey, None] = {}  # insertion-ordered, bounded
        self.counters: dict[str, int] = {"dropped_late_for_finished_usage": 0}
        "Diagnostics: events dropped because their usage had already finished."

    # --- what usages see (UsageHost) ---------------------------------------------------

    @property
    def core(self) -> UserAgentCore:
        return self._core

    @property
    def ids(self) -> IdSource:
        return self._ids

    def new_usage_id(self) -> int:
        """A fresh id for a usage about to be created (never reused)."""
        return next(self._usage_ids)

    def add(self, usage: Usage) -> Usage:
        """Start hosting ``usage``."""
        self._usages[usage.id] = usage
        self._live_of_type[type(usage)] = self._live_of_type.get(type(usage), 0) + 1
        return usage

    def live(self, kind: type[Usage]) -> int:
        """How many usages of exactly ``kind`` are hosted now (O(1))."""
        return self._live_of_type.get(kind, 0)

    def usage(self, usage_id: int) -> Usage | None:
        return self._usages.get(usage_id)

    @property
    def usages(self) -> Mapping[int, Usage]:
        return self._usages

    def send_request_for(self, usage: Usage, request: Request, targets: Sequence[Destination],
                         *, now: float) -> TransactionKey:
        key = self._core.send_request(request, targets, now=now)
        self._route_transaction(usage, key)
        return key

    def send_response_for(self, usage: Usage, response: Response, *, now: float) -> None:
        self._core.send_response(response, now=now)

    def cancel(self, usage: Usage, invite: TransactionKey, *, now: float) -> TransactionKey:
        key = self._core.cancel(invite, now=now)
        self._route_transaction(usage, key)
        return key

    def _route_transaction(self, usage: Usage, key: TransactionKey) -> None:
        self._by_transaction[key] = usage
        self._keys_of.setdefault(usage.id, set()).add(key)

    def bind_dialog(self, usage: Usage, dialog: DialogId) -> None:
        self._by_dialog[dialog] = usage
        self._dialogs_of.setdefault(usage.id, set()).add(dialog)

    def add_dialog(self, usage: Usage, dialog: Dialog) -> None:
        self._core.add_dialog(dialog)
        self.bind_dialog(usage, dialog.id)

    def bind_transaction(self, usage: Usage, key: TransactionKey) -> None:
        self._route_transaction(usage, key)

    def expect_notify(self, usage: Usage, call_id: str, local_tag: str) -> None:
        """Route NOTIFYs for ``(call_id, local_tag)`` that match no dialog to ``usage``.

        RFC 6665 §4.1.2.4: a NOTIFY may arrive before the SUBSCRIBE's 2xx; the
        core passes it up (``UserAgentCore.expect_notify``) and this index, kept
        until ``forget_notify`` or the usage finishes, finds its subscriber.
        """
        key = (call_id, local_tag)
        self._core.expect_notify(call_id, local_tag)
        self._by_notify[key] = usage
        self._notify_keys_of.setdefault(usage.id, set()).add(key)

    def forget_notify(self, usage: Usage, call_id: str, local_tag: str) -> None:
        key = (call_id, local_tag)
        if self._by_notify.get(key) is usage:
            del self._by_notify[key]
            self._core.forget_notify(call_id, local_tag)
        keys = self._notify_keys_of.get(usage.id)
        if keys is not None:
            keys.discard(key)

    def schedule(self, usage: Usage, name: Hashable, at: float) -> None:
        self._timers.schedule((usage.id, name), at)

    def cancel_timer(self, usage: Usage, name: Hashable) -> None:
        self._timers.cancel((usage.id, name))

    def emit(self, event: UsageEvent) -> None:
        self._events.append(event)

    def finished(self, usage: Usage) -> None:
        if self._usages.pop(usage.id, None) is not None:
            self._live_of_type[type(usage)] -= 1
        for key in self._keys_of.pop(usage.id, ()):
            if self._by_transaction.get(key) is usage:
                del self._by_transaction[key]
                self._retire(key)
        for dialog_id in self._dialogs_of.pop(usage.id, ()):
            if self._by_dialog.get(dialog_id) is usage:
                del self._by_dialog[dialog_id]
        for call_id, tag in self._notify_keys_of.pop(usage.id, ()):
            if self._by_notify.get((call_id, tag)) is usage:
                del self._by_notify[(call_id, tag)]
                self._core.forget_notify(call_id, tag)
        # timers of a finished usage are skipped when they fire (see handle_timer)

    def on_new_request(self, method: str, factory: UsageFactory) -> None:
        """Create usages for new out-of-dialog ``method`` requests with ``factory``."""
        self._factories[method.upper()] = factory

    # --- the core's surface, for the driver -------------------------------------------

    def add_local_address(self, transport: TransportKind, host: str, port: int) -> None:
        self._core.add_local_address(transport, host, port)

    def local_address(self, transport: TransportKind, family: int | None = None,
                      ) -> Address | None:
        return self._core.local_address(transport, family)

    def send_request(self, request: Request, targets: Sequence[Destination], *,
                     now: float) -> TransactionKey:
        """Send a request no usage owns (its events are returned by ``next_event``)."""
        key = self._core.send_request(request, targets, now=now)
        self._route(now=now)
        return key

    def send_response(self, response: Response, *, now: float) -> None:
        """Answer a request that was returned by ``next_event`` (no usage owns it)."""
        self._core.send_response(response, now=now)
        self._route(now=now)

    def receive(self, data: bytes, source: Address, transport: TransportKind, *,
                now: float) -> None:
        self._core.receive(data, source, transport, now=now)
        self._route(now=now)

    def transport_error(self, destination: Destination, *, now: float) -> None:
        self._core.transport_error(destination, now=now)
        self._route(now=now)

    def handle_timer(self, *, now: float) -> None:
        self._core.handle_timer(now=now)
        self._route(now=now)
        for usage_id, name in self._timers.pop_due(now):
            usage = self._usages.get(usage_id)
            if usage is not None:
                usage.on_timer(name, now=now)
                self._route(now=now)

    def get_timer(self) -> float | None:
        deadlines = [t for t in (self._core.get_timer(), self._timers.next_deadline())
                     if t is not None]
        return min(deadlines) if deadlines else None

    def datagrams_to_send(self) -> list[Outgoing]:
        return self._core.datagrams_to_send()

    def next_event(self) -> ManagerEvent | None:
        return self._events.popleft() if self._events else None

    def pump_core(self, *, now: float) -> None:
        """Route core events produced by a direct core call (e.g. from the application)."""
        self._route(now=now)

    # --- routing -----------------------------------------------------------------------

    def _retire(self, key: TransactionKey) -> None:
        """Remember a finished transaction so late events about it are dropped, not leaked."""
        self._retired[key] = None
        if len(self._retired) > _RETIRED_LIMIT:
            del self._retired[next(iter(self._retired))]

    def _forget_if_done(self, event: CoreEvent) -> None:
        """Drop the route of a non-INVITE client transaction once it has ended.

        INVITE routes stay while the usage lives: forked 2xx responses may still
        arrive for them (RFC 3261 §13.2.2.4).
        """
        if isinstance(event, ResponseReceived):
            if event.response.status < 200 or event.request.method == "INVITE":
                return
            key = event.transaction
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            key = event.transaction
        else:
            return
        owner = self._by_transaction.pop(key, None)
        if owner is not None:
            keys = self._keys_of.get(owner.id)
            if keys is not None:
                keys.discard(key)
            self._retire(key)

    def _route(self, *, now: float) -> None:
        while (event := self._core.next_event()) is not None:
            usage = self._owner(event)
            if usage is not None:
                self._forget_if_done(event)
                usage.on_event(event, now=now)
                continue
            if (isinstance(event, ResponseReceived | TransactionTimedOut | TransportFailed)
                    and event.transaction in self._retired):
                self.counters["dropped_late_for_finished_usage"] += 1
                continue
            if isinstance(event, RequestReceived) and event.dialog is None:
                factory = self._factories.get(event.request.method.upper())
                created = factory(self, event, now) if factory is not None else None
                if created is not None:
                    self.add(created)
                    self._route_transaction(created, event.transaction)
                    created.on_event(event, now=now)
                    continue
            self._events.append(event)

    def _owner(self, event: CoreEvent) -> Usage | None:
        if isinstance(event, ResponseReceived):
            # the usage that sent the request always gets its responses; the dialog's
            # owner only gets responses to requests no usage sent
            sender = self._by_transaction.get(event.transaction)
            if sender is not None:
                return sender
            return self._by_dialog.get(event.dialog) if event.dialog is not None else None
        if isinstance(event, TransactionTimedOut | TransportFailed):
            return self._by_transaction.get(event.transaction)
        if isinstance(event, CancelReceived):
            return self._by_transaction.get(event.invite_transaction)
        if isinstance(event, RequestReceived):
            if event.dialog is not None:
                return self._by_dialog.get(event.dialog)
            request = event.request
            if request.method == "NOTIFY" and request.to.tag is not None:
                return self._by_notify.get((request.call_id, request.to.tag))
            return None
        if isinstance(event, AckReceived | AckTimedOut):
            return self._by_dialog.get(event.dialog) if event.dialog is not None else None
        if isinstance(event, DialogTerminated):
            return self._by_dialog.get(event.dialog)
        return None
