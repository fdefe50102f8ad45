"""ClientPublication (RFC 3903) against a small compositor on an InMemoryNetwork. Proves: the
initial PUBLISH carries Event, Expires and the body without SIP-If-Match; the 2xx's SIP-ETag
is stored and the refresh goes out at exactly refresh_delay(granted) after it with
SIP-If-Match and no body; modify sends SIP-If-Match with the new body, and a modify made
while a PUBLISH is in flight waits for its final response; a 412 makes the usage publish the
full state again without SIP-If-Match; 423 raises the interval to Min-Expires; a 401 is
answered with digest credentials; remove sends Expires: 0 with SIP-If-Match and ends with
Unpublished; failures (403, a 2xx without SIP-ETag, Timer F at 32.0 s) end in FAILED.
"""

from __future__ import annotations

import itertools
from collections import deque

import pytest
from tests.sip.invite_helpers import BOB_AT, Call, make_call

from voipkit.sip.auth import Credentials, DigestResponse, DigestServer, Qop, Verdict
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import Request
from voipkit.sip.ua import DEFAULT_ALLOW, CoreConfig
from voipkit.sip.uri import SipUri
from voipkit.sip.usage.publication import (
    ClientPublication,
    PublicationConfig,
    PublicationFailed,
    PublicationState,
    Published,
    Unpublished,
    refresh_delay,
)

PIDF = "application/pidf+xml"
OPEN = b"<presence>open</presence>"
CLOSED = b"<presence>closed</presence>"


class Compositor:
    """bob as an event state compositor: keeps one state per entity-tag."""

    def __init__(self, call: Call, *, min_expires: int | None = None,
                 challenge: bool = False) -> None:
        self.call = call
        self.min_expires = min_expires
        self.states: dict[str, bytes] = {}
        self.requests: list[Request] = []
        self.script: deque[tuple[int, list[tuple[str, str]]]] = deque()
        self.etags = (f"e{n}" for n in itertools.count(1))
        counter = itertools.count(1)
        self.digest = (DigestServer(realm="example.com", nonce=lambda: f"n{next(counter)}",
                                    qop=(Qop.AUTH,)) if challenge else None)
        self.verdicts: list[Verdict] = []

    def serve(self) -> None:
        events = [e for e in self.call.bob_events if isinstance(e, RequestReceived)]
        self.call.bob_events = [e for e in self.call.bob_events if e not in events]
        for event in events:
            self._answer(event.request)

    def _reply(self, request: Request, status: int, headers: list[tuple[str, str]]) -> None:
        bob = self.call.bob
        response = bob.core.create_response(request, status)
        for name, value in headers:
            response.headers.add(name, value)
        bob.send_response(response, now=self.call.network.now)

    def _answer(self, request: Request) -> None:
        self.requests.append(request)
        if self.script:
            status, headers = self.script.popleft()
            self._reply(request, status, headers)
            return
        if self.digest is not None and not self._authorized(request):
            headers = [("WWW-Authenticate", str(c))
                       for c in self.digest.challenges(now=self.call.network.now)]
            self._reply(request, 401, headers)
            return
        expires = request.expires if request.expires is not None else 3600
        if self.min_expires is not None and 0 < expires < self.min_expires:
            self._reply(request, 423, [("Min-Expires", str(self.min_expires))])
            return
        match = request.headers.get("SIP-If-Match")
        if match is not None and match not in self.states:
            self._reply(request, 412, [])
            return
        body = request.body if request.body else self.states.get(match or "", b"")
        if match is not None:
            del self.states[match]
        if expires == 0:
            self._reply(request, 200, [])
            return
        etag = next(self.etags)
        self.states[etag] = body
        self._reply(request, 200, [("SIP-ETag", etag), ("Expires", str(expires))])

    def _authorized(self, request: Request) -> bool:
        assert self.digest is not None
        value = request.headers.get("Authorization")
        if value is None:
            return False
        verification = self.digest.verify(DigestResponse.parse(value),
                                          Credentials("alice", "secret"), method="PUBLISH",
                                          now=self.call.network.now,
                                          request_uri=str(request.uri), body=request.body)
        self.verdicts.append(verification.verdict)
        return verification.verdict is Verdict.ACCEPTED


def setup(*, expires: int = 3600, min_expires: int | None = None, challenge: bool = False,
          credentials: Credentials | None = None
          ) -> tuple[Call, Compositor, ClientPublication]:
    call = make_call(config=CoreConfig(allow=(*DEFAULT_ALLOW, "PUBLISH")))
    compositor = Compositor(call, min_expires=min_expires, challenge=challenge)
    config = PublicationConfig(aor=SipUri.parse("sip:alice@example.com"), event="presence",
                               targets=(BOB_AT,), expires=expires, credentials=credentials)
    publication = ClientPublication(call.alice, call.alice.new_usage_id(), config=config)
    call.alice.add(publication)
    return call, compositor, publication


def exchange(call: Call, compositor: Compositor) -> None:
    """Deliver, let the compositor answer, until quiet."""
    while True:
        call.settle()
        if not any(isinstance(e, RequestReceived) for e in call.bob_events):
            return
        compositor.serve()


def run_serving(call: Call, compositor: Compositor, until: float) -> None:
    """Advance time to ``until``, the compositor answering what arrives."""
    while (deadline := call.network.next_time()) is not None and deadline <= until:
        call.network.step()
        call.pump()
        exchange(call, compositor)
    call.run(until)


