"""Event subscriptions (RFC 6665): ClientSubscription (subscriber), ServerSubscription (notifier).

Knows: RFC 6665 §4.1 (the subscriber: SUBSCRIBE with Event, Accept and
Expires; a 200/202 or a matching NOTIFY creates the dialog, §4.1.2.4;
Subscription-State active/pending/terminated with expires, reason and
retry-after, §4.1.3; refresh and unsubscribe with Expires: 0, §4.1.2.2-3;
"If a NOTIFY request is not received within 64*T1 seconds" after the 2xx the
subscription is considered failed, §4.1.2.4), RFC 6665 §4.2 (the notifier:
423 below the minimum, 489 Bad Event with Allow-Events for packages we do not
serve, §8.2.2; a NOTIFY at once after accepting, §4.2.1.2; a final NOTIFY with
terminated when the subscription ends, §4.2.2), RFC 6665 §8.2.1 (a NOTIFY
without Event or Subscription-State is answered 400) and digest answers to
401/407 through ``pager.ChallengeAnswerer``. Must not know: sockets, DNS,
clocks or what bodies mean (PIDF, dialog-info, message-summary are parsed by
the application).

A subscription never ends silently: every end is a ``SubscriptionTerminated``
(client) or ``SubscriptionEnded`` (server) event.

Time policy (exact deadlines):

- the subscriber refreshes ``refresh_delay(granted)`` after the latest expiry
  it learned (the Expires of a 2xx, or the ``expires`` of a NOTIFY's
  Subscription-State): the later of half way and 60 s before expiry (3600 ->
  3540, 600 -> 540, 120 -> 60, 60 -> 30), so a refresh that times out (Timer
  F, 64*T1 = 32 s) is known before the subscription lapses. When it lapses
  anyway (at the expiry itself) it ends with reason ``timeout``;
- after a 2xx (and after sending an unsubscribe) the subscriber waits 64*T1
  for a NOTIFY before ending the subscription (reason ``no-notify``);
- the notifier ends the subscription at its granted expiry with a final
  NOTIFY ``terminated;reason=timeout``;
- a SUBSCRIBE the application neither accepts nor rejects is answered 408
  64*T1 after it arrived (the subscriber's Timer F has fired by then) and the
  usage ends (``SubscriptionEnded`` reason ``unanswered``).

NOTIFY before the 2xx (§4.1.2.4): ``ClientSubscription`` asks its host to
``expect_notify`` for its Call-ID and From tag while it has no dialog, so the
core passes such a NOTIFY up (``RequestReceived`` with ``dialog=None``) instead
of answering 481, and the manager routes it here; the NOTIFY then creates the
dialog. Once the dialog exists, NOTIFYs of other forks get 481.

Bodies: ``SubscriptionConfig.accept`` and ``parse_body`` let the application
refuse a NOTIFY whose body it cannot use without knowing the format here: a
body type outside ``accept`` is answered 415 with Accept (RFC 3261 §21.4.13),
a body ``parse_body`` rejects (``ValueError``) is answered 400 with the parser's
reason. Either way ``NotifyRejected`` is emitted and the subscription goes on
(a ``terminated`` NOTIFY still ends it, with ``SubscriptionTerminated``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, auto

from voipkit.sip.addressing import Destination
from voipkit.sip.auth import Credentials
from voipkit.sip.dialog import Dialog, DialogId
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import (
    CoreEvent,
    DialogTerminated,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.transaction.keys import TransactionKey
from voipkit.sip.uri import Uri
from voipkit.sip.usage.base import Usage, UsageEvent, UsageHost
from voipkit.sip.usage.manager import UsageFactory, UsageManager
from voipkit.sip.usage.pager import ChallengeAnswerer

__all__ = [
    "ClientState",
    "ClientSubscription",
    "EventPackagePolicy",
    "NotifyFailed",
    "NotifyReceived",
    "NotifyRejected",
    "ServerState",
    "ServerSubscription",
    "SubState",
    "SubscribeReceived",
    "SubscriptionActive",
    "SubscriptionConfig",
    "SubscriptionEnded",
    "SubscriptionFailed",
    "SubscriptionPending",
    "SubscriptionRefreshFailed",
    "SubscriptionRefreshed",
    "SubscriptionState",
    "SubscriptionTerminated",
    "parse_subscription_state",
    "refresh_delay",
    "reject_unknown_notify",
    "subscription_factory",
]

def refresh_delay(granted: int) -> float:
    """Seconds after learning ``granted`` at which the subscriber refreshes.

    The later of half way and 60 s before expiry: 3600 -> 3540, 120 -> 60, 60 -> 30.
    """
    return max(granted / 2, float(granted - 60))


class SubState(Enum):
    """The substate values of Subscription-State (RFC 6665 §4.1.3)."""

    ACTIVE = "active"
    PENDING = "pending"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A parsed Subscription-State header (RFC 6665 §8.2.3)."""

    state: SubState
    "active, pending or terminated."

    expires: int | None = None
    "Seconds left (active/pending), if given."

    reason: str | None = None
    "Why it terminated (deactivated, probation, rejected, timeout, giveup, noresource ...)."

    retry_after: int | None = None
    "Seconds before re-subscribing makes sense, if given."

    def __str__(self) -> str:
        text = self.state.value
        if self.reason is not None:
            text += f";reason={self.reason}"
        if self.expires is not None:
            text += f";expires={self.expires}"
        if self.retry_after is not None:
            text += f";retry-after={self.retry_after}"
        return text


