"""Two PortSIPLib instances call each other on 127.0.0.1 (real sockets), as the manual's P2P sample.

Proves, through the vendor-shaped facade only:
- call() returns a sessionId > 0; the callee answers with answerCall from inside
  onInviteIncoming (a callback calling back into the library does not deadlock);
  both sides see onInviteConnected, the caller onInviteRinging/onInviteAnswered;
- every callback runs on the one callback thread, never on the loop thread;
- sendDtmf by RFC 2833/4733 and by INFO arrives as onRecvDtmfTone with the
  manual's tone numbers (1, 11 for '#');
- hold/unHold are seen by the peer as onRemoteHold/onRemoteUnHold and each
  completed re-INVITE (hold, unHold, updateCall) as onInviteUpdated; sendInfo with
  a type added by addSupportedMimeType arrives as onRecvInfo; sendOptions gets 0
  and the peer's onRecvOptions;
- hangUp from inside onInviteConnected ends the call: the peer gets onInviteClosed,
  the side that hung up does not;
- rejectCall(486) gives the caller onInviteFailure with code 486;
- calls made from several foreign threads at once each get their own sessionId;
- addSipMessageHeader's header reaches the peer's onReceivedSignaling
  (enableCallbackSignaling) and getSipMessageHeaderValue reads it back.
"""

from __future__ import annotations

import threading

from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import DTMF_METHOD, ErrorCode, PortSIPLib, StringBuilder

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]


def _answer_in_callback(lib: PortSIPLib, events: Recorder) -> list[int]:
    results: list[int] = []
    events.hooks["onInviteIncoming"] = lambda sid, *rest: results.append(
        lib.answerCall(sid, False))
    return results


