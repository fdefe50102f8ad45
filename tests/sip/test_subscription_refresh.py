"""A failed subscription refresh is an event with exact deadlines (RFC 6665 §4.1.2.2).

Proves, on the in-memory network with default timers: a subscription granted 600 s at
t=0 refreshes at exactly 540.0; when every refresh is lost, Timer F fires at 572.0
(540 + 64*T1) and the subscriber emits SubscriptionRefreshFailed(status None,
expires_at 600.0) then and not before; the subscription then ends at 600.0 with reason
``timeout``. A refresh refused with 500 emits SubscriptionRefreshFailed(500) at the
moment of the answer and keeps the subscription until its expiry; a 481 ends it at
once (``refresh-rejected``), with no refresh-failure event.
"""

from __future__ import annotations

from invite_helpers import BOB_AT, Call, make_call

from voipkit.sip.message import NameAddr, Request
from voipkit.sip.uri import SipUri
from voipkit.sip.usage.subscription import (
    ClientState,
    ClientSubscription,
    EventPackagePolicy,
    ServerSubscription,
    SubscribeReceived,
    SubscriptionConfig,
    SubscriptionRefreshFailed,
    SubscriptionTerminated,
    reject_unknown_notify,
    subscription_factory,
)
from voipkit.testing import is_request

PIDF = "application/pidf+xml"
POLICY = EventPackagePolicy(contact=NameAddr.parse("<sip:bob@127.0.0.2:5060>"))


def _active() -> tuple[Call, ClientSubscription]:
    call = make_call()
    call.bob.on_new_request("SUBSCRIBE", subscription_factory({"presence": POLICY}))
    call.alice.on_new_request("NOTIFY", reject_unknown_notify())
    config = SubscriptionConfig(
        event="presence", request_uri=SipUri.parse("sip:bob@127.0.0.2"),
        from_=NameAddr.parse("<sip:alice@example.com>"), to=NameAddr.parse("<sip:bob@example.com>"),
        contact=NameAddr.parse("<sip:alice@127.0.0.1:5060>"), targets=(BOB_AT,), expires=600,
        accept=(PIDF,))
    sub = ClientSubscription(call.alice, call.alice.new_usage_id(), config=config)
    call.alice.add(sub)
    sub.subscribe(now=0.0)
    call.settle()
    [event] = call.of("bob", SubscribeReceived)
    assert isinstance(event, SubscribeReceived)
    server = call.bob.usage(event.usage_id)
    assert isinstance(server, ServerSubscription)
    server.accept(b"<presence/>", PIDF, now=0.0)
    call.settle()
    assert call.network.now == 0.0 and sub.state is ClientState.ACTIVE
    assert sub.expires_at == 600.0
    return call, sub


def _refresh_times(call: Call) -> list[float]:
    return [p.sent_at for p in call.network.delivered + call.network.dropped
            if isinstance(p.message, Request) and p.message.method == "SUBSCRIBE"
            and p.message.to.tag is not None]


def test_lost_refresh_fails_at_timer_f_and_lapses_at_expiry() -> None:
    call, sub = _active()
    call.network.drop(is_request("SUBSCRIBE"), count=100)
    call.run(until=539.999)
    assert _refresh_times(call) == []
    call.run(until=540.0)
    assert _refresh_times(call) == [540.0]
    call.run(until=571.999)
    assert call.of("alice", SubscriptionRefreshFailed) == []
    call.run(until=572.0)
    assert call.of("alice", SubscriptionRefreshFailed) == [
        SubscriptionRefreshFailed(sub.id, None, 600.0)]
    assert sub.state is ClientState.ACTIVE
    call.run(until=599.999)
    assert call.of("alice", SubscriptionTerminated) == []
    call.run(until=600.0)
    assert [e.reason for e in call.of("alice", SubscriptionTerminated)  # type: ignore[attr-defined]
            ] == ["timeout"]
    assert sub.id not in call.alice.usages


def test_refresh_refused_500_reports_then_lapses() -> None:
    call, sub = _active()
    (server,) = [u for u in call.bob.usages.values() if isinstance(u, ServerSubscription)]
    # bob's application answers the refresh 500 instead of its subscription usage
    call.bob.finished(server)
    call.run(until=539.0)
    refresh_seen: list[float] = []

    def refuse() -> None:
        while (event := call.bob.next_event()) is not None:
            request = getattr(event, "request", None)
            if isinstance(request, Request) and request.method == "SUBSCRIBE":
                refresh_seen.append(call.network.now)
                call.bob.send_response(call.bob.core.create_response(request, 500),
                                       now=call.network.now)

    call.network.run(until=540.0)
    refuse()
    call.network.run(until=540.0)
    call.alice_events.extend(iter(call.alice.next_event, None))
    assert refresh_seen == [540.0]
    assert call.of("alice", SubscriptionRefreshFailed) == [
        SubscriptionRefreshFailed(sub.id, 500, 600.0)]
    assert sub.state is ClientState.ACTIVE
    call.network.run(until=600.0)
    call.alice_events.extend(iter(call.alice.next_event, None))
    assert [e.reason for e in call.of("alice", SubscriptionTerminated)  # type: ignore[attr-defined]
            ] == ["timeout"]


def test_refresh_answered_481_ends_at_once() -> None:
    call, sub = _active()
    (server,) = [u for u in call.bob.usages.values() if isinstance(u, ServerSubscription)]
    assert server.dialog_id is not None
    call.bob.core.remove_dialog(server.dialog_id)  # bob forgot it: the core answers 481
    call.bob.finished(server)
    call.run(until=540.0)
    assert [e.reason for e in call.of("alice", SubscriptionTerminated)  # type: ignore[attr-defined]
            ] == ["refresh-rejected"]
    assert call.of("alice", SubscriptionRefreshFailed) == []
    assert sub.id not in call.alice.usages