def parse_subscription_state(value: str) -> SubscriptionState | None:
    """Parse a Subscription-State value; None when it is not one we understand."""
    parts = [p.strip() for p in value.split(";")]
    try:
        state = SubState(parts[0].lower())
    except ValueError:
        return None
    params: dict[str, str] = {}
    for part in parts[1:]:
        name, _, raw = part.partition("=")
        params[name.strip().lower()] = raw.strip()
    expires = params.get("expires")
    retry = params.get("retry-after")
    if (expires is not None and not expires.isdigit()) or (retry is not None
                                                          and not retry.isdigit()):
        return None
    return SubscriptionState(state, int(expires) if expires is not None else None,
                             params.get("reason") or None,
                             int(retry) if retry is not None else None)


@dataclass(frozen=True, slots=True)
class _EventHeader:
    package: str
    id: str | None

    @classmethod
    def parse(cls, value: str | None) -> _EventHeader | None:
        if value is None or not value.strip():
            return None
        parts = [p.strip() for p in value.split(";")]
        ident = None
        for part in parts[1:]:
            name, _, raw = part.partition("=")
            if name.strip().lower() == "id":
                ident = raw.strip()
        return cls(parts[0], ident)


# --- client events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionPending(UsageEvent):
    """A NOTIFY said the subscription awaits authorization (pending)."""

    usage_id: int
    "The ClientSubscription's id."

    expires: int | None
    "Seconds left, if the notifier said."


@dataclass(frozen=True, slots=True)
class SubscriptionActive(UsageEvent):
    """A NOTIFY said the subscription is active."""

    usage_id: int
    "The ClientSubscription's id."

    expires: int | None
    "Seconds left, if the notifier said."


@dataclass(frozen=True, slots=True)
class NotifyReceived(UsageEvent):
    """A NOTIFY of this subscription arrived and was answered 200."""

    usage_id: int
    "The ClientSubscription's id."

    body: bytes
    "The event state (may be empty); its meaning is the application's concern."

    content_type: str | None
    "The body's Content-Type."

    state: SubscriptionState
    "Its Subscription-State."

    request: Request
    "The NOTIFY itself."

    document: object | None = None
    "What ``SubscriptionConfig.parse_body`` made of the body (None without a parser or body)."


@dataclass(frozen=True, slots=True)
class NotifyRejected(UsageEvent):
    """A NOTIFY of this subscription was refused (400 bad body or headers, 415 body type).

    The subscription goes on (unless the NOTIFY said ``terminated``: then
    ``SubscriptionTerminated`` follows).
    """

    usage_id: int
    "The ClientSubscription's id."

    status: int
    "What we answered: 400 or 415."

    reason: str
    "Why, precisely (also the response's reason phrase)."

    request: Request
    "The NOTIFY."


@dataclass(frozen=True, slots=True)
class SubscriptionFailed(UsageEvent):
    """The initial SUBSCRIBE failed; the usage is finished."""

    usage_id: int
    "The ClientSubscription's id."

    status: int | None
    "The final status, or None when no response arrived."

    reason: str
    "Reason phrase or a short description."

    response: Response | None
    "The final response, when one arrived."

    retry_after: int | None
    "From the response's Retry-After, if any."


@dataclass(frozen=True, slots=True)
class SubscriptionRefreshFailed(UsageEvent):
    """A refreshing SUBSCRIBE failed; the subscription lives until it expires (§4.1.2.2)."""

    usage_id: int
    "The ClientSubscription's id."

    status: int | None
    "The final status, or None when no response arrived."

    expires_at: float | None
    "When the subscription lapses unless refreshed again."


@dataclass(frozen=True, slots=True)
class SubscriptionTerminated(UsageEvent):
    """The subscription is over; the usage is finished."""

    usage_id: int
    "The ClientSubscription's id."

    reason: str
    "The NOTIFY's reason (timeout, rejected ...) or ours (unsubscribed, no-notify ...)."

    retry_after: int | None
    "Seconds before re-subscribing, when the notifier said."


class ClientState(Enum):
    """IDLE -> SUBSCRIBING -> ACCEPTED (2xx, no NOTIFY yet) -> PENDING/ACTIVE
    -> UNSUBSCRIBING -> TERMINATED."""

    IDLE = auto()
    SUBSCRIBING = auto()
    ACCEPTED = auto()
    PENDING = auto()
    ACTIVE = auto()
    UNSUBSCRIBING = auto()
    TERMINATED = auto()


