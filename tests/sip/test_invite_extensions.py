"""InviteSession's in-dialog extensions and INVITE with Replaces (RFC 3891 §3), sans-IO.

Proves: an INVITE whose Replaces names a confirmed call makes an InviteReceived
carrying that call's session id (also past do-not-disturb and max sessions, since
it only replaces a call), and names alice's own early outgoing call (BLF pickup);
a Replaces that names no call is answered 481, early-only against a confirmed call
486, a malformed one or two of them 400, a dialog we did not initiate while still
ringing 481 — each as AutoRejected with the reason, never a silent end; MESSAGE
inside a call becomes a ServerPagerMessage through DialogMessages and gets its 200,
while without an extension the session answers 405 with Allow; a refer NOTIFY that
names no REFER of the dialog gets 481; a malformed sipfrag inside the call is
answered 400 and the transfer still completes, and so are a NOTIFY whose body is
not message/sipfrag and one with an unparsable Subscription-State; a NOTIFY's
``expires=30`` makes the transfer fail at exactly +30 s without a final report; a
REFER on a call that is not confirmed raises.
"""

from __future__ import annotations

import pytest
from invite_helpers import ALICE_AT, BOB_AT, OFFER, Call, connect, make_call

from voipkit.sip.bodies.sipfrag import SIPFRAG
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.message import NameAddr, Request
from voipkit.sip.replaces import Replaces
from voipkit.sip.usage.invite import (
    AutoRejected,
    InviteReceived,
    InviteSession,
)
from voipkit.sip.usage.pager import ClientPagerMessage, DialogMessages, MessageReceived
from voipkit.sip.usage.refer import (
    ReferClient,
    ReferRouter,
    ReferServer,
    TransferFailed,
    TransferSucceeded,
)

CAROL = NameAddr.parse("<sip:carol@example.com>")


def _invite_with(call: Call, replaces: str | list[str]) -> InviteSession:
    values = [replaces] if isinstance(replaces, str) else replaces
    return InviteSession.create_uac(
        call.alice, request_uri="sip:bob@127.0.0.2",
        from_=NameAddr.parse("<sip:carol@example.com>"),
        to=NameAddr.parse("<sip:bob@example.com>"),
        contact=NameAddr.parse("<sip:carol@127.0.0.1:5060>"), targets=[BOB_AT], body=OFFER,
        extra_headers=[("Replaces", v) for v in values], now=call.network.now)


def _bob_sessions(call: Call) -> list[InviteSession]:
    return sorted((u for u in call.bob.usages.values() if isinstance(u, InviteSession)),
                  key=lambda s: s.id)


def test_replaces_names_the_confirmed_call() -> None:
    call = make_call()
    connect(call)
    old = call.bob_session()
    assert old.dialog_id is not None
    # alice is the peer of bob's dialog: the header names it from bob's side
    replaces = Replaces(old.dialog_id.call_id, old.dialog_id.local_tag,
                        old.dialog_id.remote_tag)
    call.bob_policy.do_not_disturb = True  # a replacement is not a new call
    call.bob_policy.max_sessions = 1
    _invite_with(call, str(replaces))
    call.settle()
    received = [e for e in call.of("bob", InviteReceived) if isinstance(e, InviteReceived)]
    assert [r.replaces for r in received] == [None, old.id]
    assert call.of("bob", AutoRejected) == []


def test_replaces_takes_our_own_early_outgoing_call() -> None:
    """BLF pickup: the INVITE with Replaces reaches the caller, naming its early dialog."""
    call = make_call()
    outgoing = call.dial()
    call.settle()
    call.bob_session().ring(now=call.network.now)
    call.settle()
    assert outgoing.dialog_id is not None
    early = outgoing.dialog_id
    # bob (the picker, here) sends the INVITE to alice: to-tag is alice's local tag
    InviteSession.create_uac(
        call.bob, request_uri="sip:alice@127.0.0.1",
        from_=NameAddr.parse("<sip:picker@example.com>"),
        to=NameAddr.parse("<sip:alice@example.com>"),
        contact=NameAddr.parse("<sip:picker@127.0.0.2:5060>"), targets=[ALICE_AT], body=OFFER,
        extra_headers=[("Replaces", f"{early.call_id};to-tag={early.local_tag};"
                                    f"from-tag={early.remote_tag};early-only")],
        now=call.network.now)
    call.settle()
    (received,) = call.of("alice", InviteReceived)
    assert isinstance(received, InviteReceived) and received.replaces == outgoing.id


