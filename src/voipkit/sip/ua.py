"""UserAgentCore: everything SIP below the usages, nothing I/O.

Knows: the three inputs (bytes from the network with ``receive``, requests and
responses from the application with ``send_request``/``send_response``/``cancel``,
and time with ``handle_timer``) and the two outputs (``datagrams_to_send`` and
``next_event``), with one ``get_timer`` deadline for the whole core. Between
them it parses (RFC 3261 §7), answers what cannot be handed up (400/416/420/505
for malformed requests, 405, 481, 500, CANCEL, automatic OPTIONS), stamps Via
``received``/``rport`` (§18.2.1, RFC 3581), runs the transaction layer (§17),
keeps dialogs (§12) and retransmits 2xx responses to INVITE until the ACK
(§13.3.1.4). Must not know: sockets, DNS, clocks, threads or SDP — the ``aio``
layer resolves names into ordered ``Destination`` lists, and tells the core the
addresses it listens on with ``add_local_address``.

After calling any input method, drain ``datagrams_to_send()`` and
``next_event()``, then ask ``get_timer()`` when to call ``handle_timer`` next.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter, deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from voipkit.base.ids import IdSource
from voipkit.sip.addressing import Address, Destination, Outgoing, TransportKind, strip_brackets
from voipkit.sip.dialog import Dialog, DialogId, DialogSet, DialogState
from voipkit.sip.errors import (
    BadExtensionError,
    LocalProtocolError,
    ParseError,
    RemoteProtocolError,
)
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
from voipkit.sip.message import CSeq, NameAddr, Request, Response, Via, parse_message
from voipkit.sip.salvage import build_response, salvage
from voipkit.sip.timers import TimerConfig, TimerHeap
from voipkit.sip.transaction.client import ClientTransaction, Outcome, Verdict
from voipkit.sip.transaction.fsm import State
from voipkit.sip.transaction.keys import Role, TransactionKey, TransactionTimer
from voipkit.sip.transaction.layer import ClientAttempt, TransactionLayer
from voipkit.sip.transaction.server import ServerTransaction
from voipkit.sip.validate import validate_request

logger = logging.getLogger(__name__)

DEFAULT_ALLOW = (
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE", "PRACK",
    "REFER", "SUBSCRIBE", "NOTIFY", "MESSAGE", "PUBLISH",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreConfig:
    """How a UserAgentCore behaves. Frozen; build a new one to change it."""

    timers: TimerConfig = field(default_factory=TimerConfig)
    "T1/T2/T4 and Timer D; shrink t1 to make failures fast in tests."

    user_agent: str = "voipkit/0.1"
    "User-Agent header added to requests we send (empty: none)."

    allow: tuple[str, ...] = DEFAULT_ALLOW
    "Methods we accept; others get 405 (or 501) with an Allow header (RFC 3261 §8.2.1)."

    supported: frozenset[str] = frozenset()
    "Option tags we support; a Require outside this set gets 420 (RFC 3261 §8.2.2.3)."

    accept: tuple[str, ...] = ("application/sdp",)
    "Body types advertised in the Accept header of automatic OPTIONS answers."

    auto_options: bool = True
    "Answer out-of-dialog OPTIONS with 200 + Allow/Accept/Supported (RFC 3261 §11.2)."

    auto_trying: bool = True
    "Send 100 Trying for every new INVITE (RFC 3261 §17.2.1)."

    trying_delay: float = 0.0
    """With ``auto_trying``: seconds to hold the 100 back; 0 sends it at once.

    RFC 3261 §17.2.1 asks for the 100 "unless it knows that the TU will generate
    a provisional or final response within 200 ms". With a delay, the 100 goes
    out only if the TU has not answered by then (or the INVITE is
    retransmitted first); a UAS that answers or rings at once saves a message
    per call. Keep it at or under 0.2.
    """

    max_datagram_size: int = 65535
    "Larger inputs are dropped and counted (``dropped_oversize``)."

    rport: bool = True
    "Add an empty ``rport`` to the Via of requests we send (RFC 3581; enableRport)."


class _AckWait:
    """Heap key: our 2xx to an INVITE awaiting its ACK (RFC 3261 §13.3.1.4).

    Heap keys are plain classes with a cached hash (see ``TransactionKey``)."""

    __slots__ = ("_hash", "cseq", "dialog")

    dialog: DialogId
    cseq: int
    _hash: int

    def __init__(self, dialog: DialogId, cseq: int) -> None:
        self.dialog = dialog
        self.cseq = cseq
        self._hash = hash((dialog, cseq))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _AckWait):
            return NotImplemented
        return self.cseq == other.cseq and self.dialog == other.dialog

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"_AckWait(dialog={self.dialog!r}, cseq={self.cseq!r})"


class _TryingDue:
    """Heap key: a received INVITE's held-back 100 Trying (``CoreConfig.trying_delay``)."""

    __slots__ = ("transaction",)

    transaction: TransactionKey

    def __init__(self, transaction: TransactionKey) -> None:
        self.transaction = transaction

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _TryingDue):
            return NotImplemented
        return self.transaction == other.transaction

    def __hash__(self) -> int:
        return hash(self.transaction) ^ 0x5A5A

    def __repr__(self) -> str:
        return f"_TryingDue(transaction={self.transaction!r})"


