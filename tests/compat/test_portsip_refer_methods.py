"""acceptRefer for the Refer-To methods, through the PortSIP facade only (127.0.0.1).

Proves: outOfDialogRefer(replaceSessionId, "BYE", target, referTo) sent by alice to
carol makes carol's onReceivedRefer (sessionId -1) whose acceptRefer returns the
sessionId of carol's call with alice (the call it ends, > 0); carol's call closes
(alice gets onInviteClosed) and alice gets onACTVTransferSuccess for that session;
attendedRefer2 with method MESSAGE (Refer-To carrying ?body=) makes bob's acceptRefer
return 0 and carol gets onRecvOutOfDialogMessage with that text; attendedRefer2 with
method SUBSCRIBE is refused by bob's stack: alice gets onReferRejected 403 and bob no
onReceivedRefer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.compat.conftest import Recorder, sip_port, start

from voipkit.compat.portsip import PortSIPLib

Trio = list[tuple[PortSIPLib, Recorder]]


@pytest.fixture
def trio() -> Iterator[Trio]:
    made: Trio = []
    try:
        for name in ("alice", "bob", "carol"):
            events = Recorder()
            lib = PortSIPLib(events)
            made.append((lib, events))
            assert start(lib) == 0
            assert lib.setUser(name, name.title(), "", "", "", "", 0, "", 0, "", 0) == 0
        yield made
    finally:
        for lib, _ in made:
            lib.unInitialize()


def _uri(lib: PortSIPLib, user: str) -> str:
    return f"sip:{user}@127.0.0.1:{sip_port(lib)}"


def _connect(caller: PortSIPLib, caller_events: Recorder, callee: PortSIPLib,
             callee_events: Recorder, uri: str) -> tuple[int, int]:
    callee_events.hooks["onInviteIncoming"] = lambda sid, *rest: callee.answerCall(sid, False)
    sid = caller.call(uri, True, False)
    assert sid > 0
    caller_events.wait("onInviteConnected", lambda a: a == (sid,))
    incoming = callee_events.wait("onInviteIncoming")
    callee_events.wait("onInviteConnected", lambda a: a == (incoming[0],))
    return sid, incoming[0]


def test_out_of_dialog_refer_bye_ends_the_named_call(trio: Trio) -> None:
    (alice, a_ev), _, (carol, c_ev) = trio
    accepted: list[int] = []
    c_ev.hooks["onReceivedRefer"] = lambda sid, refer_id, to, from_, msg: accepted.append(
        carol.acceptRefer(refer_id, msg))
    to_carol, at_carol = _connect(alice, a_ev, carol, c_ev, _uri(carol, "carol"))
    target = _uri(carol, "carol")
    assert alice.outOfDialogRefer(to_carol, "BYE", target, target) == 0
    refer = c_ev.wait("onReceivedRefer")
    assert refer[0] == -1 and ";method=BYE" in refer[2]
    a_ev.wait("onACTVTransferSuccess", lambda a: a == (to_carol,), timeout=10)
    assert a_ev.wait("onInviteClosed") == (to_carol,)
    assert accepted == [at_carol]


def test_attended_refer2_message_and_refused_subscribe(trio: Trio) -> None:
    (alice, a_ev), (bob, b_ev), (carol, c_ev) = trio
    accepted: list[int] = []
    b_ev.hooks["onReceivedRefer"] = lambda sid, refer_id, to, from_, msg: accepted.append(
        bob.acceptRefer(refer_id, msg))
    to_bob, _ = _connect(alice, a_ev, bob, b_ev, _uri(bob, "bob"))
    to_carol, _ = _connect(alice, a_ev, carol, c_ev, _uri(carol, "carol"))
    assert alice.attendedRefer2(None, to_bob, to_carol, "MESSAGE", "",
                                _uri(carol, "carol") + "?body=from%20bob") == 0
    a_ev.wait("onACTVTransferSuccess", lambda a: a == (to_bob,), timeout=10)
    message = c_ev.wait("onRecvOutOfDialogMessage")
    assert bytes(message[6]) == b"from bob"
    assert accepted == [0]
    assert alice.attendedRefer2(None, to_bob, to_carol, "SUBSCRIBE", "",
                                _uri(carol, "carol")) == 0
    rejected = a_ev.wait("onReferRejected", timeout=10)
    assert rejected[0] == to_bob and rejected[2] == 403
    assert len([n for n in b_ev.names() if n == "onReceivedRefer"]) == 1