class _ClientTimer(Enum):
    REFRESH = auto()
    EXPIRE = auto()
    NOTIFY_WAIT = auto()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionConfig:
    """What to subscribe to and where. Frozen; keyword-only."""

    event: str
    "The Event header: package and optional ``;id=`` (e.g. ``presence``, ``dialog``)."

    request_uri: Uri
    "The resource (Request-URI)."

    from_: NameAddr
    "Our identity (a From tag is added)."

    to: NameAddr
    "The resource's name-addr."

    contact: NameAddr
    "Where NOTIFYs reach us."

    targets: tuple[Destination, ...]
    "Resolved next hops, tried in order (in-dialog requests too)."

    expires: int = 3600
    "Requested duration in seconds (> 0)."

    accept: tuple[str, ...] = ()
    "Body types we take in NOTIFYs (the Accept header); empty: the package default."

    credentials: Credentials | None = None
    "Digest credentials for 401/407."

    route: tuple[NameAddr, ...] = ()
    "Pre-loaded Route set for the initial SUBSCRIBE."

    extra_headers: tuple[tuple[str, str], ...] = ()
    "Added to every SUBSCRIBE."

    parse_body: Callable[[bytes, str | None], object] | None = None
    """Called with every non-empty NOTIFY body and its type; a ``ValueError`` makes the
    NOTIFY answered 400 with the error's text (``NotifyRejected``); the result travels
    in ``NotifyReceived.document``."""

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a subscription needs at least one target")
        if self.expires <= 0:
            raise ValueError(f"expires must be positive, not {self.expires}")
        if _EventHeader.parse(self.event) is None or any(c in self.event for c in "\r\n"):
            raise ValueError(f"bad Event {self.event!r}")