@pytest.mark.parametrize(("header", "status"), [
    ("nosuch@x;to-tag=a;from-tag=b", 481),
    ("bad call id;to-tag=a", 400),
    (["c1@x;to-tag=a;from-tag=b", "c2@x;to-tag=a;from-tag=b"], 400),
])
def test_unusable_replaces_is_refused(header: str | list[str], status: int) -> None:
    call = make_call()
    caller = _invite_with(call, header)
    call.settle()
    (rejected,) = call.of("bob", AutoRejected)
    assert isinstance(rejected, AutoRejected) and rejected.status == status
    assert rejected.reason
    assert caller.state.name == "TERMINATED"
    assert call.network.describe_delivered()[-2] == f"{status} INVITE"


def test_early_only_against_a_confirmed_call_is_486() -> None:
    call = make_call()
    connect(call)
    old = call.bob_session()
    assert old.dialog_id is not None
    d = old.dialog_id
    _invite_with(call, f"{d.call_id};to-tag={d.local_tag};from-tag={d.remote_tag};early-only")
    call.settle()
    (rejected,) = call.of("bob", AutoRejected)
    assert isinstance(rejected, AutoRejected) and rejected.status == 486


def test_replacing_a_call_still_ringing_at_us_is_481() -> None:
    call = make_call()
    call.dial()
    call.settle()
    ringing = call.bob_session()
    ringing.ring(now=call.network.now)
    call.settle()
    assert ringing.dialog_id is not None
    d = ringing.dialog_id
    _invite_with(call, f"{d.call_id};to-tag={d.local_tag};from-tag={d.remote_tag}")
    call.settle()
    (rejected,) = call.of("bob", AutoRejected)
    assert isinstance(rejected, AutoRejected) and rejected.status == 481


def test_message_in_a_call_goes_through_dialog_messages() -> None:
    call = make_call()
    alice_session = connect(call)
    bob_session = call.bob_session()
    DialogMessages.attach(call.bob, bob_session)
    assert DialogMessages.attach(call.bob, bob_session) is bob_session.extensions[0]
    dialog = call.alice.core.dialog(alice_session.dialog_id)  # type: ignore[arg-type]
    ClientPagerMessage.send(call.alice, dialog=dialog, targets=alice_session.targets,
                            body=b"\x00\x01bin", content_type="application/octet-stream",
                            now=call.network.now)
    call.settle()
    (note,) = call.of("bob", MessageReceived)
    assert isinstance(note, MessageReceived) and note.in_dialog
    assert note.body == b"\x00\x01bin" and note.content_type == "application/octet-stream"
    assert note.request.call_id == alice_session.dialog_id.call_id  # type: ignore[union-attr]
    server = call.bob.usage(note.usage_id)
    assert server is not None
    server.accept(now=call.network.now)  # type: ignore[attr-defined]
    call.settle()
    assert call.network.describe_delivered()[-1] == "200 MESSAGE"


def test_message_in_a_call_without_extension_is_405() -> None:
    call = make_call()
    alice_session = connect(call)
    dialog = call.alice.core.dialog(alice_session.dialog_id)  # type: ignore[arg-type]
    ClientPagerMessage.send(call.alice, dialog=dialog, targets=alice_session.targets,
                            body="hi", now=call.network.now)
    call.settle()
    (answer,) = [p.message for p in call.network.delivered if p.describe() == "405 MESSAGE"]
    assert "REFER" in (answer.headers.get("Allow") or "")


