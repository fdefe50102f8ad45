"""Call transfer: REFER (RFC 3515) out and in, and calls taken over by INVITE with Replaces.

Knows: ``sip.usage.refer`` (ReferRouter, ReferClient, ReferServer and their
events), ``sip.replaces`` (the Replaces of an attended transfer, RFC 3891), the
Phone, Account and Call objects, and how a transferee reports the new call's
progress (RFC 3515 §2.4.5: 100 on acceptance, 18x, then the final status). Must
not know: the facade.

Transferor: ``refer(call, target)`` (blind) or ``refer(call, target,
replaces=other)`` (attended: Refer-To carries ``?Replaces=`` naming ``other``'s
dialog) returns a ``Transfer``; its outcome arrives as ReferAccepted /
ReferRejected, then TransferTrying / TransferRinging, and TransferSucceeded or
TransferFailed, all on the call's bus. Transferee: ``ReferReceived`` carries an
``IncomingRefer``; ``accept()`` answers 202, calls the Refer-To target (with its
embedded Replaces and a Referred-By) and reports the new call's progress in
NOTIFYs; ``reject()`` refuses it. Target of an attended transfer: an INVITE
whose Replaces names one of our calls is answered at once and, once the new
call is up, the old one is hung up (``CallReplaced``).

The Refer-To ``method`` (RFC 3515 §2.4.3; the manual's attendedRefer2 and
outOfDialogRefer ``replaceMethod``, "usually INVITE or BYE") says which request
``accept()`` sends:

- INVITE (the default): a new call to the target, as above;
- BYE: hangs up the call the Refer-To names, by its embedded Replaces (either
  tag order) or else as the one connected call whose peer is the Refer-To URI
  (never the REFER's own call); the BYE's final status is the final NOTIFY. A BYE
  REFER that names no call of ours is refused ``403`` when it arrives (no
  ``ReferReceived``), or when ``accept()`` finds the call gone;
- MESSAGE / OPTIONS: sent outside any dialog to the target; a MESSAGE takes its
  body from the Refer-To's ``?body=`` header and its type from ``?Content-Type=``
  (text/plain by default); the final response is the final NOTIFY;
- anything else is refused 403 by ``sip.usage.refer`` before it gets here.

``Refer-Sub: false`` (RFC 4488): ``subscribe=False`` on ``refer`` /
``out_of_dialog_refer`` asks for it; a peer that honours it answers 200 and
reports nothing, so ``ReferAccepted.subscribed`` is False and the Transfer's
outcome is True at once. An incoming REFER with it is accepted with 200 and no
NOTIFY (``IncomingRefer.subscription`` is False); the request is still sent.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voipkit.api.errors import ConfigurationError, InvalidStateError
from voipkit.api.events import (
    CallAnswered,
    CallConnected,
    CallEnded,
    CallEvent,
    CallFailure,
    CallProgress,
    PhoneEvent,
)
from voipkit.sip.addressing import TransportKind
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import NameAddr, Request, Response
from voipkit.sip.replaces import Replaces, refer_to_with_replaces, uri_without_headers
from voipkit.sip.status import reason_phrase
from voipkit.sip.uri import SipUri, parse_uri, unescape
from voipkit.sip.usage import refer as rf
from voipkit.sip.usage.base import Usage
from voipkit.sip.usage.invite import InviteSession
from voipkit.sip.usage.manager import UsageManager

if TYPE_CHECKING:
    from voipkit.api.account import Account
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone

logger = logging.getLogger(__name__)


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransferEvent(CallEvent):
    """Base of the transferor's events; ``call`` is the call being transferred."""

    transfer: Transfer
    "The REFER this is about."


@dataclass(frozen=True, slots=True)
class ReferAccepted(TransferEvent):
    """The transferee answered our REFER 2xx (onReferAccepted)."""

    response: Response
    subscribed: bool = True
    "False when the peer honoured ``Refer-Sub: false``: no progress events follow."


