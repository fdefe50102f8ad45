"""Pager-mode instant messages (RFC 3428): one MESSAGE out, or one MESSAGE in.

Knows: RFC 3428 §4-§7 (a MESSAGE outside a dialog carries its own Call-ID and
From tag and never creates a dialog; inside a dialog it is built by the dialog
like any in-dialog request, RFC 3261 §12.2.1.1; any 2xx means delivered, a
final non-2xx means not delivered), §22 digest answers to 401/407 through
``auth.DigestClient`` (shared with the subscription and publication usages as
``ChallengeAnswerer``), and that the receiver answers 200, or 415 with Accept
for a body type it cannot show (RFC 3261 §21.4.13); ``DialogMessages`` takes the
MESSAGEs inside an INVITE session's dialog. Must not know: sockets,
DNS, clocks or what the body means — the ``api`` layer resolves the peer into
``targets``, passes ``now`` and shows text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from voipkit.base.ids import IdSource
from voipkit.sip.addressing import Address, Destination, TransportKind
from voipkit.sip.auth import AuthError, Credentials, DigestClient, challenge_header_name
from voipkit.sip.dialog import Dialog
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import (
    CoreEvent,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.transaction.keys import TransactionKey
from voipkit.sip.uri import Uri, parse_uri
from voipkit.sip.usage.base import Usage, UsageEvent, UsageHost
from voipkit.sip.usage.invite import InviteSession
from voipkit.sip.usage.manager import UsageFactory, UsageManager

__all__ = [
    "MAX_CHALLENGES",
    "TEXT_PLAIN",
    "ChallengeAnswerer",
    "ClientPagerMessage",
    "DialogMessages",
    "MessageDelivered",
    "MessageFailed",
    "MessageReceived",
    "ServerPagerMessage",
    "pager_factory",
]

#: Content type of a ``str`` body.
TEXT_PLAIN: Final = "text/plain;charset=UTF-8"
#: Consecutive 401/407 answers for one request before giving up (as ClientRegistration).
MAX_CHALLENGES: Final = 5


class ChallengeAnswerer:
    """Digest answers for one usage's requests (RFC 3261 §22.2), kept across resends.

    ``answer`` gives the headers for a resend after 401/407 (answering a proxy
    and a server that both challenge), ``preemptive`` the headers for a later
    request to the same realms (nonce count + 1), ``accepted`` confirms the
    credentials worked.
    """

    def __init__(self, credentials: Credentials | None, ids: IdSource) -> None:
        self._digest = (DigestClient(credentials, cnonce=ids.token)
                        if credentials is not None else None)
        self._names: list[str] = []
        self._challenges = 0

    def answer(self, response: Response, *, method: str, uri: str,
               body: bytes = b"") -> list[tuple[str, str]] | None:
        """Authorization headers to resend the request refused by ``response``, or None.

        None means give up: no credentials, too many challenges in a row, an
        unanswerable challenge, or these credentials were already refused.
        """
        if self._digest is None or self._challenges >= MAX_CHALLENGES:
            return None
        values = response.headers.getall(challenge_header_name(response.status))
        try:
            answer = self._digest.answer(response.status, values, method=method, uri=uri,
                                         body=body)
        except AuthError:
            return None
        if answer is None:
            return None
        self._challenges += 1
        name = answer[0]
        headers = [answer]
        if any(n != name for n in self._names):
            headers += [h for h in self._digest.reauthorize(method=method, uri=uri, body=body)
                        if h[0] != name]
        if name not in self._names:
            self._names.append(name)
        return headers

    def preemptive(self, *, method: str, uri: str, body: bytes = b"") -> list[tuple[str, str]]:
        """Headers for a new request to realms that challenged before (may be empty)."""
        if self._digest is None or not self._names:
            return []
        return self._digest.reauthorize(method=method, uri=uri, body=body)

    def accepted(self) -> None:
        """A non-401/407 final response arrived: the credentials (if sent) were good."""
        self._challenges = 0
        if self._digest is not None:
            self._digest.accepted()


# --- events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageDelivered(UsageEvent):
    """A MESSAGE we sent got a 2xx (the facade's onSendMessageSuccess)."""

    usage_id: int
    "The ClientPagerMessage's id (the facade's messageId)."

    status: int
    "The 2xx status (200 or 202)."

    response: Response
    "The 2xx itself."


@dataclass(frozen=True, slots=True)
class MessageFailed(UsageEvent):
    """A MESSAGE we sent was not delivered (the facade's onSendMessageFailure)."""

    usage_id: int
    "The ClientPagerMessage's id."

    status: int | None
    "The final non-2xx status, or None when no response arrived (Timer F, transport)."

    reason: str
    "Its reason phrase, or a short description of the local failure."

    response: Response | None
    "The final response, when one arrived."


@dataclass(frozen=True, slots=True)
class MessageReceived(UsageEvent):
    """A MESSAGE arrived; answer it with ``ServerPagerMessage.respond``."""

    usage_id: int
    "The ServerPagerMessage's id."

    request: Request
    "The MESSAGE (From is the sender, To the addressee)."

    body: bytes
    "The body as received (may be empty)."

    content_type: str | None
    "Its Content-Type, or None without one."

    source: Address
    "Where it came from."

    transport: TransportKind
    "Over which transport."

    in_dialog: bool
    "True when it came inside an existing dialog."


# --- client --------------------------------------------------------------------------


class ClientPagerMessage(Usage):
    """One MESSAGE sent and its delivery result (RFC 3428 §4).

    Create and send it with ``ClientPagerMessage.send``; the result is one
    ``MessageDelivered`` or ``MessageFailed``, after which the usage is
    finished. 401/407 are answered with ``credentials`` (a new CSeq each time).
    """

    def __init__(self, host: UsageHost, usage_id: int, *, request_uri: Uri, from_: NameAddr,
                 to: NameAddr, targets: Sequence[Destination], body: bytes,
                 content_type: str, credentials: Credentials | None = None,
                 route: Sequence[NameAddr] = (),
                 extra_headers: Sequence[tuple[str, str]] = (),
                 dialog: Dialog | None = None) -> None:
        super().__init__(host, usage_id)
        if not targets:
            raise LocalProtocolError("a MESSAGE needs at least one target")
        self.targets = tuple(targets)
        self.dialog = dialog
        self._uri = request_uri
        self._from = from_.copy()
        if dialog is None and self._from.tag is None:
            self._from.params["tag"] = host.ids.tag()
        self._to = to.copy()
        self._route = [r.copy() for r in route]
        self._body = body
        self._content_type = content_type
        self._extra = tuple(extra_headers)
        self._call_id = host.ids.call_id()
        self._cseq = host.ids.cseq_start() - 1
        self._auth = ChallengeAnswerer(credentials, host.ids)
        self._pending: TransactionKey | None = None
        self.result: MessageDelivered | MessageFailed | None = None
        "The outcome once known."

    @classmethod
    def send(cls, manager: UsageManager, *, request_uri: str | Uri | None = None,
             from_: NameAddr | None = None, to: NameAddr | None = None,
             targets: Sequence[Destination], body: bytes | str,
             content_type: str | None = None, credentials: Credentials | None = None,
             route: Sequence[NameAddr] = (), extra_headers: Sequence[tuple[str, str]] = (),
             dialog: Dialog | None = None, now: float) -> ClientPagerMessage:
        """Send one MESSAGE and return its usage. Queues output.

        Args:
            manager: the host.
            request_uri: the addressee (out of dialog; defaults to ``to``'s URI).
            from_: our identity (out of dialog; a From tag is added).
            to: the addressee's name-addr (out of dialog).
            targets: resolved next hops, tried in order.
            body: ``bytes`` sent as they are, or ``str`` sent as UTF-8.
            content_type: the body's type; ``text/plain;charset=UTF-8`` for a ``str``
                body when omitted. Required for a ``bytes`` body.
            credentials: digest credentials for 401/407, or None.
            route: pre-loaded Route set (out of dialog).
            extra_headers: added to the request.
            dialog: send inside this dialog instead (From, To, Call-ID, CSeq and
                Route come from it); ``request_uri``, ``from_``, ``to`` and
                ``route`` must then be omitted.
            now: the current time.

        Raises:
            LocalProtocolError: missing addressing, a bytes body without content
                type, or a terminated dialog.
        """
        if isinstance(body, str):
            data, ctype = body.encode("utf-8"), content_type or TEXT_PLAIN
        else:
            if content_type is None:
                raise LocalProtocolError("a bytes MESSAGE body needs a content type")
            data, ctype = body, content_type
        if dialog is not None:
            if request_uri is not None or from_ is not None or to is not None or route:
                raise LocalProtocolError("an in-dialog MESSAGE takes its addressing from the"
                                         " dialog")
            uri: Uri = dialog.remote_target
            sender, addressee = dialog.local, dialog.remote
        else:
            if from_ is None or to is None:
                raise LocalProtocolError("an out-of-dialog MESSAGE needs from_ and to")
            if request_uri is None:
                uri = to.uri
            elif isinstance(request_uri, str):
                uri = parse_uri(request_uri)
            else:
                uri = request_uri
            sender, addressee = from_, to
        usage = cls(manager, manager.new_usage_id(), request_uri=uri, from_=sender,
                    to=addressee, targets=targets, body=data, content_type=ctype,
                    credentials=credentials, route=route, extra_headers=extra_headers,
                    dialog=dialog)
        manager.add(usage)
        usage._send([], now=now)
        return usage

    def _send(self, auth: list[tuple[str, str]], *, now: float) -> None:
        if self.dialog is not None:
            request = self.dialog.create_request("MESSAGE", cseq_start=self.host.ids.cseq_start())
            request.contact = []  # a MESSAGE never refreshes the dialog's target
        else:
            self._cseq += 1
            request = Request("MESSAGE", self._uri, from_=self._from.copy(), to=self._to.copy(),
                              call_id=self._call_id, cseq=CSeq(self._cseq, "MESSAGE"),
                              route=[r.copy() for r in self._route])
        request.body, request.content_type = self._body, self._content_type
        for name, value in (*self._extra, *auth):
            request.headers.add(name, value)
        self._pending = self.host.send_request_for(self, request, self.targets, now=now)

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if not isinstance(event, ResponseReceived | TransactionTimedOut | TransportFailed):
            super().on_event(event, now=now)
            return
        if event.transaction != self._pending or self.result is not None:
            return
        if isinstance(event, ResponseReceived):
            response = event.response
            if response.status < 200:
                return
            if response.status in (401, 407):
                auth = self._auth.answer(response, method="MESSAGE", uri=str(event.request.uri),
                                         body=self._body)
                if auth is not None:
                    self._send(auth, now=now)
                    return
            else:
                self._auth.accepted()
            if response.status < 300:
                self._finish(MessageDelivered(self.id, response.status, response))
            else:
                self._finish(MessageFailed(self.id, response.status, response.reason, response))
            return
        reason = ("no response (timeout)" if isinstance(event, TransactionTimedOut)
                  else "transport failure")
        self._finish(MessageFailed(self.id, None, reason, None))

    def _finish(self, result: MessageDelivered | MessageFailed) -> None:
        self.result = result
        self._pending = None
        self.host.emit(result)
        self.host.finished(self)


# --- server --------------------------------------------------------------------------


class ServerPagerMessage(Usage):
    """One received MESSAGE, waiting for the application's answer.

    Made by ``pager_factory`` for out-of-dialog MESSAGEs, or by ``adopt`` for
    an in-dialog MESSAGE the application got as a plain ``RequestReceived``.
    It emits ``MessageReceived``; ``respond`` (or ``accept``/``reject``) sends
    the final response and finishes the usage.
    """

    def __init__(self, host: UsageHost, usage_id: int) -> None:
        super().__init__(host, usage_id)
        self.request: Request | None = None
        self.answered: int | None = None
        "The final status sent, once answered."

    @classmethod
    def adopt(cls, manager: UsageManager, event: RequestReceived, *,
              now: float) -> ServerPagerMessage:
        """Take over a MESSAGE the manager returned as a plain event (e.g. in a dialog).

        Raises:
            LocalProtocolError: when ``event`` is not a MESSAGE.
        """
        if event.request.method != "MESSAGE":
            raise LocalProtocolError(f"cannot adopt a {event.request.method} as a MESSAGE")
        usage = cls(manager, manager.new_usage_id())
        manager.add(usage)
        manager.bind_transaction(usage, event.transaction)
        usage.on_event(event, now=now)
        return usage

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if isinstance(event, RequestReceived) and event.request.method == "MESSAGE":
            if self.request is not None:
                return
            request = self.request = event.request
            self.host.emit(MessageReceived(self.id, request, request.body, request.content_type,
                                           event.source, event.transport,
                                           event.dialog is not None))
            return
        if isinstance(event, TransactionTimedOut | TransportFailed):
            self.host.finished(self)  # our answer could not be delivered; nothing to do
            return
        super().on_event(event, now=now)

    def respond(self, status: int, reason: str | None = None, *,
                headers: Sequence[tuple[str, str]] = (), now: float) -> None:
        """Send the final response (2xx accepts; 415 with ``accept`` for bad body types).

        Raises:
            LocalProtocolError: already answered, or ``status`` is not final.
        """
        if self.request is None or self.answered is not None:
            raise LocalProtocolError("this MESSAGE was already answered")
        if not 200 <= status <= 699:
            raise LocalProtocolError(f"a MESSAGE needs a final answer, not {status}")
        response = self.host.core.create_response(self.request, status, reason)
        for name, value in headers:
            response.headers.add(name, value)
        self.answered = status
        self.host.send_response_for(self, response, now=now)
        self.host.finished(self)

    def accept(self, *, now: float) -> None:
        """Answer 200 OK."""
        self.respond(200, now=now)

    def reject(self, status: int = 415, *, accept: Sequence[str] = (), now: float) -> None:
        """Answer ``status``; a 415 lists the types we take in Accept (RFC 3261 §21.4.13)."""
        headers = [("Accept", ", ".join(accept))] if accept else []
        self.respond(status, headers=headers, now=now)


class DialogMessages:
    """An ``InviteSession``'s ``DialogExtension`` for MESSAGE (RFC 3428 §4: a MESSAGE
    may be sent inside a dialog): each becomes a ``ServerPagerMessage``, whose
    ``MessageReceived`` has ``in_dialog`` True; the session's Call-ID names the call."""

    def __init__(self, manager: UsageManager) -> None:
        self.manager = manager

    @classmethod
    def attach(cls, manager: UsageManager, session: InviteSession) -> DialogMessages:
        """The session's extension, made and added on first use."""
        for extension in session.extensions:
            if isinstance(extension, DialogMessages):
                return extension
        messages = cls(manager)
        session.add_extension(messages)
        return messages

    def on_request(self, session: InviteSession, event: RequestReceived, *,
                   now: float) -> bool:
        if event.request.method != "MESSAGE":
            return False
        ServerPagerMessage.adopt(self.manager, event, now=now)
        return True


def pager_factory() -> UsageFactory:
    """The ``UsageFactory`` for new MESSAGEs: ``on_new_request("MESSAGE", pager_factory())``."""

    def make(manager: UsageManager, event: RequestReceived, now: float) -> Usage | None:
        return ServerPagerMessage(manager, manager.new_usage_id())

    return make
