"""Dialogs (RFC 3261 §12): identity, route set, sequence numbers, remote target.

Knows: how a dialog is created on each side (§12.1.1 UAS, §12.1.2 UAC), how
an in-dialog request is built with loose or strict routing (§12.2.1.1), how a
received in-dialog request is checked (§12.2.2: a lower CSeq gets a 500), how
target refresh requests and their 2xx responses move the remote target, and
that one INVITE can fork into several early dialogs with different To tags
(``DialogSet``, §12.1.2 and §13.2.2.4). Must not know: transactions, sockets,
clocks, SDP or what the dialog's usages (INVITE session, subscription) do.
"""

from __future__ import annotations

from enum import Enum

from voipkit.sip.errors import LocalProtocolError, RemoteProtocolError
from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.uri import SipUri, Uri

#: Requests whose Contact replaces the remote target (RFC 3261 §12.2, RFC 3311,
#: RFC 6665 §4.3, RFC 3515).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})

#: URI parameters RFC 3261 §19.1.1 (table 1) does not allow in a Request-URI.
_NOT_IN_REQUEST_URI = ("method", "ttl", "maddr")


class DialogId:
    """RFC 3261 §12: Call-ID, local tag and remote tag identify a dialog.

    Immutable and hashable; a plain class so that mypyc compiles its ``__eq__`` and
    ``__hash__`` (a dict key on every in-dialog message; see ``TransactionKey``).
    """

    __slots__ = ("_call_id", "_hash", "_local_tag", "_remote_tag")

    _call_id: str
    _local_tag: str
    _remote_tag: str
    _hash: int

    def __init__(self, call_id: str, local_tag: str, remote_tag: str) -> None:
        self._call_id = call_id
        self._local_tag = local_tag
        self._remote_tag = remote_tag
        self._hash = hash((call_id, local_tag, remote_tag))

    @property
    def call_id(self) -> str:
        "The Call-ID shared by every message of the dialog."
        return self._call_id

    @property
    def local_tag(self) -> str:
        "Our tag: From tag as UAC, the To tag we chose as UAS."
        return self._local_tag

    @property
    def remote_tag(self) -> str:
        "The peer's tag."
        return self._remote_tag

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DialogId):
            return NotImplemented
        return (self._hash == other._hash and self._call_id == other._call_id
                and self._local_tag == other._local_tag
                and self._remote_tag == other._remote_tag)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return (f"DialogId(call_id={self._call_id!r}, local_tag={self._local_tag!r}, "
                f"remote_tag={self._remote_tag!r})")

    @classmethod
    def of_received_request(cls, request: Request) -> DialogId | None:
        """The dialog a received request claims to be in (None without a To tag)."""
        local, remote = request.to.tag, request.from_.tag
        if local is None:
            return None
        return cls(request.call_id, local, remote or "")

    @classmethod
    def of_received_response(cls, response: Response) -> DialogId | None:
        """The dialog a response to our request belongs to (None without a To tag)."""
        local, remote = response.from_.tag, response.to.tag
        if remote is None:
            return None
        return cls(response.call_id, local or "", remote)

    def __str__(self) -> str:
        return f"{self.call_id};local={self.local_tag};remote={self.remote_tag}"