@dataclass(frozen=True, slots=True)
class ReferRejected(TransferEvent):
    """The transferee refused our REFER, or never answered (onReferRejected)."""

    status: int
    "Its final status (408 when no response came)."
    reason: str


@dataclass(frozen=True, slots=True)
class TransferTrying(TransferEvent):
    """The transferee is calling the target (NOTIFY "100 Trying", onTransferTrying)."""


@dataclass(frozen=True, slots=True)
class TransferRinging(TransferEvent):
    """The target rings (NOTIFY 18x, onTransferRinging)."""


@dataclass(frozen=True, slots=True)
class TransferSucceeded(TransferEvent):
    """The target answered the transferee (NOTIFY 2xx, onACTVTransferSuccess)."""


@dataclass(frozen=True, slots=True)
class TransferFailed(TransferEvent):
    """The transferred call failed, or the report never came (onACTVTransferFailure)."""

    status: int
    "The reported status (408 when the subscription ended or expired without one)."
    reason: str


@dataclass(frozen=True, slots=True)
class ReferReceived(PhoneEvent):
    """A REFER arrived (onReceivedRefer): ``refer.accept()`` or ``refer.reject()``."""

    refer: IncomingRefer


@dataclass(frozen=True, slots=True)
class CallReplaced(CallEvent):
    """``call`` came with Replaces naming ``replaced``, was answered, and takes its place."""

    replaced: Call


# --- the transferor ------------------------------------------------------------------------


@dataclass(eq=False)
class Transfer:
    """One REFER we sent and what became of it."""

    id: int
    "The REFER's id (its usage id)."
    call: Call
    "The call the events belong to (the transferred call; outOfDialogRefer: the replaced one)."
    refer_to: str
    "The Refer-To URI as sent."
    outcome: asyncio.Future[bool] = field(repr=False)
    "True when the target answered, False when the transfer failed or was refused."

    async def wait(self, timeout: float | None = None) -> bool:
        """True once the target answered the transferee, False if it did not."""
        return await asyncio.wait_for(asyncio.shield(self.outcome), timeout)


_REGISTRIES: weakref.WeakKeyDictionary[Phone, _Registry] = weakref.WeakKeyDictionary()


class _Registry:
    """The phone's live transfers and incoming REFERs, by usage id."""

    def __init__(self) -> None:
        self.transfers: dict[int, Transfer] = {}
        self.incoming: dict[int, IncomingRefer] = {}

    @classmethod
    def of(cls, phone: Phone) -> _Registry:
        registry = _REGISTRIES.get(phone)
        if registry is None:
            registry = _REGISTRIES[phone] = cls()
        return registry


def _target_uri(call: Call, target: str) -> SipUri:
    """``target`` as a SIP URI; a bare number takes the host of the call's local identity."""
    domain = call.local.uri.host if isinstance(call.local.uri, SipUri) else None
    uri = parse_uri(call.phone.normalize_uri(target, domain))
    if not isinstance(uri, SipUri):
        raise ConfigurationError(f"refer target {target!r} is not a SIP URI")
    return uri


def _refer_to(call: Call, target: str, replaces: Call | None, method: str | None) -> NameAddr:
    uri = _target_uri(call, target)
    if replaces is not None:
        dialog_id = replaces.session.dialog_id
        if dialog_id is None or replaces.session.state.name not in ("CONFIRMED", "CALLING",
                                                                    "ACCEPTED"):
            raise InvalidStateError(f"call {replaces.id} has no dialog to replace")
        uri = refer_to_with_replaces(uri, Replaces.for_dialog(dialog_id))
    if method is not None:
        if not method.isalpha():
            raise ConfigurationError(f"refer method {method!r} is not a SIP method")
        uri = uri.replace(params={**uri.params, "method": method.upper()})
    return NameAddr(uri)