class ClientSubscription(Usage):
    """RFC 6665 subscriber: subscribe, take NOTIFYs, refresh, unsubscribe.

    Hand it to the manager with ``UsageManager.add``, then ``subscribe(now=...)``.
    """

    def __init__(self, host: UsageHost, usage_id: int, *, config: SubscriptionConfig) -> None:
        super().__init__(host, usage_id)
        self.config = config
        event = _EventHeader.parse(config.event)
        assert event is not None  # checked by the config
        self._event = event
        self.state = ClientState.IDLE
        self._call_id = host.ids.call_id()
        self._from = config.from_.copy()
        self._from.params["tag"] = host.ids.tag()
        self._cseq = host.ids.cseq_start() - 1
        self._auth = ChallengeAnswerer(config.credentials, host.ids)
        self._requested = config.expires
        self._pending: TransactionKey | None = None
        self._pending_is_unsubscribe = False
        self._unsubscribe_wanted = False
        self.dialog_id: DialogId | None = None
        self.expires_at: float | None = None
        "When the subscription lapses unless refreshed (the latest expiry learned)."

    @property
    def call_id(self) -> str:
        """The Call-ID of every SUBSCRIBE of this subscription."""
        return self._call_id

    # --- application input -----------------------------------------------------------

    def subscribe(self, *, now: float) -> None:
        """Send the initial SUBSCRIBE. Queues output.

        Raises:
            LocalProtocolError: when already started.
        """
        if self.state is not ClientState.IDLE:
            raise LocalProtocolError(f"subscribe() in state {self.state.name}")
        self.state = ClientState.SUBSCRIBING
        tag = self._from.tag
        assert tag is not None
        self.host.expect_notify(self, self._call_id, tag)
        self._send(now=now)

    def refresh(self, *, now: float) -> None:
        """Refresh now (the timer does this by itself). Queues output.

        Raises:
            LocalProtocolError: without a dialog, or while unsubscribing.
        """
        if self.dialog_id is None or self.state in (ClientState.UNSUBSCRIBING,
                                                    ClientState.TERMINATED):
            raise LocalProtocolError(f"refresh() in state {self.state.name}")
        if self._pending is None:
            self._send(now=now)

    def unsubscribe(self, *, now: float) -> None:
        """SUBSCRIBE with Expires: 0 (§4.1.2.3); ``SubscriptionTerminated`` follows the final
        NOTIFY (or 64*T1 without one). Before the dialog exists, it is sent once it does.

        Raises:
            LocalProtocolError: when already terminated.
        """
        if self.state is ClientState.TERMINATED:
            raise LocalProtocolError("subscription already terminated")
        if self.state is ClientState.UNSUBSCRIBING:
            return
        if self.state is ClientState.IDLE:
            self._terminate("unsubscribed", None)
            return
        self._cancel(_ClientTimer.REFRESH, _ClientTimer.EXPIRE)
        self.state = ClientState.UNSUBSCRIBING
        if self.dialog_id is None or self._pending is not None:
            self._unsubscribe_wanted = True
            return
        self._send_unsubscribe(now=now)

    # --- matching (for the core/manager hook) ---------------------------------------------

    def matches_notify(self, request: Request) -> bool:
        """True when ``request`` is a NOTIFY for our SUBSCRIBE that may create our dialog.

        RFC 6665 §4.1.2.4: same Call-ID, To tag equal to our From tag, and the
        same Event package and id. The core must pass such a NOTIFY up (instead
        of answering 481) while ``state`` is SUBSCRIBING, and the manager route
        it here.
        """
        event = _EventHeader.parse(request.headers.get("Event"))
        return (request.method == "NOTIFY" and request.call_id == self._call_id
                and request.to.tag == self._from.tag and event == self._event)

    # --- core events and timers --------------------------------------------------------

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if isinstance(event, ResponseReceived):
            self._on_response(event, now=now)
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            if event.transaction == self._pending:
                self._pending = None
                self._on_failure(None, None, now=now)
        elif isinstance(event, RequestReceived):
            self._on_request(event, now=now)
        elif isinstance(event, DialogTerminated):
            self._terminate("dialog ended", None)
        else:
            super().on_event(event, now=now)

    def on_timer(self, name: Hashable, *, now: float) -> None:
        if name is _ClientTimer.REFRESH:
            if self.state in (ClientState.ACTIVE, ClientState.PENDING, ClientState.ACCEPTED):
                self.refresh(now=now)
        elif name is _ClientTimer.EXPIRE:
            self._end_dialog_and_terminate("timeout", None)
        elif name is _ClientTimer.NOTIFY_WAIT:
            reason = ("unsubscribed" if self.state is ClientState.UNSUBSCRIBING
                      else "no-notify")
            self._end_dialog_and_terminate(reason, None)
        else:
            super().on_timer(name, now=now)

    def _on_response(self, event: ResponseReceived, *, now: float) -> None:
        response = event.response
        if event.transaction != self._pending or response.status < 200:
            return
        self._pending = None
        status = response.status
        if status in (401, 407):
            auth = self._auth.answer(response, method="SUBSCRIBE", uri=str(event.request.uri))
            if auth is not None:
                self._send(now=now, auth=auth, unsubscribe=self._pending_is_unsubscribe)
                return
        else:
            self._auth.accepted()
        if status == 423 and not self._pending_is_unsubscribe:
            minimum = _int_header(response, "Min-Expires")
            if minimum is not None and minimum > self._requested:
                self._requested = minimum
                self._send(now=now)
                return
        if status >= 300:
            self._on_failure(status, response, now=now)
            return
        if self.dialog_id is None:
            dialog = Dialog.as_uac(event.request, response)
            self._adopt(dialog)
        if self._pending_is_unsubscribe:
            self._wait_for_notify(now=now)
            return
        if self.state is ClientState.SUBSCRIBING:
            self.state = ClientState.ACCEPTED
            self._wait_for_notify(now=now)
        granted = response.expires if response.expires is not None else self._requested
        self._learn_expiry(granted, now=now)
        if self._unsubscribe_wanted:
            self._unsubscribe_wanted = False
            self._send_unsubscribe(now=now)

    def _on_failure(self, status: int | None, response: Response | None, *,
                    now: float) -> None:
        if self._pending_is_unsubscribe or self.state is ClientState.UNSUBSCRIBING:
            self._end_dialog_and_terminate("unsubscribed", None)
        elif self.state is ClientState.SUBSCRIBING:
            retry = _int_header(response, "Retry-After") if response is not None else None
            reason = (response.reason if response is not None else "no response (timeout)")
            self._cancel(*_ClientTimer)
            self.state = ClientState.TERMINATED
            self.host.emit(SubscriptionFailed(self.id, status, reason, response, retry))
            self.host.finished(self)
        elif status == 481:
            # RFC 6665 §4.1.2.2: a 481 to a refresh means the subscription is gone.
            self._end_dialog_and_terminate("refresh-rejected", None)
        else:
            self.host.emit(SubscriptionRefreshFailed(self.id, status, self.expires_at))

    def _on_request(self, event: RequestReceived, *, now: float) -> None:
        request = event.request
        core = self.host.core
        if request.method != "NOTIFY":
            response = core.create_response(request, 405)
            response.headers.set("Allow", "NOTIFY")
            self.host.send_response_for(self, response, now=now)
            return
        # RFC 6665 §8.2.1: Event and Subscription-State are mandatory in NOTIFY.
        raw_event = request.headers.get("Event")
        raw_state = request.headers.get("Subscription-State")
        if raw_event is None or raw_state is None:
            missing = "Event" if raw_event is None else "Subscription-State"
            self._refuse(request, 400, f"Missing {missing} header", now=now)
            return
        substate = parse_subscription_state(raw_state)
        if substate is None:
            self._refuse(request, 400, "Bad Subscription-State header", now=now)
            return
        if _EventHeader.parse(raw_event) != self._event or self.state is ClientState.TERMINATED:
            self._answer(request, 481, "Subscription Does Not Exist", now=now)
            return
        if self.dialog_id is None:
            if event.dialog is not None or not self.matches_notify(request):
                self._answer(request, 481, "Subscription Does Not Exist", now=now)
                return
        elif event.dialog != self.dialog_id:
            # another fork's NOTIFY (RFC 6665 §4.1.2.4): we keep one subscription
            self._answer(request, 481, "Subscription Does Not Exist", now=now)
            return
        refusal, document = self._check_body(request)
        if self.dialog_id is None:
            self._dialog_from_notify(request)
        if refusal is not None:
            status, reason = refusal
            response = self.host.core.create_response(request, status, _phrase(reason))
            if status == 415:
                response.headers.set("Accept", ", ".join(self.config.accept))
            self.host.send_response_for(self, response, now=now)
            self.host.emit(NotifyRejected(self.id, status, reason, request))
            if substate.state is SubState.TERMINATED:
                self._apply_state(substate, now=now)
            return
        self._answer(request, 200, None, now=now)
        self.host.emit(NotifyReceived(self.id, request.body, request.content_type, substate,
                                      request, document))
        self._apply_state(substate, now=now)

    def _check_body(self, request: Request) -> tuple[tuple[int, str] | None, object | None]:
        """((status, reason) to refuse the NOTIFY, or None; the parsed document or None)."""
        if not request.body:
            return None, None
        content_type = (request.content_type or "").split(";", 1)[0].strip().lower()
        accept = [a.split(";", 1)[0].strip().lower() for a in self.config.accept]
        if accept and content_type not in accept:
            return (415, f"NOTIFY body type {content_type or 'unknown'!r} is not one of "
                    f"{', '.join(accept)}"), None
        parser = self.config.parse_body
        if parser is None:
            return None, None
        try:
            return None, parser(request.body, request.content_type)
        except ValueError as exc:
            return (400, str(exc) or "Bad NOTIFY body"), None

    def _dialog_from_notify(self, request: Request) -> None:
        """RFC 6665 §4.1.2.4: the NOTIFY creates the dialog (as a UAS would, RFC 3261 §12.1.1)."""
        response = self.host.core.create_response(request, 200)
        dialog = Dialog.as_uas(request, response)
        dialog.local_seq = self._cseq
        self._adopt(dialog)
        if self.state is ClientState.SUBSCRIBING:
            self.state = ClientState.ACCEPTED

    def _adopt(self, dialog: Dialog) -> None:
        """Bind our dialog; from now on NOTIFYs of other forks get 481 from the core."""
        self.host.add_dialog(self, dialog)
        self.dialog_id = dialog.id
        tag = self._from.tag
        assert tag is not None
        self.host.forget_notify(self, self._call_id, tag)

    def _apply_state(self, substate: SubscriptionState, *, now: float) -> None:
        self.host.cancel_timer(self, _ClientTimer.NOTIFY_WAIT)
        if substate.state is SubState.TERMINATED:
            if self.state is ClientState.UNSUBSCRIBING:
                self._end_dialog_and_terminate("unsubscribed", substate.retry_after)
            else:
                self._end_dialog_and_terminate(substate.reason or "terminated",
                                               substate.retry_after)
            return
        if self.state is ClientState.UNSUBSCRIBING:
            return  # a NOTIFY crossing our unsubscribe; the final one follows
        if substate.expires is not None:
            self._learn_expiry(substate.expires, now=now)
        if substate.state is SubState.ACTIVE and self.state is not ClientState.ACTIVE:
            self.state = ClientState.ACTIVE
            self.host.emit(SubscriptionActive(self.id, substate.expires))
        elif substate.state is SubState.PENDING and self.state is not ClientState.PENDING:
            self.state = ClientState.PENDING
            self.host.emit(SubscriptionPending(self.id, substate.expires))

    def _learn_expiry(self, granted: int, *, now: float) -> None:
        if self.state is ClientState.UNSUBSCRIBING:
            return
        self.expires_at = now + granted
        self.host.schedule(self, _ClientTimer.REFRESH, now + refresh_delay(granted))
        self.host.schedule(self, _ClientTimer.EXPIRE, self.expires_at)

    def _wait_for_notify(self, *, now: float) -> None:
        timeout = self.host.core.config.timers.transaction_timeout  # 64*T1
        self.host.schedule(self, _ClientTimer.NOTIFY_WAIT, now + timeout)

    def _refuse(self, request: Request, status: int, reason: str, *, now: float) -> None:
        """Answer a NOTIFY of ours 400 and say so (``NotifyRejected``): never silently."""
        self._answer(request, status, reason, now=now)
        self.host.emit(NotifyRejected(self.id, status, reason, request))

    def _answer(self, request: Request, status: int, reason: str | None, *,
                now: float) -> None:
        response = self.host.core.create_response(request, status, reason)
        self.host.send_response_for(self, response, now=now)

    # --- ending ------------------------------------------------------------------------

    def _cancel(self, *names: _ClientTimer) -> None:
        for name in names:
            self.host.cancel_timer(self, name)

    def _end_dialog_and_terminate(self, reason: str, retry_after: int | None) -> None:
        if self.dialog_id is not None:
            self.host.core.remove_dialog(self.dialog_id)
        self._terminate(reason, retry_after)

    def _terminate(self, reason: str, retry_after: int | None) -> None:
        if self.state is ClientState.TERMINATED:
            return
        self.state = ClientState.TERMINATED
        self._cancel(*_ClientTimer)
        self.host.emit(SubscriptionTerminated(self.id, reason, retry_after))
        self.host.finished(self)

    # --- sending -----------------------------------------------------------------------

    def _send_unsubscribe(self, *, now: float) -> None:
        self._send(now=now, unsubscribe=True)
        self._wait_for_notify(now=now)

    def _send(self, *, now: float, auth: Sequence[tuple[str, str]] | None = None,
              unsubscribe: bool = False) -> None:
        config = self.config
        dialog = self.host.core.dialog(self.dialog_id) if self.dialog_id is not None else None
        if dialog is not None:
            request = dialog.create_request("SUBSCRIBE", cseq_start=self.host.ids.cseq_start())
            self._cseq = request.cseq.seq
        else:
            self._cseq += 1
            request = Request("SUBSCRIBE", config.request_uri, from_=self._from.copy(),
                              to=config.to.copy(), call_id=self._call_id,
                              cseq=CSeq(self._cseq, "SUBSCRIBE"),
                              contact=[config.contact.copy()],
                              route=[r.copy() for r in config.route])
        request.expires = 0 if unsubscribe else self._requested
        headers = request.headers
        headers.add("Event", config.event)
        if config.accept:
            headers.add("Accept", ", ".join(config.accept))
        if auth is None:
            auth = self._auth.preemptive(method="SUBSCRIBE", uri=str(request.uri))
        for name, value in (*config.extra_headers, *auth):
            headers.add(name, value)
        self._pending_is_unsubscribe = unsubscribe
        self._pending = self.host.send_request_for(self, request, config.targets, now=now)


