"""REFER (RFC 3515) with its implicit subscription, for blind and attended transfer.

Knows: sending a REFER in an INVITE dialog or outside any dialog with
Refer-To (optionally carrying Replaces, RFC 3891) and Referred-By (RFC 3892);
the implicit "refer" subscription whose NOTIFYs carry message/sipfrag progress
(RFC 3515 §2.4.4-§2.4.7); answering an incoming REFER (202 and a first
NOTIFY "100 Trying", progress NOTIFYs, the final one terminating the
subscription with ``reason=noresource``) or refusing it; ``Refer-Sub: false``
(RFC 4488) both ways; the Refer-To ``method`` parameter (RFC 3515 §2.4.2/§2.4.3:
the referee sends that request, INVITE by default). Must not know: how the
referred request is made (the api makes the INVITE, BYE, MESSAGE or OPTIONS), SDP,
sockets or clocks.

Refer-To methods: ``REFERABLE_METHODS`` (INVITE, BYE, MESSAGE, OPTIONS) are passed
up as ``ReferReceived``; a REFER asking for any other method (ACK, CANCEL, PRACK,
UPDATE and INFO need a dialog of the referee's own; SUBSCRIBE, NOTIFY, PUBLISH,
REGISTER and REFER would start state the referrer never sees) is answered
``403 Refer-To method X is not carried out`` at once.

``Refer-Sub: false`` (RFC 4488 §4): a REFER carrying it is accepted with
``200 OK`` and ``Refer-Sub: false`` (RFC 7647 prefers 200 for REFER), no
implicit subscription, no dialog and no NOTIFY; our REFER sent with
``subscribe=False`` carries ``Refer-Sub: false`` and ``Supported: norefersub``,
and a 2xx echoing ``Refer-Sub: false`` ends it at once (``ReferAccepted`` with
``subscribed=False``); a 2xx without it means the peer made the usual
subscription, which is then followed as always.

A REFER challenged with 401/407 is sent again with the credentials given to
``out_of_dialog`` (or, in a call, the session's ``credentials``) and a new CSeq
(RFC 3261 §22.2); its NOTIFYs then carry that CSeq as ``id``.

An out-of-dialog REFER's first NOTIFY may overtake its 2xx (RFC 6665 §4.1.2.4,
RFC 3515 §2.4.4): the client registers ``expect_notify`` for its Call-ID and From
tag, so the core passes such a NOTIFY up instead of answering 481.

The manager routes in-dialog requests by dialog, and an INVITE dialog belongs
to its ``InviteSession``; ``ReferRouter`` is the session's ``DialogExtension``
for REFER and for NOTIFY with ``Event: refer``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from voipkit.sip.addressing import Destination
from voipkit.sip.auth import Credentials
from voipkit.sip.bodies.errors import BodyError
from voipkit.sip.bodies.sipfrag import SIPFRAG, SipFrag, build_sipfrag, parse_sipfrag
from voipkit.sip.dialog import Dialog, DialogId
from voipkit.sip.errors import LocalProtocolError, ParseError
from voipkit.sip.events import (
    CoreEvent,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.replaces import Replaces, ReplacesError, replaces_in_uri
from voipkit.sip.transaction.keys import TransactionKey
from voipkit.sip.uri import SipUri, Uri, parse_uri
from voipkit.sip.usage.base import Usage, UsageEvent, UsageHost
from voipkit.sip.usage.invite import InviteSession, SessionState
from voipkit.sip.usage.manager import UsageFactory, UsageManager
from voipkit.sip.usage.pager import ChallengeAnswerer

DEFAULT_EXPIRES = 180
"Seconds the implicit subscription lasts unless a NOTIFY says otherwise."

_EXPIRY = "refer-expiry"


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferEvent(UsageEvent):
    """Base of every REFER event."""

    refer_id: int
    "The usage id (the facade's referId)."


@dataclass(frozen=True, slots=True)
class ReferAccepted(ReferEvent):
    """A 2xx (normally 202) answered our REFER (onReferAccepted)."""

    response: Response
    subscribed: bool = True
    "False when the 2xx says ``Refer-Sub: false``: no progress will be reported."


@dataclass(frozen=True, slots=True)
class ReferRejected(ReferEvent):
    """Our REFER got a final response >= 300, or none (onReferRejected)."""

    status: int | None
    "The final status, or None after a timeout or transport failure."
    reason: str


@dataclass(frozen=True, slots=True)
class TransferTrying(ReferEvent):
    """The transferee reports 100 Trying (onTransferTrying)."""

    frag: SipFrag


@dataclass(frozen=True, slots=True)
class TransferRinging(ReferEvent):
    """The transferee reports 18x (onTransferRinging)."""

    frag: SipFrag


@dataclass(frozen=True, slots=True)
class TransferSucceeded(ReferEvent):
    """The transferee reports a 2xx (onACTVTransferSuccess)."""

    frag: SipFrag


@dataclass(frozen=True, slots=True)
class TransferFailed(ReferEvent):
    """A sipfrag >= 300, or the subscription ended without success (onACTVTransferFailure)."""

    status: int | None
    "The reported status, or None when the subscription ended without a final report."
    reason: str


@dataclass(frozen=True, slots=True)
class ReferReceived(ReferEvent):
    """A REFER arrived (onReceivedRefer); answer with ``accept`` or ``reject``."""

    request: Request
    refer_to: NameAddr
    "Where to send the new INVITE (URI headers, e.g. Replaces, still in it)."
    replaces: Replaces | None
    "The Replaces embedded in Refer-To (attended transfer), unescaped."
    referred_by: NameAddr | None
    session_id: int | None = None
    "The INVITE session whose dialog the REFER came in, or None outside any dialog."
    subscription: bool = True
    "False for ``Refer-Sub: false`` (RFC 4488): accepting sends 200 and no NOTIFY."

    @property
    def method(self) -> str:
        """The request Refer-To asks for (``refer_method``)."""
        return refer_method(self.refer_to)


# --- helpers -----------------------------------------------------------------------------


REFERABLE_METHODS = frozenset({"INVITE", "BYE", "MESSAGE", "OPTIONS"})
"Refer-To methods a REFER may ask for; others are refused 403 (see the module doc)."


def refer_method(refer_to: NameAddr) -> str:
    """The method a Refer-To asks for: its ``method`` parameter, INVITE when absent
    (RFC 3515 §2.4.3, RFC 3261 §19.1.1: "the method parameter ... defaults to INVITE")."""
    uri = refer_to.uri
    method = uri.params.get("method") if isinstance(uri, SipUri) else None
    return (method or "INVITE").upper()


def wants_no_subscription(message: Request | Response) -> bool:
    """True when ``message`` carries ``Refer-Sub: false`` (RFC 4488 §4)."""
    value = message.headers.get("Refer-Sub")
    return value is not None and value.split(";")[0].strip().lower() == "false"


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """RFC 6665 §8.2.3 Subscription-State: active|pending|terminated with parameters."""

    state: str
    expires: int | None = None
    reason: str | None = None

    @classmethod
    def parse(cls, value: str) -> SubscriptionState:
        """Raises ValueError for an empty state or a non-numeric expires."""
        state, *params = [p.strip() for p in value.split(";")]
        if not state:
            raise ValueError("empty Subscription-State")
        expires: int | None = None
        reason: str | None = None
        for param in params:
            name, _, raw = param.partition("=")
            name = name.strip().lower()
            if name == "expires":
                if not raw.strip().isdigit():
                    raise ValueError(f"Subscription-State expires {raw!r} is not a number")
                expires = int(raw)
            elif name == "reason":
                reason = raw.strip()
        return cls(state.lower(), expires, reason)

    def __str__(self) -> str:
        text = self.state
        if self.reason is not None:
            text += f";reason={self.reason}"
        if self.expires is not None:
            text += f";expires={self.expires}"
        return text


def _event_id(request: Request) -> tuple[str, str | None] | None:
    value = request.headers.get("Event")
    if value is None:
        return None
    package, *params = [p.strip() for p in value.split(";")]
    event_id: str | None = None
    for param in params:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "id":
            event_id = raw.strip()
    return package.lower(), event_id


def _respond(usage: Usage, request: Request, status: int, reason: str | None = None, *,
             now: float) -> None:
    response = usage.host.core.create_response(request, status, reason)
    usage.host.send_response_for(usage, response, now=now)


# --- the referrer ----------------------------------------------------------------------


class ReferClient(Usage):
    """Our REFER and the implicit subscription it creates (the transferor's side).

    Create with ``ReferClient.out_of_dialog`` or ``ReferRouter.refer``. Events:
    ReferAccepted or ReferRejected, then TransferTrying / TransferRinging and
    finally TransferSucceeded or TransferFailed. Every NOTIFY is answered 200,
    except one with a malformed sipfrag (400; the subscription goes on).
    """

    def __init__(self, host: UsageHost, usage_id: int, *, targets: Sequence[Destination],
                 router: ReferRouter | None = None,
                 credentials: Credentials | None = None) -> None:
        super().__init__(host, usage_id)
        self.targets = list(targets)
        self._auth = ChallengeAnswerer(credentials, host.ids)
        self._make: Callable[[], Request] | None = None
        "Builds the REFER again (new CSeq) for a resend after 401/407."
        self._refer_to: NameAddr | None = None
        self._referred_by: NameAddr | None = None
        self._subscribe = True
        self.dialog_id: DialogId | None = None
        self.request: Request | None = None
        self.outcome: int | None = None
        "The final sipfrag status reported (None until then)."
        self.done = False
        self.dropped = 0
        self._key: TransactionKey | None = None
        self._router = router
        self._owns_dialog = router is None

    @classmethod
    def out_of_dialog(cls, manager: UsageManager, *, request_uri: str, from_: NameAddr,
                      to: NameAddr, contact: NameAddr, refer_to: NameAddr,
                      targets: Sequence[Destination], referred_by: NameAddr | None = None,
                      subscribe: bool = True, credentials: Credentials | None = None,
                      now: float) -> ReferClient:
        """Send a REFER outside any dialog (the manual's outOfDialogRefer). Queues output.

        ``subscribe=False`` asks for no implicit subscription (``Refer-Sub: false``);
        ``credentials`` answer a 401/407.
        """
        usage = cls(manager, manager.new_usage_id(), targets=targets, credentials=credentials)
        tagged = NameAddr(from_.uri, from_.display_name, dict(from_.params))
        tag = tagged.tag = manager.ids.tag()
        uri = parse_uri(request_uri)
        addressee = NameAddr(to.uri, to.display_name, dict(to.params))
        call_id = manager.ids.call_id()
        cseq = [manager.ids.cseq_start() - 1]

        def make() -> Request:
            cseq[0] += 1
            return Request("REFER", uri, from_=tagged.copy(), to=addressee.copy(),
                           call_id=call_id, cseq=CSeq(cseq[0], "REFER"), contact=[contact])

        manager.add(usage)
        if subscribe:
            # RFC 6665 §4.1.2.4: the first NOTIFY may arrive before the 2xx
            manager.expect_notify(usage, call_id, tag)
        usage._start(make, refer_to, referred_by, subscribe=subscribe, now=now)
        return usage

    def _start(self, make: Callable[[], Request], refer_to: NameAddr,
               referred_by: NameAddr | None, *, subscribe: bool = True, now: float) -> None:
        self._make = make
        self._refer_to, self._referred_by, self._subscribe = refer_to, referred_by, subscribe
        self._send([], now=now)

    def _send(self, auth: list[tuple[str, str]], *, now: float) -> None:
        assert self._make is not None and self._refer_to is not None
        request = self._make()
        request.headers.set("Refer-To", str(self._refer_to))
        if self._referred_by is not None:
            request.headers.set("Referred-By", str(self._referred_by))
        if not self._subscribe:
            request.headers.set("Refer-Sub", "false")  # RFC 4488 §4
            request.headers.add("Supported", "norefersub")
        for name, value in auth:
            request.headers.add(name, value)
        old = self.request
        self.request = request
        self._key = self.host.send_request_for(self, request, self.targets, now=now)
        if old is not None and self._router is not None:
            self._router.rekey(self, old.cseq.seq)

    @property
    def cseq(self) -> int:
        """The REFER's CSeq number (the ``id`` of its NOTIFYs, RFC 3515 §2.4.6)."""
        assert self.request is not None
        return self.request.cseq.seq

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if self.done:
            self.dropped += 1
            return
        if isinstance(event, ResponseReceived):
            if event.transaction == self._key and event.response.status >= 200:
                self._on_final(event, now=now)
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            if event.transaction == self._key:
                self._finish(ReferRejected(self.id, None, "no response to the REFER"))
        elif isinstance(event, RequestReceived):
            if event.request.method == "NOTIFY":
                self.on_notify(event, now=now)
            else:
                response = self.host.core.create_response(event.request, 405)
                response.headers.set("Allow", "NOTIFY")
                self.host.send_response_for(self, response, now=now)

    def _on_final(self, event: ResponseReceived, *, now: float) -> None:
        response = event.response
        if response.status in (401, 407):
            auth = self._auth.answer(response, method="REFER", uri=str(event.request.uri))
            if auth is not None:
                self._send(auth, now=now)  # RFC 3261 §22.2: the same REFER, a new CSeq
                return
        else:
            self._auth.accepted()
        if response.status >= 300:
            self._finish(ReferRejected(self.id, response.status, response.reason))
            return
        if (self.request is not None and wants_no_subscription(self.request)
                and wants_no_subscription(response)):
            # RFC 4488 §4: the recipient made no implicit subscription; nothing follows
            self._finish(ReferAccepted(self.id, response, subscribed=False))
            return
        if self._owns_dialog and self.dialog_id is None:
            dialog = Dialog.as_uac(event.request, response)
            self.dialog_id = dialog.id
            if self.host.core.dialog(dialog.id) is None:
                self.host.add_dialog(self, dialog)
        self.host.emit(ReferAccepted(self.id, response))
        self.host.schedule(self, _EXPIRY, now + DEFAULT_EXPIRES)

    def on_notify(self, event: RequestReceived, *, now: float) -> None:
        """Handle a NOTIFY of this REFER's subscription (RFC 3515 §2.4.5)."""
        request = event.request
        package = _event_id(request)
        if package is None or package[0] != "refer":
            _respond(self, request, 489, now=now)  # RFC 6665 §8.2.1 Bad Event
            return
        try:
            state = SubscriptionState.parse(request.headers.get("Subscription-State") or "")
        except ValueError as exc:
            _respond(self, request, 400, f"Bad Subscription-State: {exc}", now=now)
            return
        frag: SipFrag | None = None
        try:
            if (request.content_type or "").split(";")[0].strip().lower() != SIPFRAG:
                raise BodyError(f"NOTIFY body type {request.content_type!r} is not {SIPFRAG}")
            frag = parse_sipfrag(request.body)
        except BodyError as exc:
            _respond(self, request, 400, f"Bad sipfrag: {exc.reason}"[:120], now=now)
        else:
            _respond(self, request, 200, now=now)
            self._report(frag)
        if state.state == "terminated":
            if self.outcome is None:
                self._finish(TransferFailed(
                    self.id, None, f"subscription terminated ({state.reason or 'no reason'})"
                    " without a final report"))
            else:
                self._finish(None)
        elif state.expires is not None:
            self.host.schedule(self, _EXPIRY, now + state.expires)

    def _report(self, frag: SipFrag) -> None:
        if self.outcome is not None:
            return  # a final report was already given
        if frag.status == 100:
            self.host.emit(TransferTrying(self.id, frag))
        elif 180 <= frag.status < 190:
            self.host.emit(TransferRinging(self.id, frag))
        elif frag.is_success:
            self.outcome = frag.status
            self.host.emit(TransferSucceeded(self.id, frag))
        elif frag.status >= 300:
            self.outcome = frag.status
            self.host.emit(TransferFailed(self.id, frag.status, frag.reason))

    def on_timer(self, name: Hashable, *, now: float) -> None:
        if name != _EXPIRY or self.done:
            return
        if self.outcome is None:
            self._finish(TransferFailed(self.id, None, "the refer subscription expired"))
        else:
            self._finish(None)

    def _finish(self, event: UsageEvent | None) -> None:
        self.done = True
        if event is not None:
            self.host.emit(event)
        self.host.cancel_timer(self, _EXPIRY)
        if self._owns_dialog and self.dialog_id is not None:
            self.host.core.remove_dialog(self.dialog_id)
        if self._router is not None:
            self._router.forget(self)
        self.host.finished(self)


# --- the referee -----------------------------------------------------------------------


class ReferServer(Usage):
    """A REFER we received: ``accept`` (202 + NOTIFY 100), ``progress``, or ``reject``."""

    def __init__(self, host: UsageHost, usage_id: int, *, contact: NameAddr | None = None,
                 router: ReferRouter | None = None) -> None:
        super().__init__(host, usage_id)
        self.contact = contact
        self.targets: list[Destination] = []
        self.dialog_id: DialogId | None = None
        self.request: Request | None = None
        self.accepted = False
        self.done = False
        self.dropped = 0
        self._router = router
        self._owns_dialog = router is None
        self._terminating = False
        self.subscription = True
        "False when the REFER said ``Refer-Sub: false`` (RFC 4488): no NOTIFYs."
        self._expires = DEFAULT_EXPIRES
        self._in_flight: TransactionKey | None = None
        self._queue: deque[Request] = deque()

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if self.done:
            self.dropped += 1
            return
        if isinstance(event, RequestReceived):
            if event.request.method == "REFER" and self.request is None:
                self._on_refer(event, now=now)
            else:
                response = self.host.core.create_response(event.request, 405)
                response.headers.set("Allow", "REFER")
                self.host.send_response_for(self, response, now=now)
        elif isinstance(event, ResponseReceived) and event.transaction == self._in_flight:
            if event.response.status >= 200:
                self._on_notify_answered(event.response.status, now=now)
        elif (isinstance(event, TransactionTimedOut | TransportFailed)
              and event.transaction == self._in_flight):
            self._on_notify_answered(408, now=now)

    def _on_refer(self, event: RequestReceived, *, now: float) -> None:
        request = event.request
        source = event.source
        self.targets = [Destination(event.transport, source[0], source[1])]
        values = request.headers.getall("Refer-To")
        # RFC 3515 §2.4.1: "A REFER request MUST contain exactly one Refer-To header field value."
        if len(values) != 1:
            self._refuse(request, 400, "REFER needs exactly one Refer-To", now=now)
            return
        try:
            refer_to = NameAddr.parse(values[0])
            replaces = (replaces_in_uri(refer_to.uri) if isinstance(refer_to.uri, SipUri)
                        else None)
            by = request.headers.get("Referred-By")
            referred_by = NameAddr.parse(by) if by is not None else None
        except (ParseError, ReplacesError) as exc:
            self._refuse(request, 400, f"Bad Refer-To or Referred-By: {exc}"[:120], now=now)
            return
        method = refer_method(refer_to)
        if method not in REFERABLE_METHODS:
            # RFC 3515 §2.4.2: "any appropriate 4xx-6xx class response"
            self._refuse(request, 403, f"Refer-To method {method} is not carried out"[:120],
                         now=now)
            return
        self.request = request
        self.subscription = not wants_no_subscription(request)
        session = self._router.session.id if self._router is not None else None
        self.host.emit(ReferReceived(self.id, request, refer_to, replaces, referred_by,
                                     session, self.subscription))

    def _refuse(self, request: Request, status: int, reason: str, *, now: float) -> None:
        _respond(self, request, status, reason, now=now)
        self._end()

    @property
    def reporting(self) -> bool:
        """Accepted, and the final progress is not reported yet (``progress`` may be called).

        Never true without a subscription (``Refer-Sub: false``).
        """
        return self.accepted and not self._terminating and not self.done

    def _require_pending(self, action: str) -> Request:
        if self.request is None or self.done:
            raise LocalProtocolError(f"cannot {action}: no REFER is pending")
        return self.request

    def accept(self, *, expires: int = DEFAULT_EXPIRES, now: float) -> None:
        """Answer 202 Accepted and send the first NOTIFY "100 Trying" (RFC 3515 §2.4.4).

        For ``Refer-Sub: false`` answer 200 with ``Refer-Sub: false`` instead and end
        here: no subscription, no dialog, no NOTIFY (RFC 4488 §4).
        """
        request = self._require_pending("accept")
        if self.accepted:
            raise LocalProtocolError("the REFER was already accepted")
        if not self.subscription:
            response = self.host.core.create_response(request, 200, contact=self.contact)
            response.headers.set("Refer-Sub", "false")
            self.host.send_response_for(self, response, now=now)
            self.accepted = True
            self._end()
            return
        response = self.host.core.create_response(request, 202, contact=self.contact)
        self.host.send_response_for(self, response, now=now)
        if self._owns_dialog:
            dialog = Dialog.as_uas(request, response)
            self.dialog_id = dialog.id
            self.host.add_dialog(self, dialog)
        self.accepted = True
        self._expires = expires
        self._notify(100, None, now=now)

    def progress(self, status: int, reason: str | None = None, *, now: float) -> None:
        """Report the new call's progress; a final status ends the subscription.

        RFC 3515 §2.4.7: the final NOTIFY carries Subscription-State terminated
        (here ``reason=noresource``, the subscription has nothing left to report).
        """
        self._require_pending("report progress")
        if not self.subscription:
            raise LocalProtocolError("the REFER asked for no subscription (Refer-Sub: false)")
        if not self.accepted:
            raise LocalProtocolError("accept the REFER before reporting progress")
        if self._terminating:
            raise LocalProtocolError("the final progress was already reported")
        self._notify(status, reason, now=now)

    def reject(self, status: int = 603, reason: str | None = None, *, now: float) -> None:
        """Refuse the REFER with a final response >= 300 (rejectRefer)."""
        request = self._require_pending("reject")
        if self.accepted:
            raise LocalProtocolError("the REFER was already accepted; report a failure instead")
        if status < 300:
            raise LocalProtocolError(f"reject needs a status >= 300, not {status}")
        _respond(self, request, status, reason, now=now)
        self._end()

    def _notify(self, status: int, reason: str | None, *, now: float) -> None:
        assert self.request is not None
        dialog_id = self.dialog_id
        dialog = self.host.core.dialog(dialog_id) if dialog_id is not None else None
        if dialog is None:
            raise LocalProtocolError("the refer subscription has no dialog")
        notify = dialog.create_request("NOTIFY", cseq_start=self.host.ids.cseq_start())
        notify.headers.set("Event", f"refer;id={self.request.cseq.seq}")
        if status >= 200:
            self._terminating = True
            state = SubscriptionState("terminated", reason="noresource")
        else:
            state = SubscriptionState("active", expires=self._expires)
        notify.headers.set("Subscription-State", str(state))
        notify.body, notify.content_type = build_sipfrag(status, reason), SIPFRAG
        self._queue.append(notify)
        self._send_next(now=now)

    def _send_next(self, *, now: float) -> None:
        # RFC 6665 §4.2.2 spirit: one NOTIFY at a time, so reports arrive in order
        if self._in_flight is None and self._queue:
            self._in_flight = self.host.send_request_for(self, self._queue.popleft(),
                                                         self.targets, now=now)

    def _on_notify_answered(self, status: int, *, now: float) -> None:
        self._in_flight = None
        if status >= 300:
            self._queue.clear()  # the subscriber is gone (RFC 6665 §4.1.3)
            self._end()
            return
        if self._queue:
            self._send_next(now=now)
        elif self._terminating:
            self._end()

    def _end(self) -> None:
        if self.done:
            return
        self.done = True
        if self._owns_dialog and self.dialog_id is not None:
            self.host.core.remove_dialog(self.dialog_id)
        if self._router is not None:
            self._router.forget(self)
        self.host.finished(self)


def refer_factory(*, contact: NameAddr) -> UsageFactory:
    """The ``UsageFactory`` for out-of-dialog REFERs: ``on_new_request("REFER", ...)``."""

    def make(manager: UsageManager, event: RequestReceived, now: float) -> Usage | None:
        return ReferServer(manager, manager.new_usage_id(), contact=contact)

    return make


# --- REFER inside an INVITE dialog ---------------------------------------------------------


class ReferRouter:
    """The REFERs of one INVITE session's dialog, in both directions (a ``DialogExtension``).

    ``attach`` adds it to the session: an incoming REFER becomes a
    ``ReferServer`` (``ReferReceived``), a NOTIFY with ``Event: refer`` goes to
    the ``ReferClient`` whose REFER CSeq its ``id`` names (RFC 3515 §2.4.6; 481
    for none), and ``refer`` sends a REFER in the dialog. Everything else stays
    with the session, so its BYE, re-INVITEs and INFO are untouched.
    """

    def __init__(self, manager: UsageManager, session: InviteSession) -> None:
        self.manager = manager
        self.session = session
        self._clients: dict[int, ReferClient] = {}  # by REFER CSeq
        self._servers: set[ReferServer] = set()

    @classmethod
    def attach(cls, manager: UsageManager, session: InviteSession) -> ReferRouter:
        """The session's router, made and added on first use."""
        for extension in session.extensions:
            if isinstance(extension, ReferRouter):
                return extension
        router = cls(manager, session)
        session.add_extension(router)
        return router

    @property
    def dialog_id(self) -> DialogId:
        dialog_id = self.session.dialog_id
        if dialog_id is None or self.manager.core.dialog(dialog_id) is None:
            raise LocalProtocolError("the call has no dialog to send a REFER in")
        return dialog_id

    def refer(self, refer_to: NameAddr, *, referred_by: NameAddr | None = None,
              request_uri: Uri | None = None, subscribe: bool = True,
              now: float) -> ReferClient:
        """Send a REFER in the dialog (the manual's refer / attendedRefer). Queues output.

        ``request_uri`` replaces the dialog's remote target in the request line
        (attendedRefer2's ``target``); the dialog's Route set still applies.
        ``subscribe=False`` sends ``Refer-Sub: false`` (RFC 4488).

        Raises:
            LocalProtocolError: the call is not confirmed or its dialog has ended.
        """
        if self.session.state is not SessionState.CONFIRMED:
            raise LocalProtocolError(
                f"cannot REFER in a call that is {self.session.state.name}, not CONFIRMED")
        dialog_id = self.dialog_id
        dialog = self.manager.core.dialog(dialog_id)
        assert dialog is not None
        manager = self.manager
        client = ReferClient(manager, manager.new_usage_id(), targets=self.session.targets,
                             router=self, credentials=self.session.credentials)
        manager.add(client)

        def make() -> Request:
            request = dialog.create_request("REFER", cseq_start=manager.ids.cseq_start())
            if request_uri is not None:
                request.uri = request_uri
            return request

        client.dialog_id = dialog_id
        client._start(make, refer_to, referred_by, subscribe=subscribe, now=now)
        self._clients[client.cseq] = client
        return client

    def rekey(self, client: ReferClient, old_cseq: int) -> None:
        """``client`` resent its REFER with a new CSeq (after 401/407): NOTIFYs name that."""
        if self._clients.get(old_cseq) is client:
            del self._clients[old_cseq]
            self._clients[client.cseq] = client

    def forget(self, usage: Usage) -> None:
        """A client or server of this dialog ended."""
        if isinstance(usage, ReferClient):
            self._clients.pop(usage.cseq, None)
        elif isinstance(usage, ReferServer):
            self._servers.discard(usage)

    def on_request(self, session: InviteSession, event: RequestReceived, *,
                   now: float) -> bool:
        method = event.request.method
        if method == "REFER":
            server = ReferServer(self.manager, self.manager.new_usage_id(), router=self)
            server.dialog_id = session.dialog_id
            self.manager.add(server)
            self.manager.bind_transaction(server, event.transaction)
            self._servers.add(server)
            server.on_event(event, now=now)
            server.targets = list(session.targets)
            return True
        if method == "NOTIFY":
            package = _event_id(event.request)
            if package is None or package[0] != "refer":
                return False
            client = self._client_for(package[1])
            if client is None:
                # RFC 6665 §4.1.3: a NOTIFY for no subscription we hold
                response = self.manager.core.create_response(event.request, 481,
                                                             "No such refer subscription")
                self.manager.send_response_for(session, response, now=now)
            else:
                client.on_notify(event, now=now)
            return True
        return False

    def _client_for(self, event_id: str | None) -> ReferClient | None:
        if event_id is not None:
            return self._clients.get(int(event_id)) if event_id.isdigit() else None
        return next(iter(self._clients.values()), None) if len(self._clients) == 1 else None


__all__ = [
    "DEFAULT_EXPIRES",
    "REFERABLE_METHODS",
    "ReferAccepted",
    "ReferClient",
    "ReferEvent",
    "ReferReceived",
    "ReferRejected",
    "ReferRouter",
    "ReferServer",
    "SubscriptionState",
    "TransferFailed",
    "TransferRinging",
    "TransferSucceeded",
    "TransferTrying",
    "refer_factory",
    "refer_method",
    "wants_no_subscription",
]