class _Pending2xx:
    """A 2xx being retransmitted until its ACK (RFC 3261 §13.3.1.4)."""

    __slots__ = ("outgoing", "reliable", "response", "retransmissions", "started")

    outgoing: Outgoing
    response: Response
    started: float
    retransmissions: int
    reliable: bool

    def __init__(self, outgoing: Outgoing, response: Response, started: float,
                 retransmissions: int = 0, reliable: bool = False) -> None:
        self.outgoing = outgoing
        self.response = response
        self.started = started
        self.retransmissions = retransmissions
        self.reliable = reliable




class UserAgentCore:
    """Everything SIP, nothing I/O (RFC 3261 UAC and UAS cores, §8 and §17-§18).

    Driven by three inputs: bytes from the network (``receive``), requests and
    responses from the application (``send_request``, ``send_response``,
    ``cancel``), and time (``handle_timer``). After calling any of them, drain
    ``datagrams_to_send()`` and ``next_event()``, then ask ``get_timer()`` when
    to call ``handle_timer`` next.
    """

    def __init__(self, *, config: CoreConfig, ids: IdSource) -> None:
        self.config = config
        self._ids = ids
        self._heap: TimerHeap[Hashable] = TimerHeap()
        self._out: list[Outgoing] = []
        self._events: deque[CoreEvent] = deque()
        self._counters: Counter[str] = Counter()
        self._local: dict[tuple[TransportKind, int], Address] = {}
        self._layer = TransactionLayer(
            config=config.timers, heap=self._heap, user=self, output=self._out.append
        )
        self._dialogs: dict[DialogId, Dialog] = {}
        self._dialog_sets: dict[TransactionKey, DialogSet] = {}
        self._server_tags: dict[TransactionKey, str] = {}
        self._pending_2xx: dict[_AckWait, _Pending2xx] = {}
        self._pending_2xx_of: dict[DialogId, set[_AckWait]] = {}  # index: no scans
        self._sent_acks: dict[DialogId, tuple[int, Outgoing]] = {}  # latest ACK per dialog
        self._expected_notify: set[tuple[str, str]] = set()  # (Call-ID, our From tag)
        self.outgoing_hook: Callable[[Request | Response], None] | None = None
        """Called with every request and response just before it is serialized for the
        first time, to add or change headers (the facade's addSipMessageHeader rules).
        It must not raise; if it does, the message is sent unchanged and the error logged."""

    # --- configuration -----------------------------------------------------------------

    def add_local_address(self, transport: TransportKind, host: str, port: int) -> None:
        """Tell the core where it listens for ``transport``.

        The core puts this address in the sent-by of the top Via of every
        request it sends over that transport (RFC 3261 §18.1.1), choosing the
        address of the destination's IP family (IPv4 or IPv6) when it has one.
        The ``aio`` layer calls this once per listening socket.
        """
        host = strip_brackets(host)
        self._local[(transport, _family(host))] = (host, port)

    def local_address(self, transport: TransportKind, family: int | None = None) -> Address | None:
        """The address registered for ``transport`` (and IP ``family``, 4 or 6), if any.

        Without ``family``, the IPv4 address is preferred.
        """
        if family is not None:
            return self._local.get((transport, family))
        return self._local.get((transport, 4)) or self._local.get((transport, 6))

    # --- outputs -----------------------------------------------------------------------

    def datagrams_to_send(self) -> list[Outgoing]:
        """Everything queued for the network since the last call, in order."""
        out = list(self._out)
        self._out.clear()
        return out

    def next_event(self) -> CoreEvent | None:
        """The oldest undelivered event, or None."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must next be called, or None."""
        return self._heap.next_deadline()

    @property
    def counters(self) -> Mapping[str, int]:
        """Counts of dropped, absorbed and answered messages (diagnostics); missing keys read 0.

        Keys include ``dropped_oversize``, ``dropped_garbage``, ``dropped_bad_response``,
        ``dropped_stray_response``, ``dropped_stray_ack``, ``absorbed_request``,
        ``absorbed_response``, ``answered_<status>``, ``answered_malformed_<status>``,
        ``auto_options``, ``keepalive`` and ``failover``.
        """
        merged = Counter(self._counters)
        merged.update(self._layer.counters)
        return MappingProxyType(merged)

    @property
    def dialogs(self) -> Mapping[DialogId, Dialog]:
        """The dialogs the core knows (read-only view)."""
        return MappingProxyType(self._dialogs)

    def dialog(self, dialog_id: DialogId) -> Dialog | None:
        return self._dialogs.get(dialog_id)

    def add_dialog(self, dialog: Dialog) -> None:
        """Make the core route in-dialog requests to a dialog created elsewhere (usages)."""
        self._dialogs[dialog.id] = dialog

    def remove_dialog(self, dialog_id: DialogId) -> None:
        """Forget a dialog; later requests in it get 481."""
        dialog = self._dialogs.pop(dialog_id, None)
        if dialog is not None:
            dialog.terminate()

    def expect_notify(self, call_id: str, local_tag: str) -> None:
        """Pass up NOTIFYs with this Call-ID and To tag that match no dialog yet.

        RFC 6665 §4.1.2.4: "Due to the potential for out-of-order messages, packet
        loss, and forking, the subscriber MUST be prepared to receive NOTIFY
        requests before the SUBSCRIBE transaction has completed." Such a NOTIFY
        carries our From tag as its To tag but no dialog exists yet; instead of
        answering 481 (RFC 3261 §12.2.2) the core hands it up with ``dialog=None``
        while the subscriber awaits it. ``forget_notify`` ends that.
        """
        self._expected_notify.add((call_id, local_tag))

    def forget_notify(self, call_id: str, local_tag: str) -> None:
        """Stop passing up dialog-less NOTIFYs for ``(call_id, local_tag)``."""
        self._expected_notify.discard((call_id, local_tag))

    def dialog_set(self, key: TransactionKey) -> DialogSet | None:
        """The dialogs (one per fork) an INVITE we sent has created."""
        return self._dialog_sets.get(key)

    def client_transaction(self, key: TransactionKey) -> ClientTransaction | None:
        """The live client transaction of a request (after failover, the current one)."""
        return self._layer.client(key)

    def server_transaction(self, key: TransactionKey) -> ServerTransaction | None:
        return self._layer.server(key)

    # --- application input: requests -------------------------------------------------

    def send_request(
        self, request: Request, targets: Sequence[Destination], *, now: float
    ) -> TransactionKey:
        """Send ``request`` in a client transaction, failing over across ``targets``.

        The core adds the top Via (our sent-by for the target's transport, a new
        branch, ``rport``) and a User-Agent; the caller's object is not changed.
        An ACK (for a 2xx, RFC 3261 §13.2.2.4) is sent without a transaction to
        ``targets[0]`` and is resent whenever the 2xx is retransmitted. Queues
        output: drain ``datagrams_to_send()``.

        Returns:
            The key that events about this request carry.

        Raises:
            LocalProtocolError: no targets, a target transport without a local
                address, or a CANCEL (use ``cancel``).
        """
        if not targets:
            raise LocalProtocolError(f"{request.method} needs at least one destination")
        for target in targets:
            if self.local_address(target.transport) is None:
                raise LocalProtocolError(
                    f"no local address for {target.transport.value}; call add_local_address"
                )
        if request.method == "CANCEL":
            raise LocalProtocolError("CANCEL reuses the INVITE's branch; use cancel()")
        if request.method == "ACK":
            return self._send_ack(request, targets[0])
        key = self._layer.start_client(request, targets, now=now)
        if request.method == "INVITE" and request.to.tag is None:
            tx = self._layer.client(key)
            assert tx is not None
            self._dialog_sets[key] = DialogSet(tx.request)
        return key

    def stamp_request(self, request: Request, destination: Destination) -> Request:
        """A copy of ``request`` with our Via on top, for ``destination`` (TransactionUser)."""
        local = (self.local_address(destination.transport, _family(destination.host))
                 or self.local_address(destination.transport))
        assert local is not None  # checked by send_request
        host, port = local
        stamped = copy.copy(request)
        stamped.headers = request.headers.copy()
        if self.config.user_agent and "User-Agent" not in stamped.headers:
            stamped.headers.add("User-Agent", self.config.user_agent)
        branch = self._ids.branch()
        params: dict[str, str | None] = {"branch": branch}
        if self.config.rport:
            params["rport"] = None  # RFC 3581 §3: ask for the source port in the response
        stamped.via = [Via(destination.transport.value, host, port, params)]
        self._apply_hook(stamped)
        return stamped

    def _send_ack(self, ack: Request, destination: Destination) -> TransactionKey:
        stamped = self.stamp_request(ack, destination)
        out = Outgoing(destination, bytes(stamped), stamped)
        self._out.append(out)
        dialog_id = DialogId(ack.call_id, ack.from_.tag or "", ack.to.tag or "")
        # only the latest INVITE's 2xx can still be resent, so one ACK per dialog is kept
        self._sent_acks[dialog_id] = (ack.cseq.seq, out)
        branch = stamped.via[0].branch
        assert branch is not None
        return TransactionKey(Role.CLIENT, branch, "ACK")

    def cancel(self, invite: TransactionKey, *, now: float) -> TransactionKey:
        """Send a CANCEL for a pending INVITE we sent (RFC 3261 §9.1).

        The CANCEL has the INVITE's Request-URI, Call-ID, From, To, CSeq number,
        Route and top Via (same branch) and goes to the same destination.
        Queues output.

        Raises:
            LocalProtocolError: when ``invite`` is not a pending INVITE.
        """
        tx = self._layer.client(invite)
        if tx is None or not tx.invite or tx.state not in (State.CALLING, State.PROCEEDING):
            raise LocalProtocolError(f"{invite} is not a pending INVITE; cannot CANCEL it")
        original = tx.request
        cancel = Request(
            "CANCEL", original.uri, via=[original.via[0]], from_=original.from_,
            to=original.to, call_id=original.call_id, cseq=CSeq(original.cseq.seq, "CANCEL"),
            route=list(original.route),
        )
        if self.config.user_agent:
            cancel.headers.add("User-Agent", self.config.user_agent)
        return self._layer.start_client(cancel, [tx.destination], now=now, keep_via=True)

    # --- application input: responses --------------------------------------------------

    def create_response(
        self, request: Request, status: int, reason: str | None = None, *,
        contact: NameAddr | None = None,
    ) -> Response:
        """A response to a received ``request`` with a stable To tag (RFC 3261 §8.2.6.2).

        Every response but 100 to the same server transaction gets the same
        tag, so early and confirmed dialogs line up.
        """
        to_tag = None
        if status > 100 and request.to.tag is None:
            key = self._server_key_of(request)
            to_tag = self._server_tags.get(key) if key else None
            if to_tag is None:
                to_tag = self._ids.tag()
                if key is not None:
                    self._server_tags[key] = to_tag
        response = Response.for_request(request, status, reason, to_tag=to_tag)
        if contact is not None:
            response.contact = [contact]
        return response

    def _server_key_of(self, request: Request) -> TransactionKey | None:
        tx = self._layer.match_request(request)
        return tx.key if tx is not None else None

    def send_response(self, response: Response, *, now: float) -> None:
        """Send a response through the server transaction it answers. Queues output.

        A 101-299 response with a To tag to an INVITE creates (or confirms) the
        UAS dialog (RFC 3261 §12.1.1); a 2xx to an INVITE is retransmitted until
        the ACK arrives (§13.3.1.4); a 2xx to BYE ends the dialog.

        Raises:
            LocalProtocolError: no matching server transaction, or the machine
                cannot send it (e.g. a second final response).
        """
        tx = self._layer.server_for_response(response)
        if tx is None:
            raise LocalProtocolError(
                f"no server transaction for {response.status} {response.cseq.method}"
            )
        self._send_through(tx, response, now=now)

    def _apply_hook(self, message: Request | Response) -> None:
        hook = self.outgoing_hook
        if hook is None:
            return
        try:
            hook(message)
        except Exception:
            self._counters["outgoing_hook_errors"] += 1
            logger.exception("outgoing_hook failed; %s sent unchanged", _first_line(message))

    def _send_through(self, tx: ServerTransaction, response: Response, *, now: float) -> None:
        if tx.shed:
            raise LocalProtocolError(
                f"cannot send {response.status} {tx.method}: the server transaction is "
                f"{tx.state.name} (its final response went out)")
        request = tx.request
        self._apply_hook(response)
        tx.send_response(response, now=now)
        self._layer.reap(tx.key)
        status = response.status
        if request.method == "INVITE" and response.to.tag is not None and status > 100:
            dialog_id = DialogId(request.call_id, response.to.tag, request.from_.tag or "")
            dialog = self._dialogs.get(dialog_id)
            if status < 300:
                if dialog is None and request.to.tag is None:
                    dialog = Dialog.as_uas(request, response)
                    self._dialogs[dialog_id] = dialog
                elif dialog is not None and status >= 200:
                    dialog.state = DialogState.CONFIRMED
                if status >= 200:
                    self._start_2xx_retransmission(dialog_id, tx, response, now=now)
            elif dialog is not None and dialog.state is DialogState.EARLY:
                self._end_dialog(dialog_id, f"final response {status}")
        elif request.method == "BYE" and 200 <= status < 300:
            dialog_id_or_none = DialogId.of_received_request(request)
            if dialog_id_or_none is not None:
                self._end_dialog(dialog_id_or_none, "bye")

    def _start_2xx_retransmission(
        self, dialog_id: DialogId, tx: ServerTransaction, response: Response, *, now: float
    ) -> None:
        key = _AckWait(dialog_id, response.cseq.seq)
        if key in self._pending_2xx:
            return
        reliable = tx.transport.reliable
        outgoing = Outgoing(tx.destination, bytes(response), response)
        self._pending_2xx[key] = _Pending2xx(outgoing, response, now, reliable=reliable)
        self._pending_2xx_of.setdefault(dialog_id, set()).add(key)
        timers = self.config.timers
        self._heap.schedule(key, now + (timers.transaction_timeout if reliable else timers.t1))

    def _forget_pending_2xx(self, key: _AckWait) -> None:
        self._pending_2xx.pop(key, None)
        keys = self._pending_2xx_of.get(key.dialog)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._pending_2xx_of[key.dialog]

    def _on_ack_wait(self, key: _AckWait, *, now: float) -> None:
        pending = self._pending_2xx.get(key)
        if pending is None:
            return
        timers = self.config.timers
        deadline = pending.started + timers.transaction_timeout
        if now >= deadline:
            self._forget_pending_2xx(key)
            self._events.append(AckTimedOut(pending.response, key.dialog))
            return
        self._out.append(pending.outgoing)
        pending.retransmissions += 1
        interval = timers.capped_retransmit_interval(pending.retransmissions)
        self._heap.schedule(key, min(now + interval, deadline))

    # --- network input -----------------------------------------------------------------

    def receive(self, data: bytes, source: Address, transport: TransportKind, *,
                now: float) -> None:
        """Feed one datagram (or one framed stream message) from ``source``.

        Never raises for bad input: malformed requests are answered when they can
        be, everything else unusable is dropped and counted. Queues output and
        events.
        """
        if len(data) > self.config.max_datagram_size:
            self._counters["dropped_oversize"] += 1
            return
        if not data.strip(b"\r\n"):
            self._counters["keepalive"] += 1
            return
        try:
            message = parse_message(data, stream=transport.reliable,
                                    max_size=self.config.max_datagram_size)
        except ParseError as exc:
            self._answer_malformed(data, exc, source, transport)
            return
        if isinstance(message, Response):
            self._layer.receive_response(message, now=now)
            return
        stamp_received(message.via[0], source)
        self._receive_request(message, source, transport, now=now)

    def _receive_request(self, request: Request, source: Address, transport: TransportKind, *,
                         now: float) -> None:
        layer = self._layer
        existing = layer.match_request(request)
        if request.method == "ACK":
            if (existing is not None and layer.receive_retransmission(existing, request, now=now)
                    is not Verdict.PASS_UP):
                return
            self._receive_2xx_ack(request, source)
            return
        if existing is not None:
            layer.receive_retransmission(existing, request, now=now)
            if existing.invite and self.config.auto_trying:
                self._send_trying(existing, now=now)  # a held-back 100 is due now
            return
        tx = layer.start_server(request, source, transport, now=now)
        if request.method == "CANCEL":
            self._receive_cancel(tx, request, now=now)
            return
        try:
            dialog_id = self._check_request(request)
        except BadExtensionError as exc:
            response = self._reject(tx, 420, exc.reason)
            response.headers.set("Unsupported", ", ".join(exc.unsupported))
            self._send_through(tx, response, now=now)
            return
        except RemoteProtocolError as exc:
            response = self._reject(tx, exc.status_hint, exc.reason)
            if exc.status_hint in (405, 501):  # RFC 3261 §8.2.1: MUST carry Allow
                response.headers.set("Allow", ", ".join(self.config.allow))
            self._send_through(tx, response, now=now)
            return
        if request.method == "INVITE" and self.config.auto_trying:
            if self.config.trying_delay > 0:
                self._heap.schedule(_TryingDue(tx.key), now + self.config.trying_delay)
            else:
                self._send_trying(tx, now=now)
        if request.method == "OPTIONS" and dialog_id is None and self.config.auto_options:
            self._counters["auto_options"] += 1
            self._send_through(tx, self._options_answer(request), now=now)
            return
        self._events.append(RequestReceived(request, tx.key, source, transport, dialog_id))

    def _send_trying(self, tx: ServerTransaction, *, now: float) -> None:
        """100 Trying, unless the transaction has answered already (RFC 3261 §17.2.1)."""
        if tx.state is State.PROCEEDING and tx.last_response is None:
            self._send_through(tx, Response.for_request(tx.request, 100), now=now)

    def _check_request(self, request: Request) -> DialogId | None:
        """RFC 3261 §8.2 (method, headers, extensions) and §12.2.2 (dialog) checks."""
        validate_request(request, supported=self.config.supported,
                         allowed_methods=frozenset(self.config.allow))
        dialog_id = DialogId.of_received_request(request)
        if dialog_id is None:
            if request.method == "BYE":
                raise RemoteProtocolError("BYE outside a dialog", status_hint=481)
            return None
        dialog = self._dialogs.get(dialog_id)
        if dialog is None:
            if (request.method == "NOTIFY"
                    and (request.call_id, dialog_id.local_tag) in self._expected_notify):
                return None  # RFC 6665 §4.1.2.4: a NOTIFY ahead of the SUBSCRIBE's 2xx
            # RFC 3261 §12.2.2: a request with a To tag that matches no dialog
            raise RemoteProtocolError("Call/Transaction Does Not Exist", status_hint=481)
        dialog.on_request(request)  # raises 500 for an out-of-order CSeq
        return dialog_id

    def _reject(self, tx: ServerTransaction, status: int, reason: str) -> Response:
        self._counters[f"answered_{status}"] += 1
        return self.create_response(tx.request, status, _reason_text(reason, status))

    def _options_answer(self, request: Request) -> Response:
        response = self.create_response(request, 200)
        response.headers.set("Allow", ", ".join(self.config.allow))
        if self.config.accept:
            response.headers.set("Accept", ", ".join(self.config.accept))
        if self.config.supported:
            response.headers.set("Supported", ", ".join(sorted(self.config.supported)))
        return response

    def _receive_cancel(self, tx: ServerTransaction, cancel: Request, *, now: float) -> None:
        # RFC 3261 §9.2
        invite_tx = self._layer.match_cancel(cancel)
        if invite_tx is None:
            self._send_through(tx, self._reject(tx, 481, "Call/Transaction Does Not Exist"),
                               now=now)
            return
        self._send_through(tx, self.create_response(cancel, 200), now=now)
        pending = invite_tx.state is State.PROCEEDING
        if pending:
            self._send_through(invite_tx, self.create_response(invite_tx.request, 487), now=now)
        self._events.append(CancelReceived(cancel, invite_tx.key, pending))

    def _receive_2xx_ack(self, ack: Request, source: Address) -> None:
        dialog_id = DialogId.of_received_request(ack)
        if dialog_id is None:
            self._counters["dropped_stray_ack"] += 1
            return
        wait = _AckWait(dialog_id, ack.cseq.seq)
        pending = self._pending_2xx.get(wait)
        if pending is not None:
            self._forget_pending_2xx(wait)
            self._heap.cancel(wait)
        elif dialog_id not in self._dialogs:
            self._counters["dropped_stray_ack"] += 1
            return
        else:
            self._counters["absorbed_ack"] += 1
            return
        self._events.append(AckReceived(ack, source, dialog_id))

    def _answer_malformed(self, data: bytes, error: ParseError, source: Address,
                          transport: TransportKind) -> None:
        """Answer a request parse_message rejected, if enough of it survives (§8.2, §18.2.1)."""
        if data.lstrip(b"\r\n")[:4].upper() == b"SIP/":
            self._counters["dropped_bad_response"] += 1
            return
        request = salvage(data)
        if request is None:
            self._counters["dropped_garbage"] += 1
            return
        if request.method == "ACK":  # RFC 3261 §17.2.3: never answered
            self._counters["dropped_bad_ack"] += 1
            return
        status = error.status_hint if 400 <= error.status_hint <= 699 else 400
        extra: tuple[tuple[str, str], ...] = ()
        if isinstance(error, BadExtensionError):
            extra = (("Unsupported", ", ".join(error.unsupported)),)
        elif status in (405, 501):
            extra = (("Allow", ", ".join(self.config.allow)),)
        destination, raw = build_response(request, status, error.reason, to_tag=self._ids.tag(),
                                          source=source, transport=transport, extra=extra)
        self._counters[f"answered_malformed_{status}"] += 1
        self._out.append(Outgoing(destination, raw, None))

    # --- TransactionUser callbacks -------------------------------------------------------

    def on_response(self, origin: TransactionKey, transaction: ClientTransaction,
                    response: Response, *, now: float) -> None:
        request = transaction.request
        dialog_id: DialogId | None = None
        dialog_set = self._dialog_sets.get(origin)
        if dialog_set is not None:
            dialog_id = self._invite_response(dialog_set, response)
        elif request.to.tag is not None:
            dialog_id = DialogId.of_received_response(response)
            dialog = self._dialogs.get(dialog_id) if dialog_id else None
            if dialog is not None:
                dialog.on_response(request, response)
                if request.method == "BYE" and response.status >= 200:
                    self._end_dialog(dialog.id, "bye")
        if transaction.invite and 200 <= response.status < 300 and dialog_id is not None:
            sent = self._sent_acks.get(dialog_id)
            ack = sent[1] if sent is not None and sent[0] == response.cseq.seq else None
            if ack is not None:  # a retransmitted 2xx: our ACK was lost, resend it
                self._out.append(ack)
                self._counters["absorbed_2xx_retransmission"] += 1
                return
        if transaction.invite and response.status >= 300:
            self._dialog_sets.pop(origin, None)
        self._events.append(ResponseReceived(response, origin, request, dialog_id))

    def on_terminated(self, key: TransactionKey) -> None:
        self._dialog_sets.pop(key, None)
        self._server_tags.pop(key, None)

    def _invite_response(self, dialog_set: DialogSet, response: Response) -> DialogId | None:
        dialog = dialog_set.on_response(response)
        if response.status >= 300:
            for tag, early in list(dialog_set.dialogs.items()):
                if early.state is DialogState.TERMINATED:
                    del dialog_set.dialogs[tag]
                    self._end_dialog(early.id, f"final response {response.status}")
            return None
        if dialog is None:
            return None
        self._dialogs.setdefault(dialog.id, dialog)
        return dialog.id

    def on_client_failed(self, origin: TransactionKey, attempt: ClientAttempt,
                         outcome: Outcome, *, now: float) -> None:
        request = attempt.transaction.request if attempt.transaction else attempt.request
        tried = tuple(attempt.tried)
        if outcome is Outcome.TIMED_OUT:
            self._events.append(TransactionTimedOut(origin, request, tried))
        else:
            self._events.append(TransportFailed(origin, request, tried))
        dialog_set = self._dialog_sets.pop(origin, None)
        if dialog_set is not None:
            for early in dialog_set.early():
                self._end_dialog(early.id, "no final response")
        if request.method == "BYE" and request.to.tag is not None:
            dialog_id = DialogId(request.call_id, request.from_.tag or "", request.to.tag)
            self._end_dialog(dialog_id, "bye failed")

    def on_server_failed(self, transaction: ServerTransaction, outcome: Outcome, *,
                         now: float) -> None:
        if outcome is Outcome.TIMED_OUT:
            self._events.append(TransactionTimedOut(transaction.key, transaction.request, ()))
        else:
            self._events.append(
                TransportFailed(transaction.key, transaction.request, (transaction.destination,))
            )

    def _end_dialog(self, dialog_id: DialogId, reason: str) -> None:
        dialog = self._dialogs.pop(dialog_id, None)
        if dialog is None:
            return
        dialog.terminate()
        for key in self._pending_2xx_of.pop(dialog_id, ()):
            self._pending_2xx.pop(key, None)
            self._heap.cancel(key)
        self._sent_acks.pop(dialog_id, None)
        self._events.append(DialogTerminated(dialog_id, reason))

    # --- time and transport errors -----------------------------------------------------

    def handle_timer(self, *, now: float) -> None:
        """Fire every timer due at ``now``. Queues output and events."""
        for key in self._heap.pop_due(now):
            if isinstance(key, TransactionTimer):
                self._layer.handle_timer(key, now=now)
            elif isinstance(key, _AckWait):
                self._on_ack_wait(key, now=now)
            elif isinstance(key, _TryingDue):
                tx = self._layer.server(key.transaction)
                if tx is not None:
                    self._send_trying(tx, now=now)

    def transport_error(self, destination: Destination, *, now: float) -> None:
        """The ``aio`` layer could not send to (or lost the connection to) ``destination``.

        Client transactions using it fail over to their next target (new
        branch); when none is left a ``TransportFailed`` event is queued.
        """
        self._layer.transport_error(destination, now=now)


# --- helpers (pure functions) ------------------------------------------------------------


def stamp_received(via: Via, source: Address) -> None:
    """Add ``received`` and fill ``rport`` on a received request's top Via, in place.

    RFC 3261 §18.2.1: "If the host portion of the "sent-by" field contains a
    domain name, or if it contains an IP address that differs from the packet
    source address, the server MUST add a "received" parameter to that Via
    header field value." RFC 3581 §4: with an empty ``rport``, the server sets
    it to the source port and MUST add ``received`` as well.
    """
    host, port = source
    if via.has_rport and via.rport is None:
        via.params["received"] = host
        via.params["rport"] = str(port)
    elif strip_brackets(via.host).lower() != host.lower():
        via.params["received"] = host


def _first_line(message: Request | Response) -> str:
    if isinstance(message, Request):
        return f"{message.method} {message.uri}"
    return f"{message.status} {message.reason}"


def _family(host: str) -> int:
    """4 or 6: the IP family of an address literal (a name counts as IPv4)."""
    return 6 if ":" in host else 4


def _reason_text(reason: str, status: int) -> str:
    """A Reason-Phrase built from an error message: one line of printable text."""
    text = " ".join(reason.split())
    return text[:200] if text else f"Error {status}"