def reject_unknown_notify() -> UsageFactory:
    """A factory for ``on_new_request("NOTIFY", ...)`` answering out-of-dialog NOTIFYs 481.

    RFC 6665 §4.1.3: a NOTIFY that matches no subscription gets 481. (NOTIFYs
    with a To tag for an unknown dialog are answered 481 by the core itself.)
    """

    def make(manager: UsageManager, event: RequestReceived, now: float) -> Usage | None:
        response = manager.core.create_response(event.request, 481,
                                                "Subscription Does Not Exist")
        manager.core.send_response(response, now=now)
        return _Answered(manager, manager.new_usage_id())

    return make


class _Answered(Usage):
    """A request answered by its factory: the usage ends at its first event."""

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        self.host.finished(self)


# --- server --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EventPackagePolicy:
    """How we serve one event package (the notifier side). Frozen; keyword-only."""

    contact: NameAddr
    "Our Contact in 2xx responses and NOTIFYs."

    default_expires: int = 3600
    "Granted when the SUBSCRIBE has no Expires."

    min_expires: int = 60
    "Shorter (non-zero) requests get 423 with Min-Expires (RFC 6665 §4.2.1.1)."

    max_expires: int = 3600
    "Longer requests are shortened to this."

    def __post_init__(self) -> None:
        if not 0 < self.min_expires <= self.default_expires <= self.max_expires:
            raise ValueError("need 0 < min_expires <= default_expires <= max_expires")


