"""REFER (RFC 3515) between UsageManagers on the in-memory network.

Proves: an out-of-dialog blind transfer REFER is accepted (202) and the
referrer sees ReferAccepted, then TransferTrying / TransferRinging /
TransferSucceeded from NOTIFYs 100 -> 180 -> 200, the last ending the
subscription (terminated;reason=noresource) on both sides; a rejected REFER
gives ReferRejected with its status; a failure report gives TransferFailed; a
malformed sipfrag is answered 400 and the subscription goes on; a terminated
subscription without a final report, or its expiry, is a TransferFailed; the transferee sees
Refer-To, Replaces (unescaped) and Referred-By; a REFER inside an INVITE dialog
works through ReferRouter while the call's BYE still reaches the session.
"""

from __future__ import annotations

from invite_helpers import ALICE_AT, BOB_AT, connect, make_call

from voipkit.sip.bodies.sipfrag import SIPFRAG
from voipkit.sip.message import NameAddr, Request
from voipkit.sip.replaces import Replaces, refer_to_with_replaces
from voipkit.sip.uri import SipUri
from voipkit.sip.usage.invite import Terminated
from voipkit.sip.usage.manager import UsageManager
from voipkit.sip.usage.refer import (
    ReferAccepted,
    ReferClient,
    ReferReceived,
    ReferRejected,
    ReferRouter,
    ReferServer,
    TransferFailed,
    TransferSucceeded,
    refer_factory,
)

CAROL = NameAddr.parse("<sip:carol@example.com>")


def _setup():  # type: ignore[no-untyped-def]
    call = make_call()
    call.bob.on_new_request("REFER", refer_factory(
        contact=NameAddr.parse("<sip:bob@127.0.0.2:5060>")))
    return call


def _refer(call, refer_to: NameAddr = CAROL) -> ReferClient:  # type: ignore[no-untyped-def]
    return ReferClient.out_of_dialog(
        call.alice, request_uri="sip:bob@127.0.0.2",
        from_=NameAddr.parse("<sip:alice@example.com>"), to=NameAddr.parse("<sip:bob@example.com>"),
        contact=NameAddr.parse("<sip:alice@127.0.0.1:5060>"), refer_to=refer_to,
        targets=[BOB_AT], referred_by=NameAddr.parse("<sip:alice@example.com>"),
        now=call.network.now)


def _server(manager: UsageManager) -> ReferServer:
    (server,) = [u for u in manager.usages.values() if isinstance(u, ReferServer)]
    return server


def test_blind_transfer_reports_trying_ringing_success() -> None:
    call = _setup()
    client = _refer(call)
    call.settle()
    (received,) = call.of("bob", ReferReceived)
    assert isinstance(received, ReferReceived)
    assert received.refer_to.uri == CAROL.uri and received.replaces is None
    assert received.referred_by is not None and str(received.referred_by.uri) == \
        "sip:alice@example.com"
    server = _server(call.bob)
    server.accept(now=call.network.now)
    call.settle()
    server.progress(180, now=call.network.now)
    call.settle()
    server.progress(200, now=call.network.now)
    call.settle()
    assert call.names("alice") == ["ReferAccepted", "TransferTrying", "TransferRinging",
                                   "TransferSucceeded"]
    (accepted,) = call.of("alice", ReferAccepted)
    assert isinstance(accepted, ReferAccepted) and accepted.response.status == 202
    (ok,) = call.of("alice", TransferSucceeded)
    assert isinstance(ok, TransferSucceeded) and ok.frag.status == 200
    assert call.network.describe_delivered() == [
        "REFER", "202 REFER", "NOTIFY", "200 NOTIFY", "NOTIFY", "200 NOTIFY", "NOTIFY",
        "200 NOTIFY"]
    notifies = [p.message for p in call.network.delivered if p.describe() == "NOTIFY"]
    assert all(isinstance(n, Request) and n.content_type == SIPFRAG for n in notifies)
    assert [n.body for n in notifies] == [b"SIP/2.0 100 Trying\r\n", b"SIP/2.0 180 Ringing\r\n",
                                          b"SIP/2.0 200 OK\r\n"]
    states = [n.headers.get("Subscription-State") for n in notifies]
    assert states == ["active;expires=180", "active;expires=180", "terminated;reason=noresource"]
    assert [n.headers.get("Event") for n in notifies] == [f"refer;id={client.cseq}"] * 3
    assert client.done and client.outcome == 200
    assert not call.alice.usages and not call.bob.usages
    assert not call.alice.core.dialogs and not call.bob.core.dialogs


def test_rejected_refer() -> None:
    call = _setup()
    client = _refer(call)
    call.settle()
    _server(call.bob).reject(603, now=call.network.now)
    call.settle()
    assert call.of("alice", ReferRejected) == [ReferRejected(client.id, 603, "Decline")]
    assert not call.alice.usages and not call.bob.usages


def test_failure_report_is_transfer_failed() -> None:
    call = _setup()
    client = _refer(call)
    call.settle()
    server = _server(call.bob)
    server.accept(now=call.network.now)
    server.progress(503, now=call.network.now)
    call.settle()
    assert call.names("alice") == ["ReferAccepted", "TransferTrying", "TransferFailed"]
    assert call.of("alice", TransferFailed) == [
        TransferFailed(client.id, 503, "Service Unavailable")]