async def refer(call: Call, target: str, *, replaces: Call | None = None,
                method: str | None = None, request_target: str | None = None,
                subscribe: bool = True) -> Transfer:
    """Transfer ``call``'s peer to ``target`` with a REFER in the call (refer, attendedRefer).

    Args:
        call: a connected call (the transferee is its peer).
        target: where the peer is sent: a SIP URI, ``user@host`` or a number.
        replaces: attended transfer: the call (to ``target``) the peer's new INVITE
            replaces; its dialog goes into Refer-To as ``?Replaces=`` (RFC 3891 §7.1).
        method: a ``method=`` parameter for the Refer-To URI (attendedRefer2: INVITE, BYE).
        request_target: the REFER's Request-URI instead of the peer's Contact (attendedRefer2).
        subscribe: False sends ``Refer-Sub: false`` (RFC 4488): no progress reports.

    Raises:
        InvalidStateError: the call (or ``replaces``) is not connected.
    """
    from voipkit.api.call import CallState

    if call.state is not CallState.CONNECTED:
        raise InvalidStateError(f"cannot transfer call {call.id}: it is {call.state.value}")
    phone = call.phone
    refer_to = _refer_to(call, target, replaces, method)
    router = rf.ReferRouter.attach(phone.manager, call.session)
    request_uri = parse_uri(request_target) if request_target else None
    try:
        client = router.refer(refer_to, referred_by=NameAddr(call.local.uri),
                              request_uri=request_uri, subscribe=subscribe, now=phone.now())
    except LocalProtocolError as exc:
        raise InvalidStateError(f"cannot transfer call {call.id}: {exc}") from exc
    transfer = Transfer(client.id, call, str(refer_to.uri), phone.loop.create_future())
    _Registry.of(phone).transfers[client.id] = transfer
    phone.pump()
    return transfer


async def out_of_dialog_refer(phone: Phone, replaces: Call, method: str | None, target: str,
                              refer_to: str, *, account: Account | None = None,
                              subscribe: bool = True) -> Transfer:
    """Send a REFER outside any dialog to ``target``, Refer-To ``refer_to`` carrying the
    Replaces of ``replaces`` (outOfDialogRefer). Events go to ``replaces``' bus."""
    refer_to_addr = _refer_to(replaces, refer_to, replaces, method)
    request_uri = _target_uri(replaces, target)
    if account is not None and (account.config.server or account.config.outbound_proxy):
        targets = await account.targets()
    else:
        targets = await phone.resolve(request_uri)
    transport = targets[0].transport
    local = NameAddr(account.aor, account.config.display_name) if account is not None \
        else NameAddr(replaces.local.uri)
    user = account.config.user if account is not None else None
    client = rf.ReferClient.out_of_dialog(
        phone.manager, request_uri=str(request_uri), from_=local, to=NameAddr(request_uri),
        contact=phone.contact(transport, user), refer_to=refer_to_addr, targets=targets,
        referred_by=NameAddr(local.uri), subscribe=subscribe,
        credentials=account.credentials if account is not None else None, now=phone.now())
    transfer = Transfer(client.id, replaces, str(refer_to_addr.uri), phone.loop.create_future())
    _Registry.of(phone).transfers[client.id] = transfer
    phone.pump()
    return transfer


def _on_client_event(phone: Phone, event: rf.ReferEvent) -> None:
    registry = _Registry.of(phone)
    transfer = registry.transfers.get(event.refer_id)
    if transfer is None:
        return
    call = transfer.call
    public: TransferEvent
    done: bool | None = None
    if isinstance(event, rf.ReferAccepted):
        public = ReferAccepted(call, transfer, event.response, event.subscribed)
        if not event.subscribed:
            done = True  # nothing more will be known (Refer-Sub: false)
    elif isinstance(event, rf.ReferRejected):
        public = ReferRejected(call, transfer, event.status or 408, event.reason)
        done = False
    elif isinstance(event, rf.TransferTrying):
        public = TransferTrying(call, transfer)
    elif isinstance(event, rf.TransferRinging):
        public = TransferRinging(call, transfer)
    elif isinstance(event, rf.TransferSucceeded):
        public = TransferSucceeded(call, transfer)
        done = True
    elif isinstance(event, rf.TransferFailed):
        public = TransferFailed(call, transfer, event.status or 408, event.reason)
        done = False
    else:
        return
    if done is not None:
        registry.transfers.pop(event.refer_id, None)
        if not transfer.outcome.done():
            transfer.outcome.set_result(done)
    call.bus.emit(public)