def _refer_in_call(call: Call) -> tuple[InviteSession, ReferServer]:
    alice_session = connect(call)
    bob_session = call.bob_session()
    ReferRouter.attach(call.alice, alice_session).refer(CAROL, now=call.network.now)
    ReferRouter.attach(call.bob, bob_session)
    call.settle()
    (server,) = [u for u in call.bob.usages.values() if isinstance(u, ReferServer)]
    server.accept(now=call.network.now)
    call.settle()
    return alice_session, server


def _notify(call: Call, server: ReferServer, event: str, body: bytes, *,
            state: str = "active;expires=60", content_type: str = SIPFRAG) -> None:
    dialog = call.bob.core.dialog(server.dialog_id)  # type: ignore[arg-type]
    assert dialog is not None
    notify = dialog.create_request("NOTIFY")
    notify.headers.set("Event", event)
    notify.headers.set("Subscription-State", state)
    notify.body, notify.content_type = body, content_type
    call.bob.send_request(notify, [ALICE_AT], now=call.network.now)
    call.settle()


def test_refer_notify_for_an_unknown_refer_is_481() -> None:
    call = make_call()
    _, server = _refer_in_call(call)
    _notify(call, server, "refer;id=999999", b"SIP/2.0 200 OK\r\n")
    assert call.network.describe_delivered()[-1] == "481 NOTIFY"


def test_malformed_sipfrag_in_a_call_is_400_and_transfer_goes_on() -> None:
    call = make_call()
    _, server = _refer_in_call(call)
    assert server.request is not None
    _notify(call, server, f"refer;id={server.request.cseq.seq}", b"SIP/2.0 20x OK\r\n")
    (bad,) = [p.message for p in call.network.delivered if p.describe() == "400 NOTIFY"]
    assert "sipfrag" in bad.reason
    server.progress(200, now=call.network.now)
    call.settle()
    assert len(call.of("alice", TransferSucceeded)) == 1


def test_refer_needs_a_confirmed_call() -> None:
    call = make_call()
    session = call.dial()
    call.settle()
    with pytest.raises(LocalProtocolError):
        ReferRouter.attach(call.alice, session).refer(CAROL, now=call.network.now)


def test_refer_request_is_in_the_dialog() -> None:
    call = make_call()
    alice_session, server = _refer_in_call(call)
    assert server.request is not None
    refer: Request = server.request
    assert refer.headers.get("Refer-To") == "<sip:carol@example.com>"
    assert alice_session.dialog_id is not None
    assert refer.call_id == alice_session.dialog_id.call_id


@pytest.mark.parametrize(("state", "content_type", "reason"), [
    ("active;expires=60", "text/plain", "Bad sipfrag"),
    ("active;expires=soon", SIPFRAG, "Bad Subscription-State"),
])
def test_unusable_notify_in_a_call_is_400(state: str, content_type: str, reason: str) -> None:
    call = make_call()
    _, server = _refer_in_call(call)
    assert server.request is not None
    _notify(call, server, f"refer;id={server.request.cseq.seq}", b"SIP/2.0 200 OK\r\n",
            state=state, content_type=content_type)
    (bad,) = [p.message for p in call.network.delivered if p.describe() == "400 NOTIFY"]
    assert bad.reason.startswith(reason)
    assert call.of("alice", TransferSucceeded) == []
    (client,) = [u for u in call.alice.usages.values() if isinstance(u, ReferClient)]
    assert not client.done


def test_notify_expires_sets_the_exact_deadline() -> None:
    call = make_call()
    _, server = _refer_in_call(call)
    assert server.request is not None
    _notify(call, server, f"refer;id={server.request.cseq.seq}", b"SIP/2.0 180 Ringing\r\n",
            state="active;expires=30")
    start = call.network.now
    call.run(until=start + 29.999)
    assert call.of("alice", TransferFailed) == []
    call.run(until=start + 30.0)
    (failed,) = call.of("alice", TransferFailed)
    assert isinstance(failed, TransferFailed) and failed.status is None
    assert failed.reason == "the refer subscription expired"