def test_malformed_sipfrag_answered_400_subscription_kept() -> None:
    call = _setup()
    client = _refer(call)
    call.settle()
    server = _server(call.bob)
    server.accept(now=call.network.now)
    call.settle()
    assert client.dialog_id is not None
    # bob's stack sends a broken report in the same subscription
    dialog = call.bob.core.dialog(server.dialog_id)  # type: ignore[arg-type]
    assert dialog is not None
    bad = dialog.create_request("NOTIFY")
    bad.headers.set("Event", f"refer;id={client.cseq}")
    bad.headers.set("Subscription-State", "active;expires=60")
    bad.body, bad.content_type = b"HTTP/1.1 200 OK\r\n", SIPFRAG
    call.bob.send_request(bad, [ALICE_AT], now=call.network.now)
    call.settle()
    assert call.network.describe_delivered()[-1] == "400 NOTIFY"
    assert not client.done and call.names("alice") == ["ReferAccepted", "TransferTrying"]
    server.progress(200, now=call.network.now)
    call.settle()
    assert call.names("alice")[-1] == "TransferSucceeded" and client.done


def test_subscription_terminated_without_final_report_fails() -> None:
    call = _setup()
    client = _refer(call)
    call.settle()
    server = _server(call.bob)
    server.accept(now=call.network.now)
    call.settle()
    dialog = call.bob.core.dialog(server.dialog_id)  # type: ignore[arg-type]
    assert dialog is not None
    end = dialog.create_request("NOTIFY")
    end.headers.set("Event", f"refer;id={client.cseq}")
    end.headers.set("Subscription-State", "terminated;reason=timeout")
    end.body, end.content_type = b"SIP/2.0 180 Ringing\r\n", SIPFRAG
    call.bob.send_request(end, [ALICE_AT], now=call.network.now)
    call.settle()
    assert call.names("alice") == ["ReferAccepted", "TransferTrying", "TransferRinging",
                                   "TransferFailed"]
    (failed,) = call.of("alice", TransferFailed)
    assert isinstance(failed, TransferFailed) and failed.status is None
    assert client.done and client.id not in call.alice.usages


def test_no_final_report_before_expiry_fails_at_deadline() -> None:
    call = _setup()
    client = _refer(call)
    call.settle()
    _server(call.bob).accept(expires=60, now=call.network.now)
    call.settle()
    start = call.network.now
    call.run(until=start + 59.0)
    assert not client.done
    call.run(until=start + 61.0)
    assert call.of("alice", TransferFailed) == [
        TransferFailed(client.id, None, "the refer subscription expired")]


def test_attended_refer_carries_escaped_replaces() -> None:
    call = _setup()
    target = refer_to_with_replaces(SipUri.parse("sip:carol@example.com"),
                                    Replaces("call-9@x", "to1", "from1"))
    _refer(call, NameAddr(target))
    call.settle()
    (refer,) = [p.message for p in call.network.delivered if p.describe() == "REFER"]
    assert isinstance(refer, Request)
    assert refer.headers.get("Refer-To") == \
        "<sip:carol@example.com?Replaces=call-9%40x%3Bto-tag%3Dto1%3Bfrom-tag%3Dfrom1>"
    (received,) = call.of("bob", ReferReceived)
    assert isinstance(received, ReferReceived)
    assert received.replaces == Replaces("call-9@x", "to1", "from1")


def test_in_dialog_refer_through_router_and_bye_still_reaches_session() -> None:
    call = make_call()
    alice_session = connect(call)
    bob_session = call.bob_session()
    assert alice_session.dialog_id is not None and bob_session.dialog_id is not None
    alice_router = ReferRouter.attach(call.alice, alice_session)
    ReferRouter.attach(call.bob, bob_session)
    assert ReferRouter.attach(call.alice, alice_session) is alice_router
    client = alice_router.refer(CAROL, now=call.network.now)
    call.settle()
    (received,) = call.of("bob", ReferReceived)
    assert isinstance(received, ReferReceived) and received.refer_to.uri == CAROL.uri
    assert received.session_id == bob_session.id
    server = _server(call.bob)
    server.accept(now=call.network.now)
    server.progress(180, now=call.network.now)
    server.progress(200, now=call.network.now)
    call.settle()
    assert [n for n in call.names("alice") if "Transfer" in n or "Refer" in n] == [
        "ReferAccepted", "TransferTrying", "TransferRinging", "TransferSucceeded"]
    assert client.done
    # the REFER and its NOTIFYs used the call's dialog (same Call-ID, rising CSeqs)
    refer_notify = [p.message for p in call.network.delivered
                    if p.describe() in ("REFER", "NOTIFY")]
    assert {m.call_id for m in refer_notify} == {alice_session.dialog_id.call_id}
    alice_session.hangup(now=call.network.now)
    call.settle()
    assert any(isinstance(e, Terminated) for e in call.bob_events)
    assert any(isinstance(e, Terminated) for e in call.alice_events)
    assert not call.alice.usages and not call.bob.usages
