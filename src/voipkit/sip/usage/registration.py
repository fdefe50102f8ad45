"""ClientRegistration: one binding of a Contact to an address-of-record, kept alive.

Knows: RFC 3261 §10.2 (REGISTER: one Call-ID and one From tag per binding,
CSeq incrementing by one per request (§10.2.4), refreshes, removal with
expiration 0 (§10.2.2), 423 Interval Too Brief with Min-Expires (§10.2.8)),
§22 digest answers to 401/407 through ``auth.DigestClient``, RFC 5626 §4.2
(``+sip.instance``/``reg-id`` Contact parameters and ``Supported: outbound``),
RFC 3261 §20.33 (Retry-After) and the retry semantics of the PortSIP manual's
``registerServer(expires, retryTimes)``. Must not know: sockets, DNS, clocks or
keep-alives — the ``aio`` layer resolves the registrar into ``targets``, sends
CRLF keep-alives (``setKeepAliveTime``) and passes ``now`` in; the ``api`` layer
builds the Contact from the local address and turns the events below into
``onRegisterSuccess``/``onRegisterFailure``.

Time policy (all deadlines are exact, so tests assert them):

- refresh: ``refresh_delay(granted)`` after a 2xx — 600 s before expiry when
  more than 1200 s were granted, otherwise half way through the binding, so a
  refresh has room for a Timer F timeout and a retry before the binding lapses;
- retry after a failure: ``Retry-After`` of the response when present, else
  ``retry_delay(n)`` = min(``retry_max``, ``retry_base`` * 2**(n-1)) for the n-th
  consecutive failure (RFC 5626 §4.5's doubling back-off from a 30 s base,
  capped at 1800 s, without the random jitter: randomness comes only from
  ``base.ids``). ``retry_times`` bounds the consecutive retries; a 2xx resets
  the count.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import Final

from voipkit.sip.addressing import Destination
from voipkit.sip.auth import AuthError, Credentials, DigestClient, challenge_header_name
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import CoreEvent, ResponseReceived, TransactionTimedOut, TransportFailed
from voipkit.sip.headers import header_key
from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.transaction.keys import TransactionKey
from voipkit.sip.uri import SipUri
from voipkit.sip.usage.base import Usage, UsageEvent, UsageHost

__all__ = [
    "MAX_CHALLENGES",
    "MAX_EXPIRES",
    "ClientRegistration",
    "RegistrationConfig",
    "RegistrationFailed",
    "RegistrationState",
    "RegistrationSucceeded",
    "RegistrationTimer",
    "Unregistered",
    "refresh_delay",
    "retry_delay",
]

#: The PortSIP manual: registerServer's expires is "in seconds with maximum 3600".
MAX_EXPIRES: Final = 3600
#: Consecutive 401/407 answers for one REGISTER before giving up (a server that
#: keeps saying stale=true would otherwise loop forever).
MAX_CHALLENGES: Final = 5

#: Headers the usage writes itself; ``extra_headers`` may not carry them.
_RESERVED_HEADERS: Final = frozenset(header_key(name) for name in (
    "Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards", "Contact", "Expires", "Route",
    "Record-Route", "Content-Length", "Content-Type", "Authorization", "Proxy-Authorization",
    "Supported",
))  # fmt: skip


def refresh_delay(granted: int) -> float:
    """Seconds after a 2xx at which the binding is refreshed.

    ``granted - 600`` when more than 1200 s were granted, else ``granted / 2``:
    3600 -> 3000, 1200 -> 600, 60 -> 30.
    """
    return float(granted - 600) if granted > 1200 else granted / 2


def retry_delay(failures: int, *, base: float = 30.0, cap: float = 1800.0) -> float:
    """Back-off before retrying after the ``failures``-th consecutive failure (1-based).

    30, 60, 120, ... seconds, never more than ``cap`` (RFC 5626 §4.5's base-time
    and max-time, without its random factor).
    """
    return min(cap, base * 2.0 ** (failures - 1))


class RegistrationState(Enum):
    """Where a ClientRegistration stands.

    IDLE -> REGISTERING -> REGISTERED <-> REFRESHING -> UNREGISTERING -> UNREGISTERED;
    a failure goes to RETRY_WAIT while retries remain and to FAILED when they
    run out. REGISTERING means no confirmed binding exists; REFRESHING means
    one does and is being renewed (a retry while the binding still lives is a
    refresh too).
    """

    IDLE = auto()
    REGISTERING = auto()
    REGISTERED = auto()
    REFRESHING = auto()
    RETRY_WAIT = auto()
    FAILED = auto()
    UNREGISTERING = auto()
    UNREGISTERED = auto()


class RegistrationTimer(Enum):
    """The usage's own timers (names passed to ``UsageHost.schedule``)."""

    REFRESH = auto()  # renew a binding before it expires
    RETRY = auto()  # try again after a failure


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrationConfig:
    """What to register, where, and how hard to try. Frozen; keyword-only.

    ``repr`` never shows the password: ``Credentials`` hides it.
    """

    aor: SipUri
    "The address-of-record (From and To of every REGISTER, RFC 3261 §10.2)."

    registrar: SipUri
    "The Request-URI: the registrar's domain, e.g. ``sip:example.com`` (§10.2)."

    contact: SipUri | NameAddr
    "Where we can be reached (built by the ``api`` layer from the local address and transport)."

    targets: tuple[Destination, ...]
    "Resolved next hops (registrar or outbound proxy), tried in order by the core."

    credentials: Credentials | None = None
    "Digest username (the manual's authName) and password; None: 401/407 are failures."

    display_name: str | None = None
    "Display name in From and To."

    expires: int = 3600
    "Requested binding lifetime in seconds, 1 to 3600 (the manual's registerServer limit)."

    retry_times: int = 3
    "Retries after a failed registration or refresh; <= 0 reports the failure at once (FAILED)."

    instance_id: str | None = None
    "RFC 5626 instance id (``urn:uuid:...`` or a bare UUID); adds +sip.instance and reg-id."

    reg_id: int = 1
    "RFC 5626 reg-id sent with ``instance_id``."

    route: tuple[NameAddr, ...] = ()
    "Pre-loaded Route set, e.g. ``<sip:outbound.example.com;lr>`` (RFC 3261 §8.1.2)."

    user_agent: str | None = None
    "User-Agent header for REGISTERs; None leaves the core's default."

    extra_headers: tuple[tuple[str, str], ...] = ()
    "(name, value) pairs added to every REGISTER (the facade's addSipMessageHeader)."

    retry_base: float = 30.0
    "First back-off after a failure, in seconds (doubles per consecutive failure)."

    retry_max: float = 1800.0
    "Largest back-off, in seconds."

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a registration needs at least one target")
        if not 1 <= self.expires <= MAX_EXPIRES:
            raise ValueError(f"expires must be 1..{MAX_EXPIRES} seconds, not {self.expires}")
        if self.reg_id < 1:
            raise ValueError(f"reg-id must be positive (RFC 5626 §4.2), not {self.reg_id}")
        if self.instance_id is not None and (
            not self.instance_id or any(c in self.instance_id for c in '"<>\r\n ')
        ):
            raise ValueError(f"instance id {self.instance_id!r} is empty or holds '\"', '<', '>'")
        if self.retry_base <= 0 or self.retry_max < self.retry_base:
            raise ValueError("need 0 < retry_base <= retry_max")
        for name, value in self.extra_headers:
            if header_key(name) in _RESERVED_HEADERS:
                raise ValueError(f"extra header {name!r} is written by the registration itself")
            if "\r" in value or "\n" in value:
                raise ValueError(f"extra header {name!r} value contains CR or LF")

    @property
    def instance_urn(self) -> str | None:
        """``instance_id`` as a URN (a bare UUID gets ``urn:uuid:``), or None."""
        if self.instance_id is None:
            return None
        if self.instance_id.lower().startswith("urn:"):
            return self.instance_id
        return f"urn:uuid:{self.instance_id}"