def test_p2p_call_dtmf_hold_info_options_and_hangup(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    answered = _answer_in_callback(bob, bob_events)
    assert bob.addSupportedMimeType("INFO", "text", "plain") == 0
    uri = f"sip:bob@127.0.0.1:{sip_port(bob)}"

    sid = alice.call(uri, True, False)
    assert sid > 0
    incoming = bob_events.wait("onInviteIncoming")
    bob_sid = incoming[0]
    assert bob_sid > 0
    assert (incoming[1], incoming[3]) == ("Alice", "")
    assert incoming[2].startswith("sip:alice@") and incoming[4].startswith(uri)
    assert incoming[5] == "PCMU#PCMA" and incoming[7] is True and incoming[8] is False
    assert incoming[9].startswith("INVITE sip:bob@")
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    bob_events.wait("onInviteConnected", lambda a: a == (bob_sid,))
    assert answered == [0]
    ringing_or_answered = alice_events.wait("onInviteAnswered")
    assert ringing_or_answered[0] == sid and ringing_or_answered[5] == "PCMU#PCMA"
    assert ringing_or_answered[9].startswith("SIP/2.0 200")

    assert alice.sendDtmf(sid, DTMF_METHOD.DTMF_RFC2833, 1, 160, False) == 0
    bob_events.wait("onRecvDtmfTone", lambda a: a == (bob_sid, 1))
    assert alice.sendDtmf(sid, DTMF_METHOD.DTMF_INFO, 11, 160, False) == 0
    bob_events.wait("onRecvDtmfTone", lambda a: a == (bob_sid, 11))

    assert alice.hold(sid) == 0
    bob_events.wait("onRemoteHold", lambda a: a == (bob_sid,))
    updated = bob_events.wait("onInviteUpdated")  # the hold re-INVITE has completed
    assert updated[0] == bob_sid and updated[3] is True and updated[5] is False
    assert alice.unHold(sid) == 0
    unheld = bob_events.wait("onRemoteUnHold")
    assert unheld[0] == bob_sid and unheld[1] == "PCMU" and unheld[3] is True

    assert alice.sendInfo(sid, "text", "plain", "hello bob") == 0
    info = bob_events.wait("onRecvInfo")
    assert info[0].startswith("INFO ") and info[0].endswith("hello bob")

    assert alice.sendOptions(uri, "") == 0
    assert bob_events.wait("onRecvOptions")[0].startswith("OPTIONS ")

    assert alice.muteSession(sid, True, True, False, False) == 0
    bob_events.wait("onInviteUpdated", count=2)
    assert alice.updateCall(sid, True, False, False) == 0
    bob_events.wait("onInviteUpdated", count=3)
    assert alice.hangUp(sid) == 0
    bob_events.wait("onInviteClosed", lambda a: a == (bob_sid,))
    assert "onInviteClosed" not in alice_events.names()
    for events in (alice_events, bob_events):
        assert events.threads == {"portsip-callbacks"}


def test_hang_up_from_inside_on_invite_connected(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    _answer_in_callback(bob, bob_events)
    results: list[int] = []
    alice_events.hooks["onInviteConnected"] = lambda sid: results.append(alice.hangUp(sid))
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, False)
    bob_sid = bob_events.wait("onInviteIncoming")[0]
    bob_events.wait("onInviteClosed", lambda a: a == (bob_sid,))
    assert alice_events.wait("onInviteConnected") == (sid,)  # recorded once the hook returned
    assert results == [0]


def test_reject_call_gives_on_invite_failure_486(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.rejectCall(sid, 486)
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, False)
    failure = alice_events.wait("onInviteFailure")
    assert failure[0] == sid
    assert failure[6] == 486 and failure[5] == "Busy Here"
    assert failure[7].startswith("SIP/2.0 486")
    assert failure[1] == "Alice" and failure[2].startswith("sip:alice@")
    assert failure[4].startswith(f"sip:bob@127.0.0.1:{sip_port(bob)}")
    assert "onInviteClosed" not in alice_events.names()


def test_calls_from_several_threads_at_once(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    _answer_in_callback(bob, bob_events)
    uri = f"sip:bob@127.0.0.1:{sip_port(bob)}"
    ids: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def dial() -> None:
        barrier.wait()
        sid = alice.call(uri, True, False)
        with lock:
            ids.append(sid)

    threads = [threading.Thread(target=dial) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(ids) == 4 and len(set(ids)) == 4 and all(i > 0 for i in ids)
    for sid in ids:
        alice_events.wait("onInviteConnected", lambda a, s=sid: a == (s,))
    hangups = [threading.Thread(target=alice.hangUp, args=(sid,)) for sid in ids]
    for t in hangups:
        t.start()
    for t in hangups:
        t.join(10)
    bob_ids = [args[0] for name, args in bob_events.seen if name == "onInviteIncoming"]
    for bob_sid in bob_ids:
        bob_events.wait("onInviteClosed", lambda a, s=bob_sid: a == (s,))
    assert len(bob_ids) == 4


def test_added_header_reaches_the_peer_signaling(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    bob.enableCallbackSignaling(False, True)
    rule = alice.addSipMessageHeader(-1, "INVITE", 1, "X-Billing", "usd100.00")
    assert rule > 0
    assert alice.addSipMessageHeader(4242, "INVITE", 1, "X-Other", "1") == \
        ErrorCode.INVALID_SESSION_ID
    assert alice.addSipMessageHeader(-1, "INVITE", 1, "Call-ID", "x") == \
        ErrorCode.INVALID_ARGUMENT
    bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.rejectCall(sid, 480)
    alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, False)
    received = bob_events.wait("onReceivedSignaling", lambda a: a[1].startswith("INVITE "))
    assert received[0] == -1  # not yet a call when it arrived
    value = StringBuilder()
    assert bob.getSipMessageHeaderValue(received[1], "x-billing", value, 512) == 0
    assert str(value) == "usd100.00"
    incoming = bob_events.wait("onInviteIncoming")
    assert bob.getSipMessageHeaderValue(incoming[9], "X-Billing", value, 512) == 0
    alice_events.wait("onInviteFailure")
    assert "onSendingSignaling" not in bob_events.names()
    assert alice.removeAddedSipMessageHeader(rule) == 0
    assert alice.removeAddedSipMessageHeader(rule) == ErrorCode.INVALID_SESSION_ID
    assert alice.modifySipMessageHeader(-1, "ALL", 3, "User-Agent", "MyTest 1.0") > 0
    assert alice.clearModifiedSipMessageHeaders() == 0
    assert alice.clearAddedSipMessageHeaders() == 0


def test_uri_user_encoding_and_3gpp_tags(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    bob.enableCallbackSignaling(False, True)
    assert alice.enable3GppTags(True) == 0
    assert alice.setUriUserEncoding("#", True) == 0
    assert alice.setUriUserEncoding("ab", True) == ErrorCode.INVALID_ARGUMENT
    bob_events.hooks["onInviteIncoming"] = lambda sid, *rest: bob.rejectCall(sid, 486)
    alice.call(f"bob#7@127.0.0.1:{sip_port(bob)}", True, False)
    received = bob_events.wait("onReceivedSignaling", lambda a: a[1].startswith("INVITE "))
    assert received[1].startswith("INVITE sip:bob%237@127.0.0.1:")
    contact = StringBuilder()
    assert bob.getSipMessageHeaderValue(received[1], "Contact", contact, 1024) == 0
    assert "+g.3gpp.icsi-ref" in str(contact) and "+g.3gpp.smsip" in str(contact)
    alice_events.wait("onInviteFailure")
