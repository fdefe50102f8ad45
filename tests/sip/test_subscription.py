"""ClientSubscription and ServerSubscription (RFC 6665) between two UsageManagers on an
InMemoryNetwork. Proves: SUBSCRIBE carries Event, Accept and Expires; the notifier's factory
dispatches on the Event package (489 with Allow-Events otherwise); accept answers 200 and
sends the first NOTIFY at once, which makes the subscriber active; the refresh goes out at
exactly refresh_delay(600) = 540.0 s inside the dialog and is answered with a NOTIFY;
unsubscribe (Expires: 0) ends both sides after the final NOTIFY; a notifier's termination
with retry-after reaches the subscriber; a NOTIFY arriving before the 2xx is passed up by
the core and creates the dialog, while another fork's NOTIFY, or one for a subscriber that
has finished, gets 481; a body type outside Accept gets 415, a body the package parser
refuses gets 400, neither ends the subscription (NotifyRejected); a NOTIFY for an unknown
subscription gets 481 (out of dialog, unknown dialog, other Event id) and one without
Subscription-State or Event gets 400 without ending the subscription; without any NOTIFY the
subscriber gives up 64*T1 = 32 s after the 2xx; the notifier ends an unrefreshed
subscription at its expiry with terminated;reason=timeout; a SUBSCRIBE nobody answers is
answered 408 at 64*T1 and its usage ends.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.sip.invite_helpers import ALICE_AT, BOB_AT, Call, make_call

from voipkit.sip.bodies import Basic, Pidf, PidfTuple, build_pidf, parse_pidf
from voipkit.sip.events import ResponseReceived
from voipkit.sip.message import CSeq, NameAddr, Request, Response, parse_message
from voipkit.sip.uri import SipUri
from voipkit.sip.usage.manager import UsageManager
from voipkit.sip.usage.subscription import (
    ClientState,
    ClientSubscription,
    EventPackagePolicy,
    NotifyReceived,
    NotifyRejected,
    ServerState,
    ServerSubscription,
    SubscribeReceived,
    SubscriptionActive,
    SubscriptionConfig,
    SubscriptionEnded,
    SubscriptionFailed,
    SubscriptionPending,
    SubscriptionRefreshed,
    SubscriptionState,
    SubscriptionTerminated,
    SubState,
    parse_subscription_state,
    refresh_delay,
    reject_unknown_notify,
    subscription_factory,
)
from voipkit.testing import is_request, is_response

PIDF = "application/pidf+xml"
OPEN = b"<presence>open</presence>"
CLOSED = b"<presence>closed</presence>"
POLICY = EventPackagePolicy(contact=NameAddr.parse("<sip:bob@127.0.0.2:5060>"))


def subscription_call() -> Call:
    call = make_call()
    call.bob.on_new_request("SUBSCRIBE", subscription_factory({"presence": POLICY}))
    call.alice.on_new_request("NOTIFY", reject_unknown_notify())
    return call


def config(event: str = "presence", expires: int = 600,
           parse_body: Callable[[bytes, str | None], object] | None = None,
           ) -> SubscriptionConfig:
    return SubscriptionConfig(
        event=event, request_uri=SipUri.parse("sip:bob@127.0.0.2"),
        from_=NameAddr.parse("Alice <sip:alice@example.com>"),
        to=NameAddr.parse("<sip:bob@example.com>"),
        contact=NameAddr.parse("<sip:alice@127.0.0.1:5060>"), targets=(BOB_AT,),
        expires=expires, accept=(PIDF,), parse_body=parse_body)


def subscribe(call: Call, *, event: str = "presence", expires: int = 600,
              host: UsageManager | None = None,
              parse_body: Callable[[bytes, str | None], object] | None = None,
              ) -> ClientSubscription:
    sub = ClientSubscription(host or call.alice, call.alice.new_usage_id(),  # type: ignore[arg-type]
                             config=config(event, expires, parse_body))
    call.alice.add(sub)
    sub.subscribe(now=call.network.now)
    return sub


def server_of(call: Call) -> ServerSubscription:
    [event] = call.of("bob", SubscribeReceived)
    assert isinstance(event, SubscribeReceived)
    usage = call.bob.usage(event.usage_id)
    assert isinstance(usage, ServerSubscription)
    return usage


def requests(call: Call, method: str) -> list[Request]:
    return [p.message for p in call.network.delivered
            if isinstance(p.message, Request) and p.message.method == method]


def active(call: Call) -> tuple[ClientSubscription, ServerSubscription]:
    sub = subscribe(call)
    call.settle()
    server = server_of(call)
    server.accept(OPEN, PIDF, now=call.network.now)
    call.settle()
    assert sub.state is ClientState.ACTIVE
    return sub, server


def test_subscribe_notify_refresh_unsubscribe() -> None:
    call = subscription_call()
    sub = subscribe(call)
    call.settle()
    [initial] = requests(call, "SUBSCRIBE")
    assert initial.headers.get("Event") == "presence"
    assert initial.headers.get("Accept") == PIDF
    assert initial.expires == 600 and initial.to.tag is None
    server = server_of(call)
    assert call.of("bob", SubscribeReceived)[0] == SubscribeReceived(
        server.id, "presence", server.request, 600)  # type: ignore[arg-type]

    server.accept(OPEN, PIDF, now=0.0)
    call.settle()
    [notify] = requests(call, "NOTIFY")
    assert notify.headers.get("Subscription-State") == "active;expires=600"
    [received] = call.of("alice", NotifyReceived)
    assert isinstance(received, NotifyReceived)
    assert (received.body, received.content_type) == (OPEN, PIDF)
    assert received.state == SubscriptionState(SubState.ACTIVE, 600)
    assert call.of("alice", SubscriptionActive) == [SubscriptionActive(sub.id, 600)]
    assert sub.expires_at == 600.0 and sub.dialog_id is not None

    assert refresh_delay(600) == 540.0
    call.run(539.999)
    assert len(requests(call, "SUBSCRIBE")) == 1
    call.run(540.0)
    refresh = requests(call, "SUBSCRIBE")[1]
    assert refresh.to.tag == sub.dialog_id.remote_tag and refresh.expires == 600
    assert refresh.cseq.seq == initial.cseq.seq + 1
    assert call.of("bob", SubscriptionRefreshed) == [SubscriptionRefreshed(server.id, 600)]
    assert len(call.of("alice", NotifyReceived)) == 2
    assert sub.expires_at == 1140.0 and server.expires_at == 1140.0
    assert len(call.of("alice", SubscriptionActive)) == 1  # no change, no new event

    sub.unsubscribe(now=call.network.now)
    call.settle()
    assert requests(call, "SUBSCRIBE")[2].expires == 0
    final = requests(call, "NOTIFY")[-1]
    assert final.headers.get("Subscription-State") == "terminated;reason=timeout"
    assert final.body == OPEN
    assert call.of("alice", SubscriptionTerminated) == [
        SubscriptionTerminated(sub.id, "unsubscribed", None)]
    assert call.of("bob", SubscriptionEnded) == [SubscriptionEnded(server.id, "unsubscribed")]
    assert call.alice.usage(sub.id) is None and call.bob.usage(server.id) is None
    assert not call.alice.core.dialogs and not call.bob.core.dialogs


def test_pending_then_active() -> None:
    call = subscription_call()
    sub = subscribe(call)
    call.settle()
    server = server_of(call)
    server.accept(now=0.0, pending=True)
    call.settle()
    assert call.of("alice", SubscriptionPending) == [SubscriptionPending(sub.id, 600)]
    call.run(10.0)
    server.notify(OPEN, PIDF, active=True, now=10.0)
    call.settle()
    assert call.of("alice", SubscriptionActive) == [SubscriptionActive(sub.id, 590)]
    assert sub.expires_at == 600.0


def test_server_termination_with_retry_after() -> None:
    call = subscription_call()
    sub, server = active(call)
    server.terminate("deactivated", retry_after=30, now=call.network.now)
    call.settle()
    assert requests(call, "NOTIFY")[-1].headers.get("Subscription-State") == (
        "terminated;reason=deactivated;retry-after=30")
    assert call.of("alice", SubscriptionTerminated) == [
        SubscriptionTerminated(sub.id, "deactivated", 30)]
    assert call.of("bob", SubscriptionEnded) == [SubscriptionEnded(server.id, "deactivated")]
    assert server.state is ServerState.ENDED
    assert not call.alice.core.dialogs and not call.bob.core.dialogs


def test_notify_before_2xx_creates_the_dialog() -> None:
    call = subscription_call()
    call.network.hold(is_response(200, "SUBSCRIBE"), 1.0)
    sub = subscribe(call)
    call.run(0.0)
    server = server_of(call)
    server.accept(OPEN, PIDF, now=0.0)
    call.run(0.0)
    # RFC 6665 §4.1.2.4: the core passed the early NOTIFY up and the manager routed it here
    [notify] = requests(call, "NOTIFY")
    assert sub.dialog_id is not None and sub.dialog_id in call.alice.core.dialogs
    assert sub.dialog_id.remote_tag == notify.from_.tag
    assert sub.state is ClientState.ACTIVE
    [answer] = [p.message for p in call.network.delivered
                if isinstance(p.message, Response) and p.message.cseq.method == "NOTIFY"]
    assert isinstance(answer, Response) and answer.status == 200
    assert call.alice.core.counters.get("answered_481", 0) == 0
    call.run(1.0)  # the held 200 arrives: same dialog, nothing new
    assert list(call.alice.core.dialogs) == [sub.dialog_id]
    server.notify(CLOSED, PIDF, now=2.0)  # in the dialog the NOTIFY created
    call.settle()
    bodies = [e.body for e in call.of("alice", NotifyReceived)
              if isinstance(e, NotifyReceived)]
    assert bodies == [OPEN, CLOSED]
    assert call.of("bob", SubscriptionEnded) == []
    sub.refresh(now=3.0)
    call.settle()
    assert requests(call, "SUBSCRIBE")[-1].cseq.seq == requests(call, "SUBSCRIBE")[0].cseq.seq + 1


def early_notify(call: Call, sub: ClientSubscription, from_tag: str) -> int:
    """bob sends a NOTIFY for ``sub`` before any 2xx (To tag = alice's From tag); the status."""
    [subscribe_request] = [m for m in (parse_message(p.data) for p in call.network.dropped)
                           if isinstance(m, Request) and m.call_id == sub.call_id][:1]
    request = Request("NOTIFY", SipUri.parse("sip:alice@127.0.0.1:5060"),
                      from_=NameAddr.parse(f"<sip:bob@example.com>;tag={from_tag}"),
                      to=subscribe_request.from_.copy(), call_id=subscribe_request.call_id,
                      cseq=CSeq(1, "NOTIFY"),
                      contact=[NameAddr.parse("<sip:bob@127.0.0.2:5060>")])
    request.headers.add("Event", "presence")
    request.headers.add("Subscription-State", "active;expires=600")
    call.bob.send_request(request, [ALICE_AT], now=call.network.now)
    call.settle()
    [answer] = [p.message for p in call.network.delivered
                if isinstance(p.message, Response) and p.message.call_id == request.call_id
                and p.message.cseq == request.cseq and p.message.from_.tag == from_tag]
    assert isinstance(answer, Response)
    return answer.status


def test_early_notify_reaches_only_a_waiting_subscriber() -> None:
    """While the SUBSCRIBE is unanswered, a NOTIFY carrying alice's From tag creates the
    dialog (200); a second fork's NOTIFY then gets 481; and once a subscription has failed
    (Timer F, 32 s) nobody waits, so the core answers 481 itself (RFC 3261 §12.2.2)."""
    call = subscription_call()
    call.network.drop(is_request("SUBSCRIBE"), count=100)
    sub = subscribe(call)
    call.run(0.0)
    assert early_notify(call, sub, "fork1") == 200
    assert sub.state is ClientState.ACTIVE and sub.dialog_id is not None
    assert early_notify(call, sub, "fork2") == 481
    assert sub.state is ClientState.ACTIVE
    other = subscribe(call)
    call.run(40.0)
    assert [e for e in call.of("alice", SubscriptionFailed)
            if isinstance(e, SubscriptionFailed) and e.usage_id == other.id]
    assert early_notify(call, other, "late") == 481


def notify_from_bob(call: Call, server: ServerSubscription,
                    headers: list[tuple[str, str]]) -> int:
    """Send a hand-made NOTIFY in bob's dialog; returns the status alice answered."""
    assert server.dialog_id is not None
    dialog = call.bob.core.dialog(server.dialog_id)
    assert dialog is not None
    request = dialog.create_request("NOTIFY")
    for name, value in headers:
        request.headers.add(name, value)
    call.bob.send_request(request, [ALICE_AT], now=call.network.now)
    call.settle()
    [answer] = [p.message for p in call.network.delivered
                if isinstance(p.message, Response) and p.message.cseq == request.cseq]
    assert isinstance(answer, Response)
    return answer.status


def test_notify_without_subscription_state_or_event_gets_400() -> None:
    call = subscription_call()
    sub, server = active(call)
    assert notify_from_bob(call, server, [("Event", "presence")]) == 400
    assert notify_from_bob(call, server, [("Subscription-State", "active")]) == 400
    assert notify_from_bob(call, server, [("Event", "presence"),
                                          ("Subscription-State", "bogus")]) == 400
    assert sub.state is ClientState.ACTIVE
    assert call.of("alice", SubscriptionTerminated) == []
    assert len(call.of("alice", NotifyReceived)) == 1
    assert [(e.status, e.reason) for e in call.of("alice", NotifyRejected)
            if isinstance(e, NotifyRejected)] == [
        (400, "Missing Subscription-State header"), (400, "Missing Event header"),
        (400, "Bad Subscription-State header")]


def test_notify_for_unknown_subscription_gets_481() -> None:
    call = subscription_call()
    sub, server = active(call)
    # another Event id in our dialog
    assert notify_from_bob(call, server, [("Event", "presence;id=7"),
                                          ("Subscription-State", "active")]) == 481
    assert sub.state is ClientState.ACTIVE
    # out of any dialog (the reject_unknown_notify factory) and in an unknown dialog (core)
    for to_tag in (None, "nosuchtag"):
        to = NameAddr.parse("<sip:alice@example.com>")
        if to_tag is not None:
            to.params["tag"] = to_tag
        stray = Request("NOTIFY", SipUri.parse("sip:alice@127.0.0.1"),
                        from_=NameAddr.parse("<sip:bob@example.com>;tag=x1"), to=to,
                        call_id=f"stray-{to_tag}", cseq=CSeq(1, "NOTIFY"))
        stray.headers.add("Event", "presence")
        stray.headers.add("Subscription-State", "active")
        call.bob.send_request(stray, [ALICE_AT], now=call.network.now)
        call.settle()
        [answer] = [e for e in call.bob_events if isinstance(e, ResponseReceived)
                    and e.request.call_id == stray.call_id]
        assert isinstance(answer, ResponseReceived) and answer.response.status == 481
    assert not [u for u in call.alice.usages.values() if not isinstance(u, ClientSubscription)]


def test_unknown_package_gets_489() -> None:
    call = subscription_call()
    sub = subscribe(call, event="dialog")
    call.settle()
    [failed] = call.of("alice", SubscriptionFailed)
    assert isinstance(failed, SubscriptionFailed) and failed.response is not None
    assert (failed.usage_id, failed.status) == (sub.id, 489)
    assert failed.response.headers.get("Allow-Events") == "presence"
    assert call.alice.usage(sub.id) is None and not call.bob.usages


def test_no_notify_after_2xx_gives_up_at_64_t1() -> None:
    call = subscription_call()
    call.network.drop(is_request("NOTIFY"), count=100)
    sub = subscribe(call)
    call.settle()
    server_of(call).accept(OPEN, PIDF, now=0.0)
    call.run(31.999)
    assert call.of("alice", SubscriptionTerminated) == []
    call.run(32.0)
    assert call.of("alice", SubscriptionTerminated) == [
        SubscriptionTerminated(sub.id, "no-notify", None)]


def test_notifier_ends_an_unrefreshed_subscription_at_expiry() -> None:
    call = subscription_call()
    call.network.drop(lambda p: p.describe() == "SUBSCRIBE" and p.sent_at > 0, count=100)
    sub, server = active(call)
    call.run(599.999)
    assert call.of("bob", SubscriptionEnded) == []
    call.run(600.0)
    assert requests(call, "NOTIFY")[-1].headers.get("Subscription-State") == (
        "terminated;reason=timeout")
    assert call.of("alice", SubscriptionTerminated) == [
        SubscriptionTerminated(sub.id, "timeout", None)]
    assert call.of("bob", SubscriptionEnded) == [SubscriptionEnded(server.id, "timeout")]


def test_subscription_state_parsing() -> None:
    assert parse_subscription_state("terminated;reason=rejected;retry-after=5") == (
        SubscriptionState(SubState.TERMINATED, None, "rejected", 5))
    assert parse_subscription_state("Active ; expires=30") == SubscriptionState(
        SubState.ACTIVE, 30)
    assert parse_subscription_state("waiting") is None
    assert parse_subscription_state("active;expires=soon") is None
    assert refresh_delay(3600) == 3540.0 and refresh_delay(60) == 30.0


def pidf_parser(body: bytes, content_type: str | None) -> object:
    return parse_pidf(body)


def test_bad_bodies_are_refused_without_ending_the_subscription() -> None:
    """A NOTIFY body of a type outside Accept gets 415 with Accept; a body the parser refuses
    gets 400 with the parser's reason; both emit NotifyRejected and the subscription stays
    active; a good PIDF reaches NotifyReceived.document; a terminated NOTIFY with a bad body
    is refused 400 and still ends the subscription, with SubscriptionTerminated."""
    call = subscription_call()
    sub = subscribe(call, parse_body=pidf_parser)
    call.settle()
    server = server_of(call)
    good = build_pidf(Pidf("sip:bob@example.com", (PidfTuple("t1", Basic.OPEN, notes=("here",)),)))
    server.accept(good, PIDF, now=0.0)
    call.settle()
    [first] = call.of("alice", NotifyReceived)
    assert isinstance(first, NotifyReceived) and isinstance(first.document, Pidf)
    assert first.document.online and first.document.note == "here"
    server.notify(b"Messages-Waiting: yes\r\n", "application/simple-message-summary",
                  now=1.0)
    call.settle()
    server.notify(b"<presence xmlns='urn:ietf:params:xml:ns:pidf'/>", PIDF, now=2.0)
    call.settle()
    answers = [p.message for p in call.network.delivered
               if isinstance(p.message, Response) and p.message.cseq.method == "NOTIFY"]
    assert [a.status for a in answers] == [200, 415, 400]
    assert answers[1].headers.get("Accept") == PIDF
    assert "entity" in answers[2].reason
    rejected = call.of("alice", NotifyRejected)
    assert [(e.status, e.usage_id) for e in rejected
            if isinstance(e, NotifyRejected)] == [(415, sub.id), (400, sub.id)]
    assert sub.state is ClientState.ACTIVE
    assert call.of("alice", SubscriptionTerminated) == []
    assert call.of("bob", SubscriptionEnded) == []  # 415/400 are not 481: the notifier keeps it
    server.terminate("noresource", body=b"<not-xml", content_type=PIDF, now=3.0)
    call.settle()
    assert call.of("alice", SubscriptionTerminated) == [
        SubscriptionTerminated(sub.id, "noresource", None)]
    assert len(call.of("alice", NotifyRejected)) == 3


def test_an_unanswered_subscribe_is_answered_408_at_64_t1() -> None:
    """The application neither accepts nor rejects: alice's Timer F fires at 32 s, and bob's
    usage answers 408 and ends at exactly 64*T1 = 32.0 s, leaving nothing behind."""
    call = subscription_call()
    sub = subscribe(call)
    call.run(0.0)
    server = server_of(call)
    call.run(31.999)
    assert server.state is ServerState.RECEIVED and call.of("bob", SubscriptionEnded) == []
    call.run(32.0)
    assert call.of("bob", SubscriptionEnded) == [SubscriptionEnded(server.id, "unanswered")]
    assert call.bob.usage(server.id) is None
    [failed] = call.of("alice", SubscriptionFailed)
    assert isinstance(failed, SubscriptionFailed) and failed.usage_id == sub.id
    assert failed.status is None  # Timer F fired first; the late 408 is absorbed
