"""Instant messages: MESSAGE (RFC 3428) in a call or on their own, sent and received.

Knows: ``sip.usage.pager`` (ClientPagerMessage, ServerPagerMessage,
DialogMessages and their events), the Phone, Account and Call objects, and
which body types the phone takes (``supported_types``; RFC 3428 §7: a body
type the UAS does not understand gets 415 with an Accept header). Must not
know: the facade.

Sending returns an ``OutgoingMessage`` at once (its ``id`` is the manual's
messageId); ``MessageDelivered`` or ``MessageFailed`` follows on the call's
bus (in a call) or the phone's. A received MESSAGE is answered 200 and becomes
``MessageReceived`` (with ``call`` set inside a call), or 415 for a type the
phone does not take.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from voipkit.api.errors import ConfigurationError, InvalidStateError
from voipkit.api.events import PhoneEvent
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.message import NameAddr, Request, Response
from voipkit.sip.uri import SipUri, parse_uri
from voipkit.sip.usage import pager
from voipkit.sip.usage.invite import InviteSession
from voipkit.sip.usage.manager import UsageManager

if TYPE_CHECKING:
    from voipkit.api.account import Account
    from voipkit.api.call import Call
    from voipkit.api.phone import Phone

DEFAULT_TYPES = ("text/plain", "text/html", "application/octet-stream",
                 "application/vnd.3gpp.sms", "message/cpim", "application/im-iscomposing+xml")
"Body types a phone takes in a MESSAGE until ``add_supported_type`` adds more."


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageEvent(PhoneEvent):
    """Base of the messaging events."""

    message: OutgoingMessage | IncomingMessage


@dataclass(frozen=True, slots=True)
class MessageDelivered(MessageEvent):
    """A MESSAGE we sent got a 2xx (onSendMessageSuccess / onSendOutOfDialogMessageSuccess)."""

    response: Response


@dataclass(frozen=True, slots=True)
class MessageFailed(MessageEvent):
    """A MESSAGE we sent was not delivered (onSendMessageFailure / ...OutOfDialog...)."""

    status: int
    "The final status (408 when nothing answered)."
    reason: str
    response: Response | None


@dataclass(frozen=True, slots=True)
class MessageReceived(MessageEvent):
    """A MESSAGE arrived and was answered 200 (onRecvMessage / onRecvOutOfDialogMessage)."""


# --- messages ------------------------------------------------------------------------------


@dataclass(eq=False)
class OutgoingMessage:
    """A MESSAGE we sent."""

    id: int
    "The messageId (the pager usage's id)."
    call: Call | None
    "The call it was sent in (None: out of dialog)."
    sender: NameAddr
    recipient: NameAddr
    content_type: str
    body: bytes
    result: asyncio.Future[Response] = field(repr=False)
    "The 2xx; fails with ``RequestFailed`` when the MESSAGE was not delivered."

    async def delivered(self, timeout: float | None = None) -> Response:
        """Wait for the 2xx (raises ``RequestFailed`` when it was not delivered)."""
        return await asyncio.wait_for(asyncio.shield(self.result), timeout)


@dataclass(frozen=True, eq=False)
class IncomingMessage:
    """A MESSAGE we received."""

    call: Call | None
    "The call it came in (None: out of dialog)."
    request: Request
    sender: NameAddr
    "From."
    recipient: NameAddr
    "To."
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")


_REGISTRIES: weakref.WeakKeyDictionary[Phone, _Registry] = weakref.WeakKeyDictionary()


class _Registry:
    def __init__(self) -> None:
        self.sent: dict[int, OutgoingMessage] = {}
        self.types: list[str] = list(DEFAULT_TYPES)

    @classmethod
    def of(cls, phone: Phone) -> _Registry:
        registry = _REGISTRIES.get(phone)
        if registry is None:
            registry = _REGISTRIES[phone] = cls()
        return registry


def supported_types(phone: Phone) -> list[str]:
    """The MESSAGE body types ``phone`` takes (a copy)."""
    return list(_Registry.of(phone).types)


def add_supported_type(phone: Phone, content_type: str) -> None:
    """Take MESSAGE bodies of ``content_type`` too (addSupportedMimeType("MESSAGE", ...))."""
    kind, slash, sub = content_type.partition("/")
    if not slash or not kind.strip() or not sub.strip() or ";" in content_type:
        raise ConfigurationError(f"{content_type!r} is not a type/subtype")
    types = _Registry.of(phone).types
    if content_type.lower() not in (t.lower() for t in types):
        types.append(content_type)


def _content_type(content_type: str | None, body: bytes | str) -> tuple[bytes, str]:
    if isinstance(body, str):
        return body.encode("utf-8"), content_type or pager.TEXT_PLAIN
    if content_type is None:
        raise ConfigurationError("a bytes MESSAGE body needs a content type")
    if "/" not in content_type:
        raise ConfigurationError(f"content type {content_type!r} is not type/subtype")
    return body, content_type


async def send_message(phone: Phone, to: str, body: bytes | str,
                       content_type: str | None = None, *, account: Account | None = None,
                       sms: bool = False) -> OutgoingMessage:
    """Send a MESSAGE outside any call (sendOutOfDialogMessage).

    ``account`` sends it through its server with its identity and credentials
    (default: the phone's first account, else peer to peer); ``sms`` puts
    ``messagetype=SMS`` on the To header, as the manual's isSMS flag does.

    Raises:
        ConfigurationError: ``to`` is not usable, or a bytes body without content type.
    """
    data, ctype = _content_type(content_type, body)
    if account is None and phone.accounts:
        account = phone.accounts[0]
    domain = account.config.domain if account is not None else None
    uri = parse_uri(phone.normalize_uri(to, domain))
    if not isinstance(uri, SipUri):
        raise ConfigurationError(f"MESSAGE recipient {to!r} is not a SIP URI")
    if account is not None and (account.config.server or account.config.outbound_proxy):
        targets = await account.targets()
        route = account.route_set()
        sender = NameAddr(account.aor, account.config.display_name)
        credentials = account.credentials
    else:
        targets = await phone.resolve(uri)
        route = ()
        sender = (NameAddr(account.aor, account.config.display_name) if account is not None
                  else NameAddr(SipUri.parse(f"sip:voipkit@{phone.rtp_ip}")))
        credentials = account.credentials if account is not None else None
    recipient = NameAddr(uri)
    if sms:
        recipient.params["messagetype"] = "SMS"
    usage = pager.ClientPagerMessage.send(
        phone.manager, request_uri=uri, from_=sender, to=recipient, targets=targets,
        body=data, content_type=ctype, credentials=credentials, route=route,
        now=phone.now())
    message = OutgoingMessage(usage.id, None, sender, recipient, ctype, data,
                              phone.loop.create_future())
    _Registry.of(phone).sent[usage.id] = message
    phone.pump()
    return message


async def send_in_call(call: Call, body: bytes | str,
                       content_type: str | None = None) -> OutgoingMessage:
    """Send a MESSAGE inside ``call``'s dialog (sendMessage).

    Raises:
        InvalidStateError: the call has no confirmed dialog.
    """
    from voipkit.api.call import CallState

    data, ctype = _content_type(content_type, body)
    if call.state is not CallState.CONNECTED:
        raise InvalidStateError(f"cannot send a MESSAGE in call {call.id}: it is "
                                f"{call.state.value}")
    phone = call.phone
    session = call.session
    dialog = phone.core.dialog(session.dialog_id) if session.dialog_id is not None else None
    if dialog is None:
        raise InvalidStateError(f"call {call.id} has no dialog")
    try:
        # the call's account credentials answer a proxy's 401/407 (RFC 3261 §22.2)
        usage = pager.ClientPagerMessage.send(phone.manager, dialog=dialog,
                                              targets=session.targets, body=data,
                                              content_type=ctype,
                                              credentials=session.credentials,
                                              now=phone.now())
    except LocalProtocolError as exc:
        raise InvalidStateError(f"cannot send a MESSAGE in call {call.id}: {exc}") from exc
    message = OutgoingMessage(usage.id, call, dialog.local, dialog.remote, ctype, data,
                              phone.loop.create_future())
    _Registry.of(phone).sent[usage.id] = message
    phone.pump()
    return message


# --- events from the stack -----------------------------------------------------------------


def dispatch(phone: Phone, event: pager.MessageDelivered | pager.MessageFailed
             | pager.MessageReceived) -> None:
    """Turn one pager usage event into the public events (the phone's dispatcher calls it)."""
    from voipkit.api.errors import RequestFailed

    if isinstance(event, pager.MessageReceived):
        _on_received(phone, event)
        return
    message = _Registry.of(phone).sent.pop(event.usage_id, None)
    if message is None:
        return
    bus = message.call.bus if message.call is not None else phone.bus
    if isinstance(event, pager.MessageDelivered):
        if not message.result.done():
            message.result.set_result(event.response)
        bus.emit(MessageDelivered(message, event.response))
        return
    status = event.status if event.status is not None else 408
    if not message.result.done():
        message.result.set_exception(RequestFailed(
            f"MESSAGE to {message.recipient.uri} failed: {status} {event.reason}",
            status=status, reason=event.reason, response=event.response))
        message.result.exception()  # retrieved: nobody may be awaiting it
    bus.emit(MessageFailed(message, status, event.reason, event.response))


def _on_received(phone: Phone, event: pager.MessageReceived) -> None:
    server = phone.manager.usage(event.usage_id)
    if not isinstance(server, pager.ServerPagerMessage):
        return
    now = phone.now()
    types = _Registry.of(phone).types
    ctype = event.content_type or ""
    bare = ctype.split(";")[0].strip().lower()
    if event.body and bare not in (t.lower() for t in types):
        server.reject(415, accept=types, now=now)  # RFC 3428 §7, RFC 3261 §21.4.13
        return
    server.accept(now=now)
    request = event.request
    call = None
    if event.in_dialog:
        call = next((c for c in phone.calls.values() if c.call_id == request.call_id), None)
    message = IncomingMessage(call, request, request.from_, request.to, ctype, event.body)
    (call.bus if call is not None else phone.bus).emit(MessageReceived(message))


def install(phone: Phone, manager: UsageManager) -> None:
    """Take out-of-dialog MESSAGEs on ``manager``."""
    manager.on_new_request("MESSAGE", pager.pager_factory())


def attach(phone: Phone, session: InviteSession) -> None:
    """Let MESSAGEs inside ``session``'s dialog reach the phone."""
    pager.DialogMessages.attach(phone.manager, session)


__all__ = [
    "DEFAULT_TYPES",
    "IncomingMessage",
    "MessageDelivered",
    "MessageEvent",
    "MessageFailed",
    "MessageReceived",
    "OutgoingMessage",
    "add_supported_type",
    "attach",
    "dispatch",
    "install",
    "send_in_call",
    "send_message",
    "supported_types",
]