# --- the transferee ------------------------------------------------------------------------


class IncomingRefer:
    """A REFER we received; ``accept`` makes the new call, ``reject`` refuses it."""

    def __init__(self, phone: Phone, server: rf.ReferServer, event: rf.ReferReceived,
                 call: Call | None) -> None:
        self.phone = phone
        self.id = event.refer_id
        "The referId."
        self.call = call
        "The call the REFER came in (None for an out-of-dialog REFER)."
        self.request: Request = event.request
        self.refer_to: NameAddr = event.refer_to
        "The Refer-To (URI headers such as Replaces still in it)."
        self.replaces: Replaces | None = event.replaces
        self.referred_by: NameAddr | None = event.referred_by
        self.new_call: Call | None = None
        "The call ``accept`` made."
        self._server = server

    def __repr__(self) -> str:
        return f"<IncomingRefer {self.id} to {self.refer_to.uri}>"

    @property
    def method(self) -> str:
        """The method Refer-To asks for (RFC 3515 §2.4.3: INVITE unless ``method=`` says)."""
        return rf.refer_method(self.refer_to)

    @property
    def subscription(self) -> bool:
        """False when the REFER said ``Refer-Sub: false``: accepting sends 200, no NOTIFY."""
        return self._server.subscription

    async def accept(self, *, account: Account | None = None) -> Call | None:
        """Accept the REFER and send the request its Refer-To asks for (acceptRefer).

        INVITE (the default): answer 202, call the target and report the call's
        progress; the INVITE carries the Replaces embedded in Refer-To and a
        Referred-By (RFC 3892); returns the new call. BYE: hang up the call the
        Refer-To names and report the BYE's status; returns that call. MESSAGE,
        OPTIONS: send it to the target and report its final status; returns None.
        (See the module doc.) ``account`` places the call or MESSAGE (default: the
        phone's first account, else peer to peer).

        Raises:
            InvalidStateError: the REFER was already answered, its Refer-To is not a
                SIP URI, or (BYE) the call it names is gone (the REFER is refused 403).
        """
        uri = self.refer_to.uri
        if not isinstance(uri, SipUri):
            raise InvalidStateError(f"REFER {self.id}: Refer-To {uri} is not a SIP URI")
        method = self.method
        victim: Call | None = None
        if method == "BYE":
            victim = bye_target(self.phone, self)
            if victim is None:
                await self.reject(403, "Refer-To method=BYE names no call here")
                raise InvalidStateError(f"REFER {self.id} asks to end a call that is gone")
        phone = self.phone
        try:
            self._server.accept(now=phone.now())
        except LocalProtocolError as exc:
            raise InvalidStateError(f"cannot accept REFER {self.id}: {exc}") from exc
        phone.pump()
        if victim is not None:
            return await self._bye(victim)
        if method != "INVITE":
            self._send_out_of_dialog(method, uri, account)
            return None
        headers = [(name, unescape(value)) for name, value in uri.headers.items()
                   if name.lower() in ("replaces", "require")]
        if self.referred_by is not None:
            headers.append(("Referred-By", str(self.referred_by)))
        target = str(_request_target(uri))
        try:
            if account is None:
                account = phone.accounts[0] if phone.accounts else None
            call = (await account.call(target, headers=tuple(headers)) if account is not None
                    else await phone.call(target, headers=tuple(headers)))
        except Exception:
            self._report(503, "Service Unavailable")
            raise
        self.new_call = call
        self._follow(call)
        return call

    async def _bye(self, victim: Call) -> Call:
        def ended(event: CallEnded) -> None:
            victim.bus.off(ended)
            status = event.status or 200
            self._report(status, reason_phrase(status))

        victim.bus.on(CallEnded)(ended)
        try:
            await victim.hangup()
        except InvalidStateError:
            victim.bus.off(ended)
            self._report(481, "Call/Transaction Does Not Exist")
            raise
        return victim

    def _send_out_of_dialog(self, method: str, uri: SipUri, account: Account | None) -> None:
        """MESSAGE or OPTIONS to the Refer-To target; its final status is the last report."""
        from voipkit.api import messaging
        from voipkit.api.errors import RequestFailed

        phone = self.phone
        target = str(_request_target(uri))
        headers = {name.lower(): unescape(value) for name, value in uri.headers.items()}

        async def send() -> None:
            try:
                if method == "MESSAGE":
                    message = await messaging.send_message(
                        phone, target, headers.get("body", "").encode(),
                        headers.get("content-type", "text/plain"), account=account)
                    response = await message.delivered()
                else:
                    response = await phone.send_options(target)
            except RequestFailed as exc:
                self._report(exc.status, exc.reason)
            except Exception as exc:  # resolution, transport: the request never got out
                logger.info("REFER %s: %s to %s failed: %s", self.id, method, target, exc)
                self._report(503, "Service Unavailable")
            else:
                self._report(response.status, response.reason)

        phone.spawn(send())

    def _follow(self, call: Call) -> None:
        def progress(event: CallProgress) -> None:
            self._report(event.status, event.reason, final=False)

        def answered(event: CallAnswered) -> None:
            self._report(event.response.status, event.response.reason)

        def failed(event: CallFailure) -> None:
            self._report(event.status, event.reason)

        def ended(event: CallEnded) -> None:
            self._report(487, "Request Terminated")

        call.bus.on(CallProgress)(progress)
        call.bus.on(CallAnswered)(answered)
        call.bus.on(CallFailure)(failed)
        call.bus.on(CallEnded)(ended)

    def _report(self, status: int, reason: str, *, final: bool = True) -> None:
        server = self._server
        if not server.reporting:
            return
        if not final and not 180 <= status < 200:
            return
        try:
            server.progress(status, reason, now=self.phone.now())
        except (LocalProtocolError, ValueError) as exc:
            logger.info("REFER %s: cannot report %s: %s", self.id, status, exc)
            return
        self.phone.pump()

    async def reject(self, status: int = 603, reason: str | None = None) -> None:
        """Refuse the REFER with ``status`` (rejectRefer; 603 Decline by default)."""
        try:
            self._server.reject(status, reason, now=self.phone.now())
        except LocalProtocolError as exc:
            raise InvalidStateError(f"cannot reject REFER {self.id}: {exc}") from exc
        self.phone.pump()


