"""The transaction layer: matching, timers, retransmission and next-target failover.

Knows: how a received message finds its transaction (RFC 3261 §17.1.3 for
responses, §17.2.3 for requests, with the RFC 2543 fallback), how CANCEL finds
the INVITE it cancels (§9.2), which transactions a transport error hits, and
that a client request which times out or fails at the transport is retried at
the next resolved destination with a new branch (RFC 3263 §4.3). Must not know:
sockets, clocks, dialogs or validation — the UserAgentCore is the transaction
user (TU); this layer calls it back through the ``TransactionUser`` protocol.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from voipkit.sip.addressing import Address, Destination, Outgoing, TransportKind
from voipkit.sip.message import Request, Response
from voipkit.sip.timers import TimerConfig, TimerHeap
from voipkit.sip.transaction.client import ClientTransaction, Outcome, Verdict
from voipkit.sip.transaction.fsm import State
from voipkit.sip.transaction.keys import (
    TransactionKey,
    TransactionTimer,
    client_key,
    server_key,
)
from voipkit.sip.transaction.server import ServerTransaction, response_index


class TransactionUser(Protocol):
    """What the layer needs from the layer above it (the UserAgentCore)."""

    def stamp_request(self, request: Request, destination: Destination) -> Request:
        """A copy of ``request`` with our top Via (new branch) for ``destination``."""
        ...

    def on_response(
        self, origin: TransactionKey, transaction: ClientTransaction, response: Response, *,
        now: float,
    ) -> None:
        """A response the client machine passes up (``origin`` is send_request's key)."""
        ...

    def on_client_failed(
        self, origin: TransactionKey, attempt: ClientAttempt, outcome: Outcome, *, now: float
    ) -> None:
        """Every destination of a request timed out or failed at the transport."""
        ...

    def on_server_failed(self, transaction: ServerTransaction, outcome: Outcome, *,
                         now: float) -> None:
        """Timer H fired (no ACK for our final response) or the transport failed."""
        ...

    def on_terminated(self, key: TransactionKey) -> None:
        """A transaction is gone for good: ``key`` is send_request's key for a client
        request (after its last attempt), or the server transaction's key."""
        ...


@dataclass(slots=True)
class ClientAttempt:
    """One request sent with failover across an ordered list of destinations."""

    origin: TransactionKey
    "The key send_request returned; events about this request carry it."

    request: Request
    "The request as the TU gave it (without our Via)."

    targets: tuple[Destination, ...]
    "Destinations in RFC 3263 order."

    index: int = 0
    "Which target the current transaction uses."

    transaction: ClientTransaction | None = None
    "The transaction for ``targets[index]``."

    tried: list[Destination] = field(default_factory=list)
    "Destinations that timed out or failed, in order."

    keep_via: bool = False
    "Send the request with the Via it has (CANCEL); no failover."


class TransactionLayer:
    """All client and server transactions of one UserAgentCore, and their timers.

    The timer heap is shared with the core (one heap for everything); this
    layer only ever schedules ``TransactionTimer`` keys in it.
    """

    def __init__(
        self,
        *,
        config: TimerConfig,
        heap: TimerHeap[Hashable],
        user: TransactionUser,
        output: Callable[[Outgoing], None],
    ) -> None:
        self.config = config
        self.counters: Counter[str] = Counter()
        self._heap = heap
        self._user = user
        self._output = output
        self._clients: dict[TransactionKey, ClientTransaction] = {}
        self._attempts: dict[TransactionKey, ClientAttempt] = {}  # by current tx key
        self._origins: dict[TransactionKey, ClientAttempt] = {}  # by send_request's key
        self._servers: dict[TransactionKey, ServerTransaction] = {}
        self._by_response: dict[tuple[str, ...], ServerTransaction] = {}

    # --- TransactionSink -------------------------------------------------------------

    def send(self, destination: Destination, message: Request | Response | None,
             data: bytes) -> None:
        self._output(Outgoing(destination, data, message))

    def schedule(self, timer: TransactionTimer, at: float) -> None:
        self._heap.schedule(timer, at)

    def cancel(self, timer: TransactionTimer) -> None:
        self._heap.cancel(timer)

    # --- client side -----------------------------------------------------------------

    def start_client(
        self, request: Request, targets: Sequence[Destination], *, now: float,
        keep_via: bool = False,
    ) -> TransactionKey:
        """Send ``request`` to ``targets[0]`` in a new client transaction.

        With ``keep_via`` the request already carries its top Via (a CANCEL reuses
        the INVITE's branch, RFC 3261 §9.1) and is sent as it is, to
        ``targets[0]`` only.

        Returns the key that identifies the request across failovers.
        """
        if not targets:
            raise ValueError("a request needs at least one destination")
        attempt = ClientAttempt(
            origin=client_key("", request.method), request=request,
            targets=tuple(targets[:1]) if keep_via else tuple(targets), keep_via=keep_via,
        )
        tx = self._start_attempt(attempt, now=now)
        attempt.origin = tx.key
        self._origins[tx.key] = attempt
        return tx.key

    def _start_attempt(self, attempt: ClientAttempt, *, now: float) -> ClientTransaction:
        destination = attempt.targets[attempt.index]
        if attempt.keep_via:
            stamped = attempt.request
        else:
            stamped = self._user.stamp_request(attempt.request, destination)
        branch = stamped.via[0].branch
        assert branch is not None
        key = client_key(branch, stamped.method)
        tx = ClientTransaction(
            key=key, request=stamped, destination=destination, config=self.config,
            sink=self, now=now,
        )
        attempt.transaction = tx
        self._clients[key] = tx
        self._attempts[key] = attempt
        return tx

    def client(self, key: TransactionKey) -> ClientTransaction | None:
        """The live client transaction for ``key`` (an origin key or a retry's key)."""
        tx = self._clients.get(key)
        if tx is not None:
            return tx
        attempt = self._origins.get(key)
        return attempt.transaction if attempt is not None else None

    def match_response(self, response: Response) -> ClientTransaction | None:
        """RFC 3261 §17.1.3: same top Via branch, same CSeq method."""
        if not response.via:
            return None
        branch = response.via[0].branch
        if branch is None:
            return None
        return self._clients.get(client_key(branch, response.cseq.method))

    def receive_response(self, response: Response, *, now: float) -> bool:
        """Route a received response. False when no transaction matched (stray)."""
        tx = self.match_response(response)
        if tx is None:
            self.counters["dropped_stray_response"] += 1
            return False
        verdict = tx.receive_response(response, now=now)
        if verdict is Verdict.ABSORBED:
            self.counters["absorbed_response"] += 1
        elif verdict is Verdict.DROPPED:
            self.counters["dropped_unexpected_response"] += 1
        else:
            self._user.on_response(self._attempts[tx.key].origin, tx, response, now=now)
        self.reap(tx.key)
        return True

    def _client_failed(self, tx: ClientTransaction, outcome: Outcome, *, now: float) -> None:
        attempt = self._attempts[tx.key]
        attempt.tried.append(tx.destination)
        retry = attempt.index + 1 < len(attempt.targets)
        self.reap(tx.key, final=not retry)
        if retry:
            attempt.index += 1
            self.counters["failover"] += 1
            self._start_attempt(attempt, now=now)
            return
        self._user.on_client_failed(attempt.origin, attempt, outcome, now=now)

    # --- server side -----------------------------------------------------------------

    def match_request(self, request: Request) -> ServerTransaction | None:
        """RFC 3261 §17.2.3 (with the RFC 2543 fallback): the transaction of a request."""
        return self._servers.get(server_key(request))

    def match_cancel(self, cancel: Request) -> ServerTransaction | None:
        """RFC 3261 §9.2: the INVITE server transaction a CANCEL refers to."""
        return self._servers.get(server_key(cancel, method="INVITE"))

    def receive_retransmission(self, tx: ServerTransaction, request: Request, *,
                               now: float) -> Verdict:
        """Feed a request or ACK that matched an existing server transaction."""
        if request.method == "ACK":
            verdict = tx.receive_ack(request, now=now)
        else:
            verdict = tx.receive_request(request, now=now)
        if verdict is Verdict.ABSORBED:
            self.counters["absorbed_request"] += 1
        elif verdict is Verdict.DROPPED:
            self.counters["dropped_unexpected_request"] += 1
        self.reap(tx.key)
        return verdict

    def start_server(
        self, request: Request, source: Address, transport: TransportKind, *, now: float
    ) -> ServerTransaction:
        """Create the server transaction for a new request (never for ACK)."""
        key = server_key(request)
        tx = ServerTransaction(
            key=key, request=request, source=source, transport=transport,
            config=self.config, sink=self, now=now,
        )
        self._servers[key] = tx
        self._by_response[tx.response_index] = tx
        return tx

    def server(self, key: TransactionKey) -> ServerTransaction | None:
        return self._servers.get(key)

    def server_for_response(self, response: Response) -> ServerTransaction | None:
        """The server transaction a response from the TU belongs to."""
        if not response.via:
            return None
        return self._by_response.get(response_index(response))

    # --- time and transport errors -----------------------------------------------------

    def handle_timer(self, timer: TransactionTimer, *, now: float) -> None:
        """A transaction timer popped from the shared heap."""
        client = self._clients.get(timer.transaction)
        if client is not None:
            outcome = client.handle_timer(timer.name, now=now)
            if outcome is Outcome.NONE:
                self.reap(client.key)
            else:
                self._client_failed(client, outcome, now=now)
            return
        server = self._servers.get(timer.transaction)
        if server is not None:
            outcome = server.handle_timer(timer.name, now=now)
            self.reap(server.key)
            if outcome is not Outcome.NONE:
                self._user.on_server_failed(server, outcome, now=now)
            return
        self.counters["stale_timer"] += 1

    def transport_error(self, destination: Destination, *, now: float) -> None:
        """The transport failed to reach ``destination``: fail what was using it."""
        for tx in [t for t in self._clients.values() if t.destination == destination]:
            outcome = tx.transport_error()
            if outcome is Outcome.NONE:
                self.reap(tx.key)
            else:
                self._client_failed(tx, outcome, now=now)
        for server in [s for s in self._servers.values() if s.destination == destination]:
            outcome = server.transport_error()
            self.reap(server.key)
            if outcome is not Outcome.NONE:
                self._user.on_server_failed(server, outcome, now=now)

    def reap(self, key: TransactionKey, *, final: bool = True) -> None:
        """Forget ``key``'s transaction if its machine has terminated.

        ``final=False`` when a failover attempt will follow, so the TU is not
        told that the request is over.
        """
        client = self._clients.get(key)
        if client is not None and client.state is State.TERMINATED:
            del self._clients[key]
            attempt = self._attempts.pop(key, None)
            self.counters["client_terminated"] += 1
            if final and attempt is not None:
                self._origins.pop(attempt.origin, None)
                self._user.on_terminated(attempt.origin)
        server = self._servers.get(key)
        if server is not None and server.state is State.TERMINATED:
            del self._servers[key]
            index = server.response_index
            if self._by_response.get(index) is server:
                del self._by_response[index]
            self.counters["server_terminated"] += 1
            self._user.on_terminated(key)

    @property
    def active_clients(self) -> int:
        return len(self._clients)

    @property
    def active_servers(self) -> int:
        return len(self._servers)