# --- events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistrationSucceeded(UsageEvent):
    """A REGISTER got a 2xx: the binding exists (the facade's onRegisterSuccess)."""

    usage_id: int
    "The ClientRegistration's id."

    status: int
    "The 2xx status code."

    reason: str
    "Its reason phrase (the facade's statusText)."

    expires: int
    "Seconds the registrar granted: our Contact's expires, else Expires, else what we asked."

    response: Response
    "The 2xx itself (the facade's sipMessage)."

    refreshed: bool
    "True when this renewed a binding that was still live."


@dataclass(frozen=True, slots=True)
class RegistrationFailed(UsageEvent):
    """A REGISTER ended without a binding (the facade's onRegisterFailure)."""

    usage_id: int
    "The ClientRegistration's id."

    status: int | None
    "Final status, or None when no response arrived (Timer F, transport error)."

    reason: str
    "Reason phrase, or a short description of the local failure."

    response: Response | None
    "The final response, kept for applications that read headers."

    retry_at: float | None
    "When the retry policy will try again, or None if it gave up (state FAILED)."


@dataclass(frozen=True, slots=True)
class Unregistered(UsageEvent):
    """The usage is over: the binding was removed, or removal was attempted and failed."""

    usage_id: int
    "The ClientRegistration's id."

    status: int | None
    "Final status of the removing REGISTER, or None (timeout, or nothing was registered)."

    reason: str
    "Reason phrase, or a short description."

    response: Response | None
    "The final response to the removing REGISTER, if one arrived."


