"""ClientPublication: one piece of event state published to a compositor (RFC 3903).

Knows: RFC 3903 §4 (the EPA side): the initial PUBLISH carries Event, Expires
and the full state as its body (§4.2); the 2xx carries the entity-tag in
SIP-ETag and the granted lifetime in Expires (§11.3, §4.1); a refresh carries
SIP-If-Match and no body (§4.3), a modification SIP-If-Match and the new body
(§4.4), a removal SIP-If-Match and Expires: 0 (§4.5); a 412 Conditional
Request Failed means the compositor lost our entity-tag, so the full state is
published again without SIP-If-Match (§4.6); 423 Interval Too Brief raises the
interval to Min-Expires (§4.2); "the EPA MUST NOT send a new PUBLISH request
(not a re-transmission) for the same Request-URI, while it is waiting for a
final response to a previous PUBLISH request" (§4.1), so a ``modify`` made
while one is in flight waits (the latest wins). 401/407 are answered through
``pager.ChallengeAnswerer``. Must not know: sockets, DNS, clocks or what the
body means (PIDF and friends are built by the ``api`` layer).

Time policy: a refresh is sent ``refresh_delay(granted)`` after a 2xx —
``granted - 60`` when that is past half way, else ``granted / 2`` (3600 ->
3540, 120 -> 60, 60 -> 30), so a refresh that times out (Timer F, 32 s) still
leaves time before the state lapses. Failures are reported, not retried: the
application decides (``publish`` starts over).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from enum import Enum, auto

from voipkit.sip.addressing import Destination
from voipkit.sip.auth import Credentials
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import CoreEvent, ResponseReceived, TransactionTimedOut, TransportFailed
from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.transaction.keys import TransactionKey
from voipkit.sip.uri import SipUri
from voipkit.sip.usage.base import Usage, UsageEvent, UsageHost
from voipkit.sip.usage.pager import ChallengeAnswerer
from voipkit.sip.usage.subscription import refresh_delay  # the same RFC 3903 / 6665 rule

__all__ = [
    "ClientPublication",
    "PublicationConfig",
    "PublicationFailed",
    "PublicationState",
    "Published",
    "Unpublished",
    "refresh_delay",
]


class PublicationState(Enum):
    """IDLE -> PUBLISHING -> PUBLISHED <-> REFRESHING/MODIFYING -> REMOVING -> REMOVED.

    FAILED after a final failure (``publish`` may start over).
    """

    IDLE = auto()
    PUBLISHING = auto()
    PUBLISHED = auto()
    REFRESHING = auto()
    MODIFYING = auto()
    FAILED = auto()
    REMOVING = auto()
    REMOVED = auto()


class _Timer(Enum):
    REFRESH = auto()


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicationConfig:
    """Whose state, which event package, where. Frozen; keyword-only."""

    aor: SipUri
    "The presentity: Request-URI, From and To of every PUBLISH (RFC 3903 §4.1)."

    event: str
    "The event package, e.g. ``presence`` (the Event header)."

    targets: tuple[Destination, ...]
    "Resolved next hops, tried in order."

    expires: int = 3600
    "Requested lifetime in seconds (> 0)."

    credentials: Credentials | None = None
    "Digest credentials for 401/407, or None."

    display_name: str | None = None
    "Display name in From and To."

    route: tuple[NameAddr, ...] = ()
    "Pre-loaded Route set."

    extra_headers: tuple[tuple[str, str], ...] = ()
    "(name, value) pairs added to every PUBLISH."

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("a publication needs at least one target")
        if self.expires <= 0:
            raise ValueError(f"expires must be positive, not {self.expires}")
        if not self.event or any(c in self.event for c in "\r\n"):
            raise ValueError(f"bad event package {self.event!r}")


# --- events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Published(UsageEvent):
    """A PUBLISH got a 2xx: the compositor holds our state under ``etag``."""

    usage_id: int
    "The ClientPublication's id."

    etag: str
    "The entity-tag from SIP-ETag (sent back in SIP-If-Match)."

    expires: int
    "Seconds granted."

    refreshed: bool
    "True for a refresh (no body), False for an initial publication or a modification."


@dataclass(frozen=True, slots=True)
class PublicationFailed(UsageEvent):
    """A PUBLISH failed; the state is FAILED (``publish`` may start over)."""

    usage_id: int
    "The ClientPublication's id."

    status: int | None
    "The final status, or None when no response arrived."

    reason: str
    "Reason phrase or a short description."

    response: Response | None
    "The final response, when one arrived."


@dataclass(frozen=True, slots=True)
class Unpublished(UsageEvent):
    """``remove`` is done (or nothing was published); the usage is finished."""

    usage_id: int
    "The ClientPublication's id."

    status: int | None
    "The final status of the removing PUBLISH, or None (timeout, nothing published)."


# --- the usage -----------------------------------------------------------------------


class ClientPublication(Usage):
    """RFC 3903 event state publication, refreshed until removed.

    Hand it to the manager with ``UsageManager.add``, then call
    ``publish(body, content_type, now=...)``. Every method that sends queues
    output in the core.
    """

    def __init__(self, host: UsageHost, usage_id: int, *, config: PublicationConfig) -> None:
        super().__init__(host, usage_id)
        self.config = config
        self._state = PublicationState.IDLE
        self._call_id = host.ids.call_id()
        self._from_tag = host.ids.tag()
        self._cseq = host.ids.cseq_start() - 1
        self._auth = ChallengeAnswerer(config.credentials, host.ids)
        self._requested = config.expires
        self._etag: str | None = None
        self._body: tuple[bytes, str] | None = None  # the full state we publish
        self._queued: tuple[bytes, str] | None = None  # a modify waiting for the final response
        self._remove_queued = False
        self._pending: TransactionKey | None = None
        self._expires_at: float | None = None

    # --- read-only state -------------------------------------------------------------

    @property
    def state(self) -> PublicationState:
        return self._state

    @property
    def etag(self) -> str | None:
        """The entity-tag of the last 2xx, or None."""
        return self._etag

    @property
    def expires_at(self) -> float | None:
        """When the published state lapses at the compositor, or None."""
        return self._expires_at

    @property
    def requested_expires(self) -> int:
        """The lifetime asked for (raised by a 423's Min-Expires)."""
        return self._requested

    # --- application input -----------------------------------------------------------

    def publish(self, body: bytes, content_type: str, *, now: float) -> None:
        """Publish ``body`` as the full state: initially, again after FAILED, or as a change.

        Once published, this is ``modify``. Queues output.

        Raises:
            LocalProtocolError: after ``remove``.
        """
        if self._etag is not None and self._state is not PublicationState.FAILED:
            self.modify(body, content_type, now=now)
            return
        self._check_active("publish")
        self._body = (body, content_type)
        if self._pending is not None:
            self._queued = self._body
            return
        self._state = PublicationState.PUBLISHING
        self._etag = None
        self._send(now=now)

    def modify(self, body: bytes, content_type: str, *, now: float) -> None:
        """Replace the published state (SIP-If-Match with the new body, RFC 3903 §4.4).

        Raises:
            LocalProtocolError: before a first ``publish`` or after ``remove``.
        """
        self._check_active("modify")
        if self._body is None:
            raise LocalProtocolError("modify() before publish()")
        self._body = (body, content_type)
        if self._pending is not None:
            self._queued = self._body
            return
        self._state = PublicationState.MODIFYING
        self._send(now=now)

    def remove(self, *, now: float) -> None:
        """Remove the state (SIP-If-Match, Expires: 0, RFC 3903 §4.5); ends with Unpublished.

        Raises:
            LocalProtocolError: when already removed.
        """
        if self._state in (PublicationState.REMOVING, PublicationState.REMOVED):
            if self._state is PublicationState.REMOVED:
                raise LocalProtocolError("publication already removed")
            return
        self.host.cancel_timer(self, _Timer.REFRESH)
        self._queued = None
        if self._etag is None and self._pending is None:
            self._finish(None)
            return
        if self._pending is not None:
            self._remove_queued = True
            return
        self._state = PublicationState.REMOVING
        self._send(now=now)

    # --- core events and timers --------------------------------------------------------

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if not isinstance(event, ResponseReceived | TransactionTimedOut | TransportFailed):
            super().on_event(event, now=now)
            return
        if event.transaction != self._pending:
            return
        if isinstance(event, ResponseReceived):
            if event.response.status < 200:
                return
            self._pending = None
            self._on_final(event.response, event.request, now=now)
        else:
            self._pending = None
            reason = ("no response (timeout)" if isinstance(event, TransactionTimedOut)
                      else "transport failure")
            if self._state is PublicationState.REMOVING:
                self._finish(None)
            else:
                self._failed(None, reason, None)
        self._send_queued(now=now)

    def on_timer(self, name: Hashable, *, now: float) -> None:
        if name is not _Timer.REFRESH:
            super().on_timer(name, now=now)
            return
        if self._state is PublicationState.PUBLISHED and self._pending is None:
            self._state = PublicationState.REFRESHING
            self._send(now=now)

    def _on_final(self, response: Response, request: Request, *, now: float) -> None:
        status = response.status
        if status in (401, 407):
            auth = self._auth.answer(response, method="PUBLISH", uri=str(request.uri),
                                     body=request.body)
            if auth is not None:
                self._send(now=now, auth=auth)
                return
        else:
            self._auth.accepted()
        removing = self._state is PublicationState.REMOVING
        if status == 412 and not removing and self._body is not None:
            # RFC 3903 §4.6: the compositor has no state for our entity-tag; start over.
            self._etag = None
            self._state = PublicationState.PUBLISHING
            self._send(now=now)
            return
        if status == 423 and not removing:
            minimum = _min_expires(response)
            if minimum is not None and minimum > self._requested:
                self._requested = minimum
                self._send(now=now)
                return
        if removing:
            self._finish(status)
            return
        if 200 <= status < 300:
            self._succeeded(response, now=now)
            return
        self._failed(status, response.reason, response)

    def _succeeded(self, response: Response, *, now: float) -> None:
        etag = response.headers.get("SIP-ETag")
        if etag is None or not etag.strip():
            self._failed(response.status, "2xx to PUBLISH without SIP-ETag", response)
            return
        granted = response.expires if response.expires is not None else self._requested
        if granted <= 0:
            self._failed(response.status, "compositor granted no lifetime", response)
            return
        refreshed = self._state is PublicationState.REFRESHING
        self._etag = etag.strip()
        self._state = PublicationState.PUBLISHED
        self._expires_at = now + granted
        self.host.schedule(self, _Timer.REFRESH, now + refresh_delay(granted))
        self.host.emit(Published(self.id, self._etag, granted, refreshed))

    def _failed(self, status: int | None, reason: str, response: Response | None) -> None:
        self._state = PublicationState.FAILED
        self._etag = None
        self._expires_at = None
        self.host.cancel_timer(self, _Timer.REFRESH)
        self._queued = None
        self.host.emit(PublicationFailed(self.id, status, reason, response))
        if self._remove_queued:
            self._finish(None)

    def _finish(self, status: int | None) -> None:
        self._state = PublicationState.REMOVED
        self._etag = None
        self._expires_at = None
        self._queued = None
        self._remove_queued = False
        self.host.cancel_timer(self, _Timer.REFRESH)
        self.host.emit(Unpublished(self.id, status))
        self.host.finished(self)

    def _send_queued(self, *, now: float) -> None:
        if self._pending is not None or self._state is PublicationState.REMOVED:
            return
        if self._remove_queued:
            self._remove_queued = False
            if self._etag is None:
                self._finish(None)
            else:
                self.host.cancel_timer(self, _Timer.REFRESH)
                self._state = PublicationState.REMOVING
                self._send(now=now)
            return
        if self._queued is not None:
            self._body, self._queued = self._queued, None
            self._state = (PublicationState.MODIFYING if self._etag is not None
                           else PublicationState.PUBLISHING)
            self._send(now=now)

    # --- sending -----------------------------------------------------------------------

    def _check_active(self, what: str) -> None:
        if self._state in (PublicationState.REMOVING, PublicationState.REMOVED):
            raise LocalProtocolError(f"{what}() after remove() (state {self._state.name})")

    def _send(self, *, now: float, auth: Sequence[tuple[str, str]] | None = None) -> None:
        config = self.config
        state = self._state
        with_body = state in (PublicationState.PUBLISHING, PublicationState.MODIFYING)
        body, content_type = self._body if with_body and self._body else (b"", None)
        if auth is None:
            auth = self._auth.preemptive(method="PUBLISH", uri=str(config.aor), body=body)
        self._cseq += 1
        request = Request(
            "PUBLISH", config.aor.replace(),
            from_=NameAddr(config.aor.replace(), config.display_name, {"tag": self._from_tag}),
            to=NameAddr(config.aor.replace(), config.display_name),
            call_id=self._call_id, cseq=CSeq(self._cseq, "PUBLISH"),
            route=[r.copy() for r in config.route],
            body=body, content_type=content_type,
        )
        request.expires = 0 if state is PublicationState.REMOVING else self._requested
        headers = request.headers
        headers.add("Event", config.event)
        if self._etag is not None and state is not PublicationState.PUBLISHING:
            headers.add("SIP-If-Match", self._etag)
        for name, value in (*config.extra_headers, *auth):
            headers.add(name, value)
        self._pending = self.host.send_request_for(self, request, config.targets, now=now)


def _min_expires(response: Response) -> int | None:
    value = response.headers.get("Min-Expires")
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())