class DialogState(Enum):
    """RFC 3261 §12: a dialog is early until a 2xx confirms it."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def _contact_uri(message: Request | Response) -> Uri | None:
    return message.contact[0].uri if message.contact else None


class Dialog:
    """The state of one dialog, from our point of view.

    Create one with ``Dialog.as_uac`` (from the request we sent and the 1xx/2xx
    with a To tag that came back) or ``Dialog.as_uas`` (from the request we
    received and the 1xx/2xx with our To tag that we are sending).
    """

    def __init__(
        self,
        *,
        id: DialogId,
        state: DialogState,
        local: NameAddr,
        remote: NameAddr,
        local_seq: int | None,
        remote_seq: int | None,
        remote_target: Uri,
        route_set: list[NameAddr],
        local_target: Uri | None,
        secure: bool,
        is_uac: bool,
    ) -> None:
        self.id = id
        self.state = state
        self.local = local
        self.remote = remote
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_target = local_target
        self.secure = secure
        self.is_uac = is_uac

    def __repr__(self) -> str:
        return f"Dialog({self.id}, {self.state.name})"

    # --- creation ----------------------------------------------------------------------

    @classmethod
    def as_uac(cls, request: Request, response: Response) -> Dialog:
        """RFC 3261 §12.1.2: the dialog a 1xx (with To tag) or 2xx creates at the UAC.

        "The route set MUST be set to the list of URIs in the Record-Route header
        field from the response, taken in reverse order ... The remote target MUST
        be set to the URI from the Contact header field of the response."

        Raises:
            RemoteProtocolError: when the response has no To tag.
        """
        dialog_id = DialogId.of_received_response(response)
        if dialog_id is None:
            raise RemoteProtocolError("a dialog-creating response must carry a To tag")
        early = response.status < 200
        return cls(
            id=dialog_id,
            state=DialogState.EARLY if early else DialogState.CONFIRMED,
            local=request.from_,
            remote=response.to,
            local_seq=request.cseq.seq,
            remote_seq=None,
            remote_target=_contact_uri(response) or request.uri,
            route_set=list(reversed(response.record_route)),
            local_target=_contact_uri(request),
            secure=isinstance(request.uri, SipUri) and request.uri.scheme == "sips",
            is_uac=True,
        )

    @classmethod
    def as_uas(cls, request: Request, response: Response) -> Dialog:
        """RFC 3261 §12.1.1: the dialog our 1xx/2xx (with our To tag) creates at the UAS.

        "The route set MUST be set to the list of URIs in the Record-Route header
        field from the request, taken in order ... The remote target MUST be set
        to the URI from the Contact header field of the request."

        Raises:
            LocalProtocolError: when our response has no To tag.
        """
        local_tag = response.to.tag
        if local_tag is None:
            raise LocalProtocolError("a dialog-creating response needs a To tag")
        dialog_id = DialogId(request.call_id, local_tag, request.from_.tag or "")
        return cls(
            id=dialog_id,
            state=DialogState.EARLY if response.status < 200 else DialogState.CONFIRMED,
            local=response.to,
            remote=request.from_,
            local_seq=None,
            remote_seq=request.cseq.seq,
            remote_target=_contact_uri(request) or request.from_.uri,
            route_set=list(request.record_route),
            local_target=_contact_uri(response),
            secure=isinstance(request.uri, SipUri) and request.uri.scheme == "sips",
            is_uac=False,
        )

    # --- UAC side: sending -------------------------------------------------------------

    def next_hop(self) -> Uri:
        """The URI to resolve (RFC 3263) for the next request: first route, else target."""
        return self.route_set[0].uri if self.route_set else self.remote_target

    def create_request(
        self, method: str, *, cseq: int | None = None, cseq_start: int = 1
    ) -> Request:
        """Build an in-dialog request per RFC 3261 §12.2.1.1 (without Via: the core adds it).

        Args:
            method: the request method.
            cseq: the CSeq number to use; required for ACK (the INVITE's number,
                §13.2.2.4), otherwise the local sequence number is incremented.
            cseq_start: the first number when the local sequence is empty (UAS side).

        Raises:
            LocalProtocolError: for ACK without ``cseq``, or a terminated dialog.
        """
        if self.state is DialogState.TERMINATED:
            raise LocalProtocolError(f"dialog {self.id} is terminated; cannot send {method}")
        if method == "ACK" or method == "CANCEL":
            if cseq is None:
                raise LocalProtocolError(f"{method} reuses the INVITE's CSeq number; pass cseq")
            number = cseq
        elif cseq is not None:
            number = cseq
            self.local_seq = cseq
        else:
            number = cseq_start if self.local_seq is None else self.local_seq + 1
            self.local_seq = number
        uri, route = self._request_uri_and_route()
        contact = [NameAddr(self.local_target)] if self.local_target is not None else []
        return Request(
            method,
            uri,
            from_=self.local,
            to=self.remote,
            call_id=self.id.call_id,
            cseq=CSeq(number, method),
            contact=contact if method != "ACK" and method != "BYE" else [],
            route=route,
        )

    def _request_uri_and_route(self) -> tuple[Uri, list[NameAddr]]:
        # RFC 3261 §12.2.1.1. Empty route set: Request-URI is the remote target.
        if not self.route_set:
            return self.remote_target, []
        first = self.route_set[0].uri
        if isinstance(first, SipUri) and first.lr:
            # loose routing: Request-URI is the remote target, Route is the route set
            return self.remote_target, list(self.route_set)
        # strict routing: "the Request-URI MUST be the first URI of the route set,
        # with any parameters that are not allowed in a Request-URI stripped ...
        # The UAC MUST then place the remote target URI into the Route header
        # field as the last value."
        if isinstance(first, SipUri):
            params = {k: v for k, v in first.params.items() if k not in _NOT_IN_REQUEST_URI}
            first = first.replace(params=params, headers={})
        return first, [*self.route_set[1:], NameAddr(self.remote_target)]

    def on_response(self, request: Request, response: Response) -> None:
        """Update the dialog from a response to a request we sent in it.

        RFC 3261 §12.2.1.2: a 2xx to a target refresh request replaces the remote
        target. §13.2.2.4: the 2xx that confirms an early dialog recomputes its
        route set from the 2xx.
        """
        if response.status < 200 or response.status >= 300:
            if request.method == "INVITE" and response.status >= 300:
                if self.state is DialogState.EARLY:
                    self.state = DialogState.TERMINATED
            elif (
                response.status > 100
                and request.method == "INVITE"
                and (target := _contact_uri(response)) is not None
            ):
                self.remote_target = target
            return
        if self.state is DialogState.EARLY and request.method == "INVITE":
            self.state = DialogState.CONFIRMED
            self.route_set = list(reversed(response.record_route))
        if request.method in TARGET_REFRESH_METHODS and (target := _contact_uri(response)):
            self.remote_target = target

    # --- UAS side: receiving ------------------------------------------------------------

    def on_request(self, request: Request) -> None:
        """Check and absorb a request received in this dialog (RFC 3261 §12.2.2).

        "If the remote sequence number is empty, it MUST be set to the value of
        the sequence number in the CSeq header field value in the request. If
        the remote sequence number was not empty, but the sequence number of the
        request is lower than the remote sequence number, the request is out of
        order and MUST be rejected with a 500 (Server Internal Error) response."
        A target refresh request with a Contact replaces the remote target.

        Raises:
            RemoteProtocolError: 500 for an out-of-order CSeq.
        """
        seq = request.cseq.seq
        if request.method not in ("ACK", "CANCEL"):
            if self.remote_seq is not None and seq < self.remote_seq:
                raise RemoteProtocolError(
                    f"CSeq {seq} is lower than the dialog's remote sequence number"
                    f" {self.remote_seq}",
                    status_hint=500,
                )
            self.remote_seq = seq
        if request.method in TARGET_REFRESH_METHODS and (target := _contact_uri(request)):
            self.remote_target = target

    def terminate(self) -> None:
        """Mark the dialog ended (BYE sent or received, or its INVITE failed)."""
        self.state = DialogState.TERMINATED


class DialogSet:
    """The dialogs one INVITE created: one per To tag, since it may fork (§12.1.2).

    Feed it every response to the INVITE with ``on_response``; it creates early
    dialogs from 1xx with a To tag, confirms or creates them on 2xx, and
    terminates the early ones on a non-2xx final response.
    """

    def __init__(self, request: Request) -> None:
        self.request = request
        self.call_id = request.call_id
        self.local_tag = request.from_.tag or ""
        self.dialogs: dict[str, Dialog] = {}

    def on_response(self, response: Response) -> Dialog | None:
        """Apply a response to the INVITE; returns the dialog it concerns, if any.

        A non-2xx final ends every early dialog of the set and returns None.
        """
        status = response.status
        remote_tag = response.to.tag
        if status >= 300:
            for dialog in self.dialogs.values():
                if dialog.state is DialogState.EARLY:
                    dialog.terminate()
            return None
        if status <= 100 or remote_tag is None:
            return None
        existing = self.dialogs.get(remote_tag)
        if existing is None:
            created = Dialog.as_uac(self.request, response)
            self.dialogs[remote_tag] = created
            return created
        existing.on_response(self.request, response)
        return existing

    def early(self) -> list[Dialog]:
        """Dialogs still early (forks that have not answered)."""
        return [d for d in self.dialogs.values() if d.state is DialogState.EARLY]

    def confirmed(self) -> list[Dialog]:
        """Dialogs a 2xx confirmed (more than one when a fork answered twice)."""
        return [d for d in self.dialogs.values() if d.state is DialogState.CONFIRMED]