def _request_target(uri: SipUri) -> SipUri:
    """The Refer-To URI as a Request-URI: no headers and no ``method`` parameter
    (RFC 3261 §19.1.1 Table 1: method is "not allowed" in a Request-URI)."""
    bare = uri_without_headers(uri)
    if "method" in bare.params:
        bare = bare.replace(params={k: v for k, v in bare.params.items() if k != "method"})
    return bare


def _same_party(a: SipUri, b: SipUri) -> bool:
    return (a.user == b.user and a.host.lower() == b.host.lower()
            and (a.port is None or b.port is None or a.port == b.port))


def bye_target(phone: Phone, refer: IncomingRefer) -> Call | None:
    """The call a REFER with ``method=BYE`` asks us to end, or None.

    By the Replaces embedded in Refer-To (its tags in either order: it may name the
    dialog from either side), else the single connected call whose peer is the
    Refer-To URI. Never the call the REFER came in.
    """
    from voipkit.api.call import CallState

    calls = [c for c in phone.calls.values() if c is not refer.call
             and c.state is CallState.CONNECTED]
    if refer.replaces is not None:
        named = refer.replaces
        for call in calls:
            dialog_id = call.session.dialog_id
            if (dialog_id is not None and dialog_id.call_id == named.call_id
                    and {dialog_id.local_tag, dialog_id.remote_tag}
                    == {named.to_tag, named.from_tag}):
                return call
        return None
    uri = refer.refer_to.uri
    if not isinstance(uri, SipUri):
        return None
    peers = [c for c in calls if isinstance(c.remote.uri, SipUri)
             and _same_party(c.remote.uri, uri)]
    return peers[0] if len(peers) == 1 else None


