"""Transaction identities and the narrow interface transactions write their output to.

Knows: how RFC 3261 §17.1.3 and §17.2.3 identify a transaction (branch, sent-by,
method), the RFC 2543 fallback signature for requests whose branch lacks the
magic cookie, and the shape of the sink a transaction sends and schedules
through. Must not know: sockets, clocks, or what the transaction user does with
results.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Protocol

from voipkit.base.ids import MAGIC_COOKIE
from voipkit.sip.timers import TimerName

if TYPE_CHECKING:
    from voipkit.sip.addressing import Destination
    from voipkit.sip.message import Request, Response


class Role(Enum):
    """Which side of a transaction we are."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code

    CLIENT = "client"
    SERVER = "server"


class TransactionKey:
    """Identifies one transaction within a UserAgentCore.

    For a client transaction: the branch we generated and the CSeq method
    (RFC 3261 §17.1.3). For a server transaction: the top Via branch, its
    sent-by and the CSeq method with ACK folded into INVITE (§17.2.3); when the
    branch lacks the magic cookie, ``branch`` holds the RFC 2543 signature
    (Request-URI, From tag, Call-ID, CSeq number) instead.

    Immutable (read-only properties) and hashable. A plain class rather than a
    frozen dataclass: it is a dict key several times per message, and mypyc
    compiles an explicit ``__init__``/``__eq__``/``__hash__`` natively where a
    dataclass's generated ones stay interpreted (docs/performance.md). The hash
    is computed once, from the strings only (hashing an Enum runs Python code).
    """

    __slots__ = ("_branch", "_hash", "_method", "_role", "_sent_by")

    _role: Role
    _branch: str
    _method: str
    _sent_by: str
    _hash: int

    def __init__(self, role: Role, branch: str, method: str, sent_by: str = "") -> None:
        self._role = role
        self._branch = branch
        self._method = method
        self._sent_by = sent_by
        self._hash = hash((branch, method, sent_by))

    @property
    def role(self) -> Role:
        "CLIENT for requests we sent, SERVER for requests we received."
        return self._role

    @property
    def branch(self) -> str:
        "The Via branch, or an ``rfc2543:`` signature for pre-3261 peers."
        return self._branch

    @property
    def method(self) -> str:
        "The CSeq method; ACK matches the INVITE transaction, CANCEL is its own."
        return self._method

    @property
    def sent_by(self) -> str:
        "Top Via sent-by (``host:port``) of a received request; empty for clients."
        return self._sent_by

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransactionKey):
            return NotImplemented
        return (self._hash == other._hash and self._branch == other._branch
                and self._method == other._method and self._sent_by == other._sent_by
                and self._role is other._role)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return (f"TransactionKey(role={self._role!r}, branch={self._branch!r}, "
                f"method={self._method!r}, sent_by={self._sent_by!r})")

    def __str__(self) -> str:
        at = f"@{self._sent_by}" if self._sent_by else ""
        return f"{self._role.value}:{self._method}:{self._branch}{at}"


class TransactionTimer:
    """A heap key: one RFC timer of one transaction (immutable, hashable; see
    ``TransactionKey`` for why it is not a dataclass)."""

    __slots__ = ("_hash", "_name", "_transaction")

    _transaction: TransactionKey
    _name: TimerName
    _hash: int

    def __init__(self, transaction: TransactionKey, name: TimerName) -> None:
        self._transaction = transaction
        self._name = name
        self._hash = hash((transaction._hash, name))

    @property
    def transaction(self) -> TransactionKey:
        return self._transaction

    @property
    def name(self) -> TimerName:
        return self._name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransactionTimer):
            return NotImplemented
        return self._name is other._name and self._transaction == other._transaction

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"TransactionTimer(transaction={self._transaction!r}, name={self._name!r})"


def has_magic_cookie(branch: str | None) -> bool:
    """True for an RFC 3261 branch (§8.1.1.7: it starts with ``z9hG4bK``)."""
    return branch is not None and branch.startswith(MAGIC_COOKIE)


def client_key(branch: str, method: str) -> TransactionKey:
    """The key of the client transaction that sent ``method`` with ``branch``."""
    return TransactionKey(Role.CLIENT, branch, "INVITE" if method == "ACK" else method)


def server_key(request: Request, *, method: str | None = None) -> TransactionKey:
    """The server transaction a received request belongs to (RFC 3261 §17.2.3).

    ``method`` overrides the request's own method: CANCEL is matched to the
    INVITE it cancels by computing the key with ``method="INVITE"``.

    Raises:
        IndexError: when the request has no Via (callers validate first).
    """
    top = request.via[0]
    sent_by = f"{top.host}:{top.port if top.port is not None else ''}".lower()
    wanted = method if method is not None else request.method
    if wanted == "ACK":
        wanted = "INVITE"
    branch = top.branch
    if has_magic_cookie(branch):
        assert branch is not None
        return TransactionKey(Role.SERVER, branch, wanted, sent_by)
    # RFC 3261 §17.2.3, RFC 2543 compatibility: Request-URI, From tag, Call-ID,
    # CSeq number and top Via identify the transaction. The To tag is left out so
    # that the ACK (which carries the tag of our response) matches the INVITE.
    signature = "|".join(
        (
            "rfc2543",
            str(request.uri),
            request.from_.tag or "",
            request.call_id,
            str(request.cseq.seq),
            branch or "",
        )
    )
    return TransactionKey(Role.SERVER, signature, wanted, sent_by)


class TransactionSink(Protocol):
    """Where transactions put their output; the TransactionLayer implements it."""

    def send(self, destination: Destination, message: Request | Response | None,
             data: bytes) -> None:
        """Queue ``data`` (the serialized ``message``; None once a transaction shed it)."""
        ...

    def schedule(self, timer: TransactionTimer, at: float) -> None:
        """Start or move a timer."""
        ...

    def cancel(self, timer: TransactionTimer) -> None:
        """Stop a timer; stopping a stopped timer does nothing."""
        ...
