"""Transfer and MESSAGE through the PortSIP facade only: three PortSIPLib instances on 127.0.0.1.

Proves: refer() (blind) gives the transferee onReceivedRefer (referId, target, REFER
text); acceptRefer() from inside that callback returns the new call's sessionId and
the transferor sees onReferAccepted, onTransferTrying, onTransferRinging and
onACTVTransferSuccess in that order; rejectRefer() gives onReferRejected(603);
attendedRefer() makes the target take the new call over (onInviteIncoming with the
Replaces header; answerCall for it gives INVALID_STATE, the library answers it) and the
transferor's call to the target closes (onInviteClosed); attendedRefer2 puts
method=INVITE into Refer-To and sends the REFER to its target; outOfDialogRefer reaches
onReceivedRefer with sessionId -1 and replaces the named call; sendOutOfDialogMessage
returns a messageId > 0 that comes back in onSendOutOfDialogMessageSuccess, the peer
gets onRecvOutOfDialogMessage with the text and mime types; sendMessage in a call with
a binary body arrives as onRecvMessage and its messageId in onSendMessageSuccess; a
type the peer does not take fails with 415 (onSendMessageFailure) until the peer calls
addSupportedMimeType("MESSAGE", ...); bad arguments give negative codes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.compat.conftest import Recorder, sip_port, start

from voipkit.compat.portsip import ErrorCode, PortSIPLib

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


def _auto_answer(lib: PortSIPLib, events: Recorder) -> None:
    def answer(sid: int, *rest: object) -> None:
        message = str(rest[-1])
        if "\r\nReplaces:" in message:
            return  # taken over by the library itself
        lib.answerCall(sid, False)

    events.hooks["onInviteIncoming"] = answer


def _connect(caller: PortSIPLib, caller_events: Recorder, uri: str) -> int:
    sid = caller.call(uri, True, False)
    assert sid > 0
    caller_events.wait("onInviteConnected", lambda a: a == (sid,))
    return sid


def test_blind_refer_accepted_in_the_callback(trio: Trio) -> None:
    (alice, a_ev), (bob, b_ev), (carol, c_ev) = trio
    _auto_answer(bob, b_ev)
    new_sessions: list[int] = []
    b_ev.hooks["onReceivedRefer"] = lambda sid, refer_id, to, from_, msg: new_sessions.append(
        bob.acceptRefer(refer_id, msg))

    c_ev.hooks["onInviteIncoming"] = lambda sid, *rest: carol.answerCall(sid, False)
    sid = _connect(alice, a_ev, _uri(bob, "bob"))
    assert alice.refer(sid, _uri(carol, "carol")) == 0
    a_ev.wait("onACTVTransferSuccess", lambda a: a == (sid,), timeout=10)
    refer = b_ev.wait("onReceivedRefer")
    assert refer[0] > 0 and refer[1] > 0
    assert refer[2] == _uri(carol, "carol") and refer[3].startswith("sip:alice@")
    assert refer[4].startswith("REFER ")
    assert len(new_sessions) == 1 and new_sessions[0] > 0 and new_sessions[0] != refer[0]
    names = [n for n in a_ev.names() if n.startswith(("onRefer", "onTransfer", "onACTV"))]
    assert names[0] == "onReferAccepted" and names[-1] == "onACTVTransferSuccess"
    assert "onTransferTrying" in names
    c_ev.wait("onInviteConnected")
    assert bob.hangUp(new_sessions[0]) == 0
    assert alice.hangUp(sid) == 0


def test_reject_refer(trio: Trio) -> None:
    (alice, a_ev), (bob, b_ev), _ = trio
    _auto_answer(bob, b_ev)
    b_ev.hooks["onReceivedRefer"] = lambda sid, refer_id, *rest: bob.rejectRefer(refer_id)
    sid = _connect(alice, a_ev, _uri(bob, "bob"))
    assert alice.refer(sid, "sip:nobody@127.0.0.1:9") == 0
    assert a_ev.wait("onReferRejected") == (sid, "Decline", 603)
    assert bob.rejectRefer(424242) == ErrorCode.INVALID_SESSION_ID
    assert alice.refer(987654, "sip:x@127.0.0.1") == ErrorCode.INVALID_SESSION_ID


def test_attended_refer_replaces_the_call_at_the_target(trio: Trio) -> None:
    (alice, a_ev), (bob, b_ev), (carol, c_ev) = trio
    _auto_answer(bob, b_ev)
    answers: list[int] = []
    c_ev.hooks["onInviteIncoming"] = lambda sid, *rest: answers.append(
        carol.answerCall(sid, False))
    b_ev.hooks["onReceivedRefer"] = lambda sid, refer_id, to, from_, msg: bob.acceptRefer(
        refer_id, msg)
    to_bob = _connect(alice, a_ev, _uri(bob, "bob"))
    to_carol = _connect(alice, a_ev, _uri(carol, "carol"))
    assert alice.attendedRefer(to_bob, to_carol, _uri(carol, "carol")) == 0
    a_ev.wait("onACTVTransferSuccess", lambda a: a == (to_bob,), timeout=10)
    a_ev.wait("onInviteClosed", lambda a: a == (to_carol,))
    replacing = c_ev.wait("onInviteIncoming", lambda a: "\r\nReplaces:" in a[-1])
    c_ev.wait("onInviteConnected", lambda a: a == (replacing[0],))
    assert answers == [0, ErrorCode.INVALID_STATE]  # the library answered the replacing call
    assert alice.hangUp(to_bob) == 0


def test_out_of_dialog_and_in_call_messages(trio: Trio) -> None:
    (alice, a_ev), (bob, b_ev), _ = trio
    mid = alice.sendOutOfDialogMessage(_uri(bob, "bob"), "text", "plain", False, b"hello", 5)
    assert mid > 0
    ok = a_ev.wait("onSendOutOfDialogMessageSuccess")
    assert ok[0] == mid and ok[2].startswith("sip:alice@") and ok[4] == _uri(bob, "bob")
    got = b_ev.wait("onRecvOutOfDialogMessage")
    assert got[1].startswith("sip:alice@") and got[4:] == ("text", "plain", b"hello", 5)

    _auto_answer(bob, b_ev)
    sid = _connect(alice, a_ev, _uri(bob, "bob"))
    data = bytes([0, 1, 2, 255])
    mid = alice.sendMessage(sid, "application", "vnd.3gpp.sms", data, len(data))
    assert mid > 0
    assert a_ev.wait("onSendMessageSuccess") == (sid, mid)
    received = b_ev.wait("onRecvMessage")
    assert received[1:] == ("application", "vnd.3gpp.sms", data, 4) and received[0] > 0

    odd = alice.sendMessage(sid, "application", "x-odd", b"?", 1)
    assert odd > 0
    assert a_ev.wait("onSendMessageFailure")[1:] == (odd, "Unsupported Media Type", 415)
    assert bob.addSupportedMimeType("MESSAGE", "application", "x-odd") == 0
    again = alice.sendMessage(sid, "application", "x-odd", b"?", 1)
    assert a_ev.wait("onSendMessageSuccess", lambda a: a == (sid, again)) == (sid, again)

    assert alice.sendMessage(sid, "text/plain", "x", b"a", 1) == ErrorCode.INVALID_ARGUMENT
    assert alice.sendMessage(sid, "text", "plain", b"a", 5) == ErrorCode.INVALID_ARGUMENT
    assert alice.sendMessage(99999, "text", "plain", b"a", 1) == ErrorCode.INVALID_SESSION_ID
    assert alice.hangUp(sid) == 0


def test_attended_refer2_with_method_and_target(trio: Trio) -> None:
    (alice, a_ev), (bob, b_ev), (carol, c_ev) = trio
    _auto_answer(bob, b_ev)
    _auto_answer(carol, c_ev)
    b_ev.hooks["onReceivedRefer"] = lambda sid, refer_id, to, from_, msg: bob.acceptRefer(
        refer_id, msg)
    to_bob = _connect(alice, a_ev, _uri(bob, "bob"))
    to_carol = _connect(alice, a_ev, _uri(carol, "carol"))
    assert alice.attendedRefer2(object(), to_bob, to_carol, "INVITE", _uri(bob, "bob"),
                                _uri(carol, "carol")) == ErrorCode.INVALID_ARGUMENT
    assert alice.attendedRefer2(alice, to_bob, to_carol, "INVITE", _uri(bob, "bob"),
                                _uri(carol, "carol")) == 0
    refer = b_ev.wait("onReceivedRefer")
    assert refer[4].startswith(f"REFER {_uri(bob, 'bob')} ")
    assert ";method=INVITE?Replaces=" in refer[4]
    a_ev.wait("onACTVTransferSuccess", lambda a: a == (to_bob,), timeout=10)
    a_ev.wait("onInviteClosed", lambda a: a == (to_carol,))
    assert alice.hangUp(to_bob) == 0


def test_out_of_dialog_refer_replaces_a_call(trio: Trio) -> None:
    (alice, a_ev), (bob, b_ev), (carol, c_ev) = trio
    _auto_answer(carol, c_ev)
    b_ev.hooks["onReceivedRefer"] = lambda sid, refer_id, to, from_, msg: bob.acceptRefer(
        refer_id, msg)
    to_carol = _connect(alice, a_ev, _uri(carol, "carol"))
    assert alice.outOfDialogRefer(to_carol, "INVITE", _uri(bob, "bob"),
                                  _uri(carol, "carol")) == 0
    refer = b_ev.wait("onReceivedRefer")
    assert refer[0] == -1 and refer[2].startswith(_uri(carol, "carol") + ";method=INVITE?Replaces=")
    a_ev.wait("onACTVTransferSuccess", lambda a: a == (to_carol,), timeout=10)
    a_ev.wait("onInviteClosed", lambda a: a == (to_carol,))
    replacing = c_ev.wait("onInviteIncoming", lambda a: "\r\nReplaces:" in a[-1])
    c_ev.wait("onInviteConnected", lambda a: a == (replacing[0],))
    assert alice.outOfDialogRefer(99999, "INVITE", _uri(bob, "bob"),
                                  _uri(carol, "carol")) == ErrorCode.INVALID_SESSION_ID