def _on_refer_received(phone: Phone, event: rf.ReferReceived) -> None:
    server = phone.manager.usage(event.refer_id)
    if not isinstance(server, rf.ReferServer):
        return
    call = phone.call_by_id(event.session_id) if event.session_id is not None else None
    refer = IncomingRefer(phone, server, event, call)
    if refer.method == "BYE" and bye_target(phone, refer) is None:
        server.reject(403, "Refer-To method=BYE names no call here", now=phone.now())
        phone.pump()
        return
    registry = _Registry.of(phone)
    for refer_id in [i for i, r in registry.incoming.items()
                     if r._server.done or r._server.accepted]:
        del registry.incoming[refer_id]  # answered ones are no longer looked up
    registry.incoming[refer.id] = refer
    (call.bus if call is not None else phone.bus).emit(ReferReceived(refer))


def incoming_refer(phone: Phone, refer_id: int) -> IncomingRefer | None:
    """A REFER received and not yet accepted or rejected, by its id."""
    refer = _Registry.of(phone).incoming.get(refer_id)
    if refer is None:
        return None
    if refer._server.done or refer._server.accepted:
        _Registry.of(phone).incoming.pop(refer_id, None)
        return None
    return refer


# --- the target of an attended transfer -------------------------------------------------------


def take_over(phone: Phone, call: Call, replaced_id: int) -> None:
    """``call`` arrived with Replaces naming call ``replaced_id``: answer it and, once it is
    up, hang the replaced call up (RFC 3891 §3). Runs on the loop."""
    old = phone.call_by_id(replaced_id)
    if old is None:
        phone.spawn(call.reject(481, "Call/Transaction Does Not Exist"))
        return

    def connected(event: CallConnected) -> None:
        call.bus.off(connected)
        call.bus.emit(CallReplaced(call, old))
        if old.state.value != "ended":
            phone.spawn(old.hangup())

    call.bus.on(CallConnected)(connected)
    phone.spawn(call.answer())


# --- wiring ---------------------------------------------------------------------------------


def dispatch(phone: Phone, event: rf.ReferEvent) -> None:
    """Turn one REFER usage event into the public events (the phone's dispatcher calls it)."""
    if isinstance(event, rf.ReferReceived):
        _on_refer_received(phone, event)
    else:
        _on_client_event(phone, event)


def install(phone: Phone, manager: UsageManager) -> None:
    """Accept out-of-dialog REFERs on ``manager`` (Contact: where the REFER came in)."""

    def make(manager: UsageManager, event: RequestReceived, now: float) -> Usage | None:
        transport = event.transport if isinstance(event.transport, TransportKind) \
            else TransportKind.UDP
        return rf.ReferServer(manager, manager.new_usage_id(),
                              contact=phone.contact(transport))

    manager.on_new_request("REFER", make)


def attach(phone: Phone, session: InviteSession) -> None:
    """Let REFER and refer NOTIFYs in ``session``'s dialog reach the transfer machinery."""
    rf.ReferRouter.attach(phone.manager, session)


__all__ = [
    "CallReplaced",
    "IncomingRefer",
    "ReferAccepted",
    "ReferReceived",
    "ReferRejected",
    "Transfer",
    "TransferEvent",
    "TransferFailed",
    "TransferRinging",
    "TransferSucceeded",
    "TransferTrying",
    "attach",
    "bye_target",
    "dispatch",
    "incoming_refer",
    "install",
    "out_of_dialog_refer",
    "refer",
    "take_over",
]