@dataclass(frozen=True, slots=True)
class SubscribeReceived(UsageEvent):
    """A new SUBSCRIBE for a package we serve: ``accept`` or ``reject`` it."""

    usage_id: int
    "The ServerSubscription's id."

    event: str
    "The Event header value."

    request: Request
    "The SUBSCRIBE."

    expires: int
    "The duration we will grant (0: a fetch)."


@dataclass(frozen=True, slots=True)
class SubscriptionRefreshed(UsageEvent):
    """The subscriber refreshed; the subscription now lapses ``expires`` s from now."""

    usage_id: int
    "The ServerSubscription's id."

    expires: int
    "Seconds granted."


@dataclass(frozen=True, slots=True)
class NotifyFailed(UsageEvent):
    """A NOTIFY we sent failed (non-481 failures keep the subscription)."""

    usage_id: int
    "The ServerSubscription's id."

    status: int | None
    "The final status, or None when no response arrived."


@dataclass(frozen=True, slots=True)
class SubscriptionEnded(UsageEvent):
    """The served subscription is over; the usage is finished."""

    usage_id: int
    "The ServerSubscription's id."

    reason: str
    "timeout, unsubscribed, rejected, notify-failed, or the reason given to ``terminate``."


class ServerState(Enum):
    """RECEIVED -> PENDING/ACTIVE -> TERMINATING (final NOTIFY sent) -> ENDED."""

    RECEIVED = auto()
    PENDING = auto()
    ACTIVE = auto()
    TERMINATING = auto()
    ENDED = auto()


class _ServerTimer(Enum):
    EXPIRE = auto()
    UNANSWERED = auto()


@dataclass(slots=True)
class _Refusal:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)


