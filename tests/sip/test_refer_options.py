"""REFER options on the in-memory network: early NOTIFY, Refer-Sub: false, Refer-To method.

Proves, with exact virtual times:
- an out-of-dialog REFER whose first NOTIFY overtakes the 202 (RFC 6665 §4.1.2.4) gets
  that NOTIFY answered 200 (not 481) and reported (TransferTrying before ReferAccepted),
  and the transfer still completes;
- ``Refer-Sub: false`` (RFC 4488): the recipient sees ``subscription=False``; accepting
  answers 200 with ``Refer-Sub: false``, creates no dialog and sends no NOTIFY, and
  ``progress`` is refused; the sender sees ``ReferAccepted(subscribed=False)`` and ends;
  a recipient that makes the subscription anyway (202, no Refer-Sub) is followed as
  usual; the in-dialog REFER honours the option too;
- the Refer-To ``method``: BYE is passed up (``ReferReceived.method``), SUBSCRIBE is
  refused 403 with a reason naming the method and no ReferReceived.
"""

from __future__ import annotations

import pytest
from invite_helpers import BOB_AT, connect, make_call

from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.message import NameAddr, Request, Response
from voipkit.sip.usage.manager import UsageManager
from voipkit.sip.usage.refer import (
    ReferAccepted,
    ReferClient,
    ReferReceived,
    ReferRouter,
    ReferServer,
    TransferSucceeded,
    refer_factory,
)
from voipkit.testing.network import is_response

CAROL = NameAddr.parse("<sip:carol@example.com>")


def _setup():  # type: ignore[no-untyped-def]
    call = make_call()
    call.bob.on_new_request("REFER", refer_factory(
        contact=NameAddr.parse("<sip:bob@127.0.0.2:5060>")))
    return call


def _refer(call, refer_to: NameAddr = CAROL, *,  # type: ignore[no-untyped-def]
           subscribe: bool = True) -> ReferClient:
    return ReferClient.out_of_dialog(
        call.alice, request_uri="sip:bob@127.0.0.2",
        from_=NameAddr.parse("<sip:alice@example.com>"), to=NameAddr.parse("<sip:bob@example.com>"),
        contact=NameAddr.parse("<sip:alice@127.0.0.1:5060>"), refer_to=refer_to,
        targets=[BOB_AT], subscribe=subscribe, now=call.network.now)


def _server(manager: UsageManager) -> ReferServer:
    (server,) = [u for u in manager.usages.values() if isinstance(u, ReferServer)]
    return server


def _delivered(call, what: str) -> list[Request | Response]:  # type: ignore[no-untyped-def]
    return [p.message for p in call.network.delivered if p.describe() == what]


def test_notify_before_the_202_is_accepted_and_reported() -> None:
    call = _setup()
    client = _refer(call)
    call.settle()
    assert call.network.now == 0.0
    call.network.hold(is_response(202, "REFER"), 0.25)
    _server(call.bob).accept(now=call.network.now)
    call.run(until=0.1)
    # the NOTIFY arrived at 0.0 with no dialog at alice yet: answered 200, not 481
    assert call.network.describe_delivered()[-2:] == ["NOTIFY", "200 NOTIFY"]
    assert call.names("alice") == ["TransferTrying"]
    call.run(until=0.25)
    assert call.sent("202 REFER") == [0.0]  # sent at 0.0, held until 0.25
    assert call.names("alice") == ["TransferTrying", "ReferAccepted"]
    assert client.dialog_id is not None and call.alice.core.dialog(client.dialog_id) is not None
    _server(call.bob).progress(200, now=call.network.now)
    call.settle()
    assert call.names("alice")[-1] == "TransferSucceeded" and client.done
    assert [r.status for r in _delivered(call, "200 NOTIFY")] == [200, 200]  # type: ignore[union-attr]
    assert not _delivered(call, "481 NOTIFY")
    assert not call.alice.usages and not call.bob.usages
    assert not call.alice.core.dialogs and not call.bob.core.dialogs


def test_refer_sub_false_both_ways() -> None:
    call = _setup()
    client = _refer(call, subscribe=False)
    call.settle()
    (refer,) = _delivered(call, "REFER")
    assert refer.headers.get("Refer-Sub") == "false"
    assert "norefersub" in refer.headers.getall("Supported")
    (received,) = call.of("bob", ReferReceived)
    assert isinstance(received, ReferReceived) and received.subscription is False
    server = _server(call.bob)
    server.accept(now=call.network.now)
    with pytest.raises(LocalProtocolError):
        server.progress(200, now=call.network.now)
    call.settle()
    assert call.network.describe_delivered() == ["REFER", "200 REFER"]
    (ok,) = _delivered(call, "200 REFER")
    assert ok.headers.get("Refer-Sub") == "false"
    (accepted,) = call.of("alice", ReferAccepted)
    assert isinstance(accepted, ReferAccepted) and accepted.subscribed is False
    assert call.names("alice") == ["ReferAccepted"] and client.done
    assert not server.reporting and server.done
    assert not call.alice.usages and not call.bob.usages
    assert not call.alice.core.dialogs and not call.bob.core.dialogs


def test_refer_sub_false_ignored_by_the_peer_is_followed() -> None:
    call = _setup()
    client = _refer(call, subscribe=False)
    call.settle()
    server = _server(call.bob)
    server.subscription = True  # a recipient without RFC 4488 support
    server.accept(now=call.network.now)
    server.progress(200, now=call.network.now)
    call.settle()
    (accepted,) = call.of("alice", ReferAccepted)
    assert isinstance(accepted, ReferAccepted) and accepted.subscribed is True
    assert accepted.response.status == 202
    assert call.names("alice") == ["ReferAccepted", "TransferTrying", "TransferSucceeded"]
    assert client.done and not call.alice.usages


def test_in_dialog_refer_sub_false() -> None:
    call = make_call()
    alice_session = connect(call)
    ReferRouter.attach(call.bob, call.bob_session())
    client = ReferRouter.attach(call.alice, alice_session).refer(
        CAROL, subscribe=False, now=call.network.now)
    call.settle()
    (received,) = call.of("bob", ReferReceived)
    assert isinstance(received, ReferReceived) and not received.subscription
    _server(call.bob).accept(now=call.network.now)
    call.settle()
    assert call.network.describe_delivered()[-2:] == ["REFER", "200 REFER"]
    assert [n for n in call.names("alice") if "Refer" in n or "Transfer" in n] == [
        "ReferAccepted"]
    assert client.done
    # the call itself is untouched
    assert call.alice.core.dialog(alice_session.dialog_id) is not None  # type: ignore[arg-type]
    assert not call.of("alice", TransferSucceeded)


def test_refer_to_method_bye_passes_up_subscribe_is_refused() -> None:
    call = _setup()
    bye = NameAddr.parse("<sip:carol@example.com;method=BYE>")
    _refer(call, bye)
    call.settle()
    (received,) = call.of("bob", ReferReceived)
    assert isinstance(received, ReferReceived) and received.method == "BYE"
    _server(call.bob).reject(603, now=call.network.now)
    call.settle()
    _refer(call, NameAddr.parse("<sip:carol@example.com;method=subscribe>"))
    call.settle()
    (refused,) = _delivered(call, "403 REFER")
    assert isinstance(refused, Response)
    assert refused.reason == "Refer-To method SUBSCRIBE is not carried out"
    assert len(call.of("bob", ReferReceived)) == 1
    assert call.names("alice")[-1] == "ReferRejected"
    assert not call.alice.usages and not call.bob.usages