# --- the usage -----------------------------------------------------------------------


class ClientRegistration(Usage):
    """RFC 3261 §10 registration of one AOR, refreshed until removed.

    Create it with a ``RegistrationConfig``, hand it to the manager with
    ``UsageManager.add``, then call ``register(now=...)``. Every method that
    sends queues output in the core: drain ``datagrams_to_send()``.
    """

    def __init__(self, host: UsageHost, usage_id: int, *, config: RegistrationConfig) -> None:
        super().__init__(host, usage_id)
        self.config = config
        self._state = RegistrationState.IDLE
        ids = host.ids
        self._call_id = ids.call_id()
        self._from_tag = ids.tag()
        self._cseq = ids.cseq_start() - 1
        self._digest = (DigestClient(config.credentials, cnonce=ids.token)
                        if config.credentials is not None else None)
        self._auth_names: list[str] = []  # headers answered so far, in order
        self._challenges = 0  # consecutive 401/407 for the current attempt
        contact = config.contact
        self._contact = contact.copy() if isinstance(contact, NameAddr) else NameAddr(contact)
        self._old_contact: NameAddr | None = None  # to remove after a contact change
        self._targets: tuple[Destination, ...] = config.targets
        self._requested = config.expires
        self._pending: TransactionKey | None = None  # transaction key of the REGISTER in flight
        self._failures = 0
        self._granted: int | None = None
        self._expires_at: float | None = None

    # --- read-only state -------------------------------------------------------------

    @property
    def state(self) -> RegistrationState:
        return self._state

    @property
    def call_id(self) -> str:
        """The Call-ID shared by every REGISTER of this binding (RFC 3261 §10.2.4)."""
        return self._call_id

    @property
    def contact(self) -> NameAddr:
        """The Contact being registered (without expires/instance parameters)."""
        return self._contact.copy()

    @property
    def expires(self) -> int | None:
        """Seconds granted by the last 2xx, or None before one."""
        return self._granted

    @property
    def expires_at(self) -> float | None:
        """When the last granted binding lapses, or None."""
        return self._expires_at

    @property
    def requested_expires(self) -> int:
        """The lifetime we ask for (raised by a 423's Min-Expires)."""
        return self._requested

    @property
    def failures(self) -> int:
        """Consecutive failures since the last 2xx (retries used)."""
        return self._failures

    # --- application input -----------------------------------------------------------

    def register(self, *, now: float) -> None:
        """Send a REGISTER now: start, restart after FAILED, or refresh early.

        Resets the retry count. Queues output.

        Raises:
            LocalProtocolError: once ``unregister`` was called.
        """
        self._check_active("register")
        self._failures = 0
        self._start_attempt(now=now)

    def network_changed(self, *, now: float, targets: Sequence[Destination] | None = None,
                        contact: SipUri | NameAddr | None = None) -> None:
        """Re-register at once after a transport failure, server restart or new local address.

        Args:
            now: the current time.
            targets: new resolved next hops, if they changed.
            contact: a new Contact, if the local address changed; the old one is
                removed (expires=0) in the same REGISTER when it may still be bound.

        Raises:
            LocalProtocolError: once ``unregister`` was called, or for empty ``targets``.
        """
        self._check_active("network_changed")
        if targets is not None:
            if not targets:
                raise LocalProtocolError("network_changed needs at least one target")
            self._targets = tuple(targets)
        if contact is not None:
            new = contact.copy() if isinstance(contact, NameAddr) else NameAddr(contact)
            if not _same_uri(new.uri, self._contact.uri):
                if self._expires_at is not None and self._expires_at > now:
                    self._old_contact = self._contact
                self._contact = new
        self._failures = 0
        self._start_attempt(now=now)

    def unregister(self, *, now: float) -> None:
        """Remove the binding: REGISTER with Expires 0 (RFC 3261 §10.2.2).

        Emits ``Unregistered`` when the answer (or a timeout) arrives, at once
        when nothing was ever sent; then the usage is finished. Calling it
        again while removing does nothing. Queues output.

        Raises:
            LocalProtocolError: when already unregistered.
        """
        if self._state is RegistrationState.UNREGISTERING:
            return
        if self._state is RegistrationState.UNREGISTERED:
            raise LocalProtocolError("registration already removed")
        self._cancel_timers()
        if self._state is RegistrationState.IDLE:
            self._finish(None, "not registered", None)
            return
        self._state = RegistrationState.UNREGISTERING
        self._challenges = 0
        self._send(now=now)

    # --- core events and timers --------------------------------------------------------

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if not isinstance(event, ResponseReceived | TransactionTimedOut | TransportFailed):
            super().on_event(event, now=now)
            return
        if event.transaction != self._pending:
            return  # an answer to a REGISTER we superseded
        if isinstance(event, ResponseReceived):
            if event.response.status < 200:
                return
            self._pending = None
            if self._state is RegistrationState.UNREGISTERING:
                self._on_unregister_response(event.response, now=now)
            else:
                self._on_register_response(event.response, now=now)
            return
        self._pending = None
        reason = ("no response (timeout)" if isinstance(event, TransactionTimedOut)
                  else "transport failure")
        if self._state is RegistrationState.UNREGISTERING:
            self._finish(None, reason, None)
        else:
            self._failed(None, reason, None, now=now)

    def on_timer(self, name: Hashable, *, now: float) -> None:
        if not isinstance(name, RegistrationTimer):
            super().on_timer(name, now=now)
            return
        due = {RegistrationTimer.REFRESH: RegistrationState.REGISTERED,
               RegistrationTimer.RETRY: RegistrationState.RETRY_WAIT}
        if self._state is due[name]:  # otherwise a stale timer: the state moved on
            self._start_attempt(now=now)

    # --- responses ---------------------------------------------------------------------

    def _on_register_response(self, response: Response, *, now: float) -> None:
        status = response.status
        if status in (401, 407):
            if self._answer_challenge(response, now=now):
                return
            self._failed(status, response.reason, response, now=now)
            return
        self._accepted()
        if status == 423:
            minimum = _min_expires(response)
            if minimum is not None and minimum > self._requested:
                # RFC 3261 §10.2.8: retry with an interval >= Min-Expires.
                self._requested = minimum
                self._send(now=now)
                return
            self._failed(status, response.reason, response, now=now)
            return
        if 200 <= status < 300:
            self._succeeded(response, now=now)
            return
        self._failed(status, response.reason, response, now=now)

    def _on_unregister_response(self, response: Response, *, now: float) -> None:
        if response.status in (401, 407) and self._answer_challenge(response, now=now):
            return
        self._accepted()
        self._finish(response.status, response.reason, response)

    def _answer_challenge(self, response: Response, *, now: float) -> bool:
        """Resend with digest credentials (RFC 3261 §22.2); False: give up."""
        if self._digest is None or self._challenges >= MAX_CHALLENGES:
            return False
        values = response.headers.getall(challenge_header_name(response.status))
        try:
            answer = self._digest.answer(response.status, values, method="REGISTER",
                                         uri=str(self.config.registrar))
        except AuthError:
            return False
        if answer is None:
            return False  # a second non-stale challenge: wrong credentials
        self._challenges += 1
        name = answer[0]
        auth = [answer]
        if any(n != name for n in self._auth_names):
            # a proxy and a registrar both challenge: answer the other one again (nc + 1)
            auth += [h for h in self._digest.reauthorize(
                method="REGISTER", uri=str(self.config.registrar)) if h[0] != name]
        if name not in self._auth_names:
            self._auth_names.append(name)
        self._send(now=now, auth=auth)
        return True

    def _accepted(self) -> None:
        self._challenges = 0
        if self._digest is not None:
            self._digest.accepted()

    def _succeeded(self, response: Response, *, now: float) -> None:
        granted = self._granted_expires(response)
        if granted <= 0:
            self._failed(response.status, "registrar kept no binding for our Contact",
                         response, now=now)
            return
        refreshed = self._state is RegistrationState.REFRESHING
        self._state = RegistrationState.REGISTERED
        self._failures = 0
        self._old_contact = None
        self._granted = granted
        self._expires_at = now + granted
        self.host.cancel_timer(self, RegistrationTimer.RETRY)
        self.host.schedule(self, RegistrationTimer.REFRESH, now + refresh_delay(granted))
        self.host.emit(RegistrationSucceeded(self.id, response.status, response.reason, granted,
                                             response, refreshed))

    def _failed(self, status: int | None, reason: str, response: Response | None, *,
                now: float) -> None:
        self._challenges = 0
        self.host.cancel_timer(self, RegistrationTimer.REFRESH)
        if self._failures < self.config.retry_times:
            self._failures += 1
            after = _retry_after(response)
            delay = after if after is not None else retry_delay(
                self._failures, base=self.config.retry_base, cap=self.config.retry_max)
            retry_at = now + delay
            self._state = RegistrationState.RETRY_WAIT
            self.host.schedule(self, RegistrationTimer.RETRY, retry_at)
            self.host.emit(RegistrationFailed(self.id, status, reason, response, retry_at))
        else:
            self._state = RegistrationState.FAILED
            self.host.cancel_timer(self, RegistrationTimer.RETRY)
            self.host.emit(RegistrationFailed(self.id, status, reason, response, None))

    def _finish(self, status: int | None, reason: str, response: Response | None) -> None:
        self._state = RegistrationState.UNREGISTERED
        self._pending = None
        self._granted = None
        self._expires_at = None
        self._cancel_timers()
        self.host.emit(Unregistered(self.id, status, reason, response))
        self.host.finished(self)

    # --- sending -----------------------------------------------------------------------

    def _check_active(self, what: str) -> None:
        if self._state in (RegistrationState.UNREGISTERING, RegistrationState.UNREGISTERED):
            raise LocalProtocolError(f"{what}() after unregister() (state {self._state.name})")

    def _cancel_timers(self) -> None:
        self.host.cancel_timer(self, RegistrationTimer.REFRESH)
        self.host.cancel_timer(self, RegistrationTimer.RETRY)

    def _start_attempt(self, *, now: float) -> None:
        self._cancel_timers()
        self._challenges = 0
        live = self._expires_at is not None and self._expires_at > now
        self._state = RegistrationState.REFRESHING if live else RegistrationState.REGISTERING
        self._send(now=now)

    def _send(self, *, now: float, auth: list[tuple[str, str]] | None = None) -> None:
        if auth is None and self._digest is not None and self._auth_names:
            auth = self._digest.reauthorize(method="REGISTER", uri=str(self.config.registrar))
        self._cseq += 1
        request = self._build(auth or [])
        self._pending = self.host.send_request_for(self, request, self._targets, now=now)

    def _build(self, auth: list[tuple[str, str]]) -> Request:
        config = self.config
        expires = 0 if self._state is RegistrationState.UNREGISTERING else self._requested
        contacts = []
        if self._old_contact is not None:
            contacts.append(self._contact_value(self._old_contact, 0))
        contacts.append(self._contact_value(self._contact, expires))
        request = Request(
            "REGISTER",
            config.registrar.replace(),
            from_=NameAddr(config.aor.replace(), config.display_name, {"tag": self._from_tag}),
            to=NameAddr(config.aor.replace(), config.display_name),
            call_id=self._call_id,
            cseq=CSeq(self._cseq, "REGISTER"),
            contact=contacts,
            route=[r.copy() for r in config.route],
            expires=expires,
        )
        headers = request.headers
        if config.instance_id is not None:
            headers.add("Supported", "outbound, path")  # RFC 5626 §4.2
        if config.user_agent is not None:
            headers.add("User-Agent", config.user_agent)
        for name, value in config.extra_headers:
            headers.add(name, value)
        for name, value in auth:
            headers.add(name, value)
        return request

    def _contact_value(self, base: NameAddr, expires: int) -> NameAddr:
        contact = base.copy()
        urn = self.config.instance_urn
        if urn is not None:
            contact.params["reg-id"] = str(self.config.reg_id)
            contact.params["+sip.instance"] = f'"<{urn}>"'
        contact.params["expires"] = str(expires)
        return contact

    # --- reading a 2xx -------------------------------------------------------------------

    def _granted_expires(self, response: Response) -> int:
        """Our Contact's ``expires`` in the 2xx, else its Expires header, else what we asked.

        RFC 3261 §10.2.4: the 2xx lists every binding of the AOR; bindings of
        other UAs are ignored.
        """
        for contact in response.contact:
            if self._is_ours(contact):
                value = contact.params.get("expires")
                if value is not None and value.isdigit():
                    return int(value)
                break
        if response.expires is not None:
            return response.expires
        return self._requested

    def _is_ours(self, contact: NameAddr) -> bool:
        urn = self.config.instance_urn
        if urn is not None:
            instance = contact.params.get("+sip.instance")
            if instance is not None and instance.strip('"<>').lower() == urn.lower():
                reg_id = contact.params.get("reg-id")
                return reg_id is None or reg_id == str(self.config.reg_id)
        return _same_uri(contact.uri, self._contact.uri)


def _same_uri(a: object, b: object) -> bool:
    """RFC 3261 §19.1.4 comparison for the parts a registrar echoes.

    Scheme, user and port compare exactly (an omitted port does not match an
    explicit 5060), the host case-insensitively, and the ``transport``,
    ``user`` and ``maddr`` parameters must agree when either side has them.
    """
    if not (isinstance(a, SipUri) and isinstance(b, SipUri)):
        return str(a) == str(b)
    if (a.scheme.lower(), a.user, a.host.lower(), a.port) != (
            b.scheme.lower(), b.user, b.host.lower(), b.port):
        return False
    for name in ("transport", "user", "maddr"):
        left, right = a.params.get(name), b.params.get(name)
        if (left or "").lower() != (right or "").lower():
            return False
    return True


def _min_expires(response: Response) -> int | None:
    value = response.headers.get("Min-Expires")
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _retry_after(response: Response | None) -> float | None:
    """Seconds from a Retry-After header (RFC 3261 §20.33), ignoring comment and params."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    head = value.split(";", 1)[0].split("(", 1)[0].strip()
    return float(head) if head.isdigit() else None