class ServerSubscription(Usage):
    """RFC 6665 notifier for one subscription to a package we serve.

    Made by ``subscription_factory``; emits ``SubscribeReceived``. The
    application calls ``accept`` (which sends the first NOTIFY), ``notify``
    whenever the state changes, and ``terminate`` to end it.
    """

    def __init__(self, host: UsageHost, usage_id: int, *, policy: EventPackagePolicy | None,
                 refusal: _Refusal | None = None, contact: NameAddr | None = None) -> None:
        super().__init__(host, usage_id)
        self.policy = policy
        self.contact = contact or (policy.contact if policy is not None else None)
        "Our Contact in the 2xx (and so the NOTIFYs' dialog): the policy's unless given."
        self._refusal = refusal
        self.state = ServerState.RECEIVED
        self.request: Request | None = None
        self.event = ""
        self.dialog_id: DialogId | None = None
        self.targets: list[Destination] = []
        self.expires_at: float | None = None
        self._granted = 0
        self._body: tuple[bytes, str] | None = None
        self._notifies: set[TransactionKey] = set()
        self._final_reason = ""

    # --- the new SUBSCRIBE -------------------------------------------------------------

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if isinstance(event, RequestReceived):
            if self.request is None:
                self._on_new(event, now=now)
            else:
                self._on_in_dialog(event, now=now)
        elif isinstance(event, ResponseReceived):
            self._on_notify_response(event.transaction, event.response.status, now=now)
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            if event.transaction in self._notifies:
                self._on_notify_response(event.transaction, None, now=now)
            elif self.state is ServerState.RECEIVED:
                self.host.finished(self)
        elif isinstance(event, DialogTerminated):
            self._ended("dialog ended")
        else:
            super().on_event(event, now=now)

    def _on_new(self, event: RequestReceived, *, now: float) -> None:
        request = self.request = event.request
        self.event = request.headers.get("Event") or ""
        self.targets = [Destination(event.transport, event.source[0], event.source[1])]
        if self._refusal is not None:
            response = self.host.core.create_response(request, self._refusal.status)
            for name, value in self._refusal.headers:
                response.headers.set(name, value)
            self.host.send_response_for(self, response, now=now)
            self.state = ServerState.ENDED
            self.host.finished(self)
            return
        granted = self._grant(request, now=now)
        if granted is None:
            self.state = ServerState.ENDED
            self.host.finished(self)
            return
        self._granted = granted
        # the subscriber gives up after Timer F (64*T1); an application that never
        # answers must not leave this usage behind, so it is answered 408 then
        self.host.schedule(self, _ServerTimer.UNANSWERED,
                           now + self.host.core.config.timers.transaction_timeout)
        self.host.emit(SubscribeReceived(self.id, self.event, request, granted))

    def _grant(self, request: Request, *, now: float) -> int | None:
        """The duration to grant, or None after answering 423."""
        policy = self.policy
        assert policy is not None
        asked = request.expires if request.expires is not None else policy.default_expires
        if 0 < asked < policy.min_expires:
            response = self.host.core.create_response(request, 423)
            response.headers.set("Min-Expires", str(policy.min_expires))
            self.host.send_response_for(self, response, now=now)
            return None
        return min(asked, policy.max_expires)

    # --- application input -------------------------------------------------------------

    def accept(self, body: bytes | None = None, content_type: str | None = None, *,
               pending: bool = False, now: float) -> None:
        """Answer 200 and send the first NOTIFY at once (RFC 6665 §4.2.1.2). Queues output.

        Args:
            body: the current state for the first NOTIFY (None: an empty NOTIFY).
            content_type: the body's type (required with a body).
            pending: NOTIFY ``pending`` (authorization awaited) instead of ``active``.
            now: the current time.

        Raises:
            LocalProtocolError: when not awaiting an answer, or a body without type.
        """
        request = self._require_received("accept")
        assert self.policy is not None
        response = self.host.core.create_response(request, 200, contact=self.contact)
        response.expires = self._granted
        dialog = Dialog.as_uas(request, response)
        self.host.add_dialog(self, dialog)
        self.dialog_id = dialog.id
        self.host.send_response_for(self, response, now=now)
        self._store_body(body, content_type)
        if self._granted == 0:  # a fetch: one NOTIFY with the state, then the end
            self._send_final("timeout", None, now=now)
            return
        self.state = ServerState.PENDING if pending else ServerState.ACTIVE
        self._set_expiry(self._granted, now=now)
        self._send_notify(now=now)

    def reject(self, status: int = 403, reason: str | None = None, *, now: float) -> None:
        """Refuse the SUBSCRIBE with a final non-2xx; the usage ends (``rejected``)."""
        request = self._require_received("reject")
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"reject() needs a failure status, not {status}")
        self.host.send_response_for(self, self.host.core.create_response(request, status,
                                                                         reason), now=now)
        self._ended("rejected")

    def notify(self, body: bytes | None = None, content_type: str | None = None, *,
               active: bool | None = None, now: float) -> None:
        """Send a NOTIFY with new state (and/or a state change: ``active`` True/False).

        Raises:
            LocalProtocolError: when the subscription is not pending or active.
        """
        if self.state not in (ServerState.PENDING, ServerState.ACTIVE):
            raise LocalProtocolError(f"notify() in state {self.state.name}")
        if active is not None:
            self.state = ServerState.ACTIVE if active else ServerState.PENDING
        if body is not None:
            self._store_body(body, content_type)
        self._send_notify(now=now)

    def terminate(self, reason: str = "noresource", *, retry_after: int | None = None,
                  body: bytes | None = None, content_type: str | None = None,
                  now: float) -> None:
        """End the subscription with a final NOTIFY ``terminated;reason=...`` (§4.2.2).

        Raises:
            LocalProtocolError: when the subscription is not pending or active.
        """
        if self.state not in (ServerState.PENDING, ServerState.ACTIVE):
            raise LocalProtocolError(f"terminate() in state {self.state.name}")
        if body is not None:
            self._store_body(body, content_type)
        self._send_final(reason, retry_after, now=now)

    # --- in-dialog requests, timers, NOTIFY answers --------------------------------------

    def _on_in_dialog(self, event: RequestReceived, *, now: float) -> None:
        request = event.request
        core = self.host.core
        if request.method != "SUBSCRIBE":
            response = core.create_response(request, 405)
            response.headers.set("Allow", "SUBSCRIBE")
            self.host.send_response_for(self, response, now=now)
            return
        if request.headers.get("Event") != self.event or self.state not in (
                ServerState.PENDING, ServerState.ACTIVE):
            self.host.send_response_for(self, core.create_response(request, 481), now=now)
            return
        granted = self._grant(request, now=now)
        if granted is None:
            return
        response = core.create_response(request, 200, contact=self.contact)
        response.expires = granted
        self.host.send_response_for(self, response, now=now)
        if granted == 0:  # RFC 6665 §4.2.1.4: unsubscribe, then a final NOTIFY
            self._send_final("timeout", None, now=now, ended_as="unsubscribed")
            return
        self._set_expiry(granted, now=now)
        self.host.emit(SubscriptionRefreshed(self.id, granted))
        self._send_notify(now=now)  # §4.2.1.2: a refresh is answered with a NOTIFY too

    def on_timer(self, name: Hashable, *, now: float) -> None:
        if name is _ServerTimer.UNANSWERED:
            if self.state is ServerState.RECEIVED and self.request is not None:
                response = self.host.core.create_response(
                    self.request, 408, "Request Timeout (not answered by the application)")
                self.host.send_response_for(self, response, now=now)
                self._ended("unanswered")
            return
        if name is not _ServerTimer.EXPIRE:
            super().on_timer(name, now=now)
            return
        if self.state in (ServerState.PENDING, ServerState.ACTIVE):
            self._send_final("timeout", None, now=now)

    def _on_notify_response(self, key: TransactionKey, status: int | None, *,
                            now: float) -> None:
        if key not in self._notifies or (status is not None and status < 200):
            return
        self._notifies.discard(key)
        if self.state is ServerState.TERMINATING:
            if not self._notifies:
                self._ended(self._final_reason)
            return
        if status is not None and 200 <= status < 300:
            return
        self.host.emit(NotifyFailed(self.id, status))
        if status is None or status == 481:
            # RFC 6665 §4.2.2: a 481 (or no answer) removes the subscription.
            self._ended("notify-failed")

    # --- helpers -----------------------------------------------------------------------

    def _require_received(self, what: str) -> Request:
        if self.state is not ServerState.RECEIVED or self.request is None:
            raise LocalProtocolError(f"{what}() in state {self.state.name}")
        self.host.cancel_timer(self, _ServerTimer.UNANSWERED)
        return self.request

    def _store_body(self, body: bytes | None, content_type: str | None) -> None:
        if body is None:
            return
        if content_type is None:
            raise LocalProtocolError("a NOTIFY body needs a content type")
        self._body = (body, content_type)

    def _set_expiry(self, granted: int, *, now: float) -> None:
        self.expires_at = now + granted
        self.host.schedule(self, _ServerTimer.EXPIRE, self.expires_at)

    def _subscription_state(self, *, now: float) -> SubscriptionState:
        left = max(0, math.ceil((self.expires_at or now) - now))
        state = SubState.ACTIVE if self.state is ServerState.ACTIVE else SubState.PENDING
        return SubscriptionState(state, left)

    def _send_notify(self, *, now: float,
                     substate: SubscriptionState | None = None) -> None:
        assert self.dialog_id is not None
        dialog = self.host.core.dialog(self.dialog_id)
        if dialog is None:
            raise LocalProtocolError("the subscription's dialog is gone")
        request = dialog.create_request("NOTIFY", cseq_start=self.host.ids.cseq_start())
        request.headers.add("Event", self.event)
        state = substate or self._subscription_state(now=now)
        request.headers.add("Subscription-State", str(state))
        if self._body is not None:
            request.body, request.content_type = self._body
        self._notifies.add(self.host.send_request_for(self, request, self.targets, now=now))

    def _send_final(self, reason: str, retry_after: int | None, *, now: float,
                    ended_as: str | None = None) -> None:
        self.host.cancel_timer(self, _ServerTimer.EXPIRE)
        self._final_reason = ended_as or reason
        self._send_notify(now=now, substate=SubscriptionState(SubState.TERMINATED, None, reason,
                                                              retry_after))
        self.state = ServerState.TERMINATING

    def _ended(self, reason: str) -> None:
        if self.state is ServerState.ENDED:
            return
        self.state = ServerState.ENDED
        self.host.cancel_timer(self, _ServerTimer.EXPIRE)
        self.host.cancel_timer(self, _ServerTimer.UNANSWERED)
        if self.dialog_id is not None:
            self.host.core.remove_dialog(self.dialog_id)
        self.host.emit(SubscriptionEnded(self.id, reason))
        self.host.finished(self)