def test_publish_refresh_412_republish_and_remove() -> None:
    call, compositor, publication = setup(expires=600)
    publication.publish(OPEN, PIDF, now=0.0)
    exchange(call, compositor)
    first = compositor.requests[0]
    assert first.headers.get("Event") == "presence"
    assert first.expires == 600
    assert first.body == OPEN and first.content_type == PIDF
    assert "SIP-If-Match" not in first.headers
    assert call.of("alice", Published) == [Published(publication.id, "e1", 600, False)]
    assert publication.etag == "e1" and publication.expires_at == 600.0

    assert refresh_delay(600) == 540.0
    run_serving(call, compositor, 539.999)
    assert len(compositor.requests) == 1
    run_serving(call, compositor, 540.0)
    refresh = compositor.requests[1]
    assert refresh.headers.get("SIP-If-Match") == "e1"
    assert refresh.body == b"" and refresh.content_type is None
    assert refresh.call_id == first.call_id and refresh.cseq.seq == first.cseq.seq + 1
    assert call.of("alice", Published)[-1] == Published(publication.id, "e2", 600, True)
    assert compositor.states == {"e2": OPEN}

    compositor.states.clear()  # the compositor restarts and forgets us
    publication.modify(CLOSED, PIDF, now=call.network.now)
    exchange(call, compositor)
    modify, republish = compositor.requests[2:]
    assert (modify.headers.get("SIP-If-Match"), modify.body) == ("e2", CLOSED)
    assert "SIP-If-Match" not in republish.headers and republish.body == CLOSED
    assert call.of("alice", Published)[-1] == Published(publication.id, "e3", 600, False)
    assert compositor.states == {"e3": CLOSED}

    publication.remove(now=call.network.now)
    exchange(call, compositor)
    removal = compositor.requests[-1]
    assert removal.expires == 0 and removal.headers.get("SIP-If-Match") == "e3"
    assert removal.body == b""
    assert call.of("alice", Unpublished) == [Unpublished(publication.id, 200)]
    assert publication.state is PublicationState.REMOVED
    assert call.alice.usage(publication.id) is None
    assert compositor.states == {}


def test_modify_while_in_flight_waits_for_the_final_response() -> None:
    call, compositor, publication = setup()
    publication.publish(OPEN, PIDF, now=0.0)
    publication.modify(CLOSED, PIDF, now=0.0)
    call.settle()
    assert len([e for e in call.bob_events if isinstance(e, RequestReceived)]) == 1
    exchange(call, compositor)
    first, second = compositor.requests
    assert first.body == OPEN and "SIP-If-Match" not in first.headers
    assert second.body == CLOSED and second.headers.get("SIP-If-Match") == "e1"
    assert compositor.states == {"e2": CLOSED}


def test_423_raises_the_interval() -> None:
    call, compositor, publication = setup(expires=60, min_expires=300)
    publication.publish(OPEN, PIDF, now=0.0)
    exchange(call, compositor)
    assert [r.expires for r in compositor.requests] == [60, 300]
    assert compositor.requests[1].body == OPEN
    assert publication.requested_expires == 300
    assert call.of("alice", Published) == [Published(publication.id, "e1", 300, False)]


def test_401_is_answered() -> None:
    call, compositor, publication = setup(challenge=True,
                                          credentials=Credentials("alice", "secret"))
    publication.publish(OPEN, PIDF, now=0.0)
    exchange(call, compositor)
    assert compositor.verdicts == [Verdict.ACCEPTED]
    assert call.of("alice", Published) == [Published(publication.id, "e1", 3600, False)]


@pytest.mark.parametrize(("status", "headers", "reason"), [
    (403, [], "Forbidden"),
    (200, [("Expires", "60")], "2xx to PUBLISH without SIP-ETag"),
])
def test_failure_reports_and_stops(status: int, headers: list[tuple[str, str]],
                                   reason: str) -> None:
    call, compositor, publication = setup()
    compositor.script.append((status, headers))
    publication.publish(OPEN, PIDF, now=0.0)
    exchange(call, compositor)
    [failed] = call.of("alice", PublicationFailed)
    assert isinstance(failed, PublicationFailed)
    assert (failed.status, failed.reason) == (status, reason)
    assert publication.state is PublicationState.FAILED
    assert publication.expires_at is None and publication.etag is None
    publication.publish(OPEN, PIDF, now=call.network.now)  # starting over is allowed
    exchange(call, compositor)
    assert call.of("alice", Published) == [Published(publication.id, "e1", 3600, False)]


def test_timeout_fails_at_timer_f() -> None:
    call, _, publication = setup()
    publication.publish(OPEN, PIDF, now=0.0)
    call.network.drop(lambda p: isinstance(p.message, Request), count=100)
    call.run(31.999)
    assert call.of("alice", PublicationFailed) == []
    call.run(32.0)
    assert call.of("alice", PublicationFailed) == [
        PublicationFailed(publication.id, None, "no response (timeout)", None)]


def test_remove_before_anything_was_published() -> None:
    call, _, publication = setup()
    publication.remove(now=0.0)
    call.pump()
    assert call.of("alice", Unpublished) == [Unpublished(publication.id, None)]
    with pytest.raises(LocalProtocolError):
        publication.publish(OPEN, PIDF, now=0.0)
    with pytest.raises(LocalProtocolError):
        publication.remove(now=0.0)


def test_modify_before_publish_raises() -> None:
    _, _, publication = setup()
    with pytest.raises(LocalProtocolError):
        publication.modify(OPEN, PIDF, now=0.0)