def subscription_factory(packages: Mapping[str, EventPackagePolicy], *,
                         contact_for: Callable[[RequestReceived], NameAddr] | None = None,
                         ) -> UsageFactory:
    """The factory for ``on_new_request("SUBSCRIBE", ...)``, dispatching on the Event package.

    A SUBSCRIBE for a package not in ``packages`` (or without Event) is answered
    489 Bad Event with Allow-Events (RFC 6665 §8.2.2). ``contact_for`` picks our
    Contact per SUBSCRIBE (the listener it came in on) instead of the policy's.
    """
    served = dict(packages)

    def make(manager: UsageManager, event: RequestReceived, now: float) -> Usage | None:
        header = _EventHeader.parse(event.request.headers.get("Event"))
        policy = served.get(header.package) if header is not None else None
        refusal = None
        contact = None
        if policy is None:
            refusal = _Refusal(489, [("Allow-Events", ", ".join(served))])
        elif contact_for is not None:
            contact = contact_for(event)
        return ServerSubscription(manager, manager.new_usage_id(), policy=policy,
                                  refusal=refusal, contact=contact)

    return make


def _phrase(reason: str) -> str:
    """A Reason-Phrase from an error text: one printable line, at most 200 characters."""
    text = " ".join(reason.split())
    return text[:200] or "Bad Request"


def _int_header(response: Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    head = value.split(";", 1)[0].split("(", 1)[0].strip()
    return int(head) if head.isdigit() else None
