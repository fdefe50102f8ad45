"""Two PortSIPLib instances use the manual's presence and subscription functions P2P.

Proves, through the vendor-shaped facade only, on 127.0.0.1 with real sockets:
- presenceSubscribe returns a subscribeId > 0; the peer's onPresenceRecvSubscribe
  carries its own subscribeId, the caller's display name, URI and subject, and
  presenceAcceptSubscribe called from inside that callback sends the status at once
  (onPresenceOnline with setPresenceStatus's text); setPresenceStatus "Offline" gives
  onPresenceOffline; onRecvNotifyOfSubscription carries the NOTIFY text and its PIDF
  body with the right length; presenceTerminateSubscribe ends it
  (onSubscriptionTerminated with the same id);
- presenceRejectSubscribe gives the subscriber onSubscriptionFailure 403;
- sendSubscription to a package the peer does not serve gives onSubscriptionFailure
  489; terminateSubscription and presenceAcceptSubscribe with unknown ids, a bad
  setPresenceMode, P2P setPresenceStatus with id 0, a non-positive default
  subscription time and a video pickup are refused with the documented codes;
- setDefaultSubscriptionTime sets the Expires of the next SUBSCRIBE.
"""

from __future__ import annotations

from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import ErrorCode, PortSIPLib

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]


def test_p2p_presence_through_the_facade(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    accepted: list[int] = []
    bob_events.hooks["onPresenceRecvSubscribe"] = lambda sid, *rest: accepted.append(
        bob.presenceAcceptSubscribe(sid))
    uri = f"sip:bob@127.0.0.1:{sip_port(bob)}"
    assert alice.setDefaultSubscriptionTime(300) == 0
    alice.enableCallbackSignaling(True, False)
    sub_id = alice.presenceSubscribe(uri, "Hello, I'm Alice")
    assert sub_id > 0
    watcher_id, display, from_, subject = bob_events.wait("onPresenceRecvSubscribe")
    assert watcher_id > 0 and (display, subject) == ("Alice", "Hello, I'm Alice")
    assert from_.startswith("sip:alice@")
    alice_events.wait("onPresenceOnline")
    assert accepted == [0]
    notify_id, text, body, length = alice_events.wait("onRecvNotifyOfSubscription")
    assert notify_id == sub_id and text.startswith("NOTIFY sip:alice@")
    assert b"<basic>open</basic>" in body
    subscribe = alice_events.wait("onSendingSignaling", lambda a: a[1].startswith("SUBSCRIBE"))
    assert "\r\nExpires: 300\r\n" in subscribe[1] and "\r\nEvent: presence\r\n" in subscribe[1]
    assert "\r\nSubject: Hello, I'm Alice\r\n" in subscribe[1]
    assert length == len(body) > 0
    assert bob.setPresenceStatus(watcher_id, "On the phone") == 0
    online = alice_events.wait("onPresenceOnline", lambda a: a[2] == "On the phone")
    assert online[1] == uri
    assert bob.setPresenceStatus(watcher_id, "Offline") == 0
    assert alice_events.wait("onPresenceOffline") == ("", uri)
    assert alice.presenceTerminateSubscribe(sub_id) == 0
    assert alice_events.wait("onSubscriptionTerminated") == (sub_id,)
    assert bob.setPresenceStatus(watcher_id, "back") == ErrorCode.INVALID_SESSION_ID


def test_rejected_unserved_and_refused_calls(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    bob_events.hooks["onPresenceRecvSubscribe"] = lambda sid, *rest: bob.presenceRejectSubscribe(
        sid)
    uri = f"sip:bob@127.0.0.1:{sip_port(bob)}"
    first = alice.presenceSubscribe(uri, "")
    assert alice_events.wait("onSubscriptionFailure") == (first, 403)
    second = alice.sendSubscription(uri, "message-summary")
    assert second > first
    assert alice_events.wait("onSubscriptionFailure", lambda a: a[0] == second) == (second,
                                                                                     489)
    assert alice.terminateSubscription(9999) == ErrorCode.INVALID_SESSION_ID
    assert bob.presenceAcceptSubscribe(9999) == ErrorCode.INVALID_SESSION_ID
    assert alice.setPresenceMode(2) == ErrorCode.INVALID_ARGUMENT
    assert alice.setPresenceStatus(0, "here") == ErrorCode.INVALID_ARGUMENT  # P2P needs an id
    assert alice.setDefaultSubscriptionTime(0) == ErrorCode.INVALID_ARGUMENT
    assert alice.setDefaultPublicationTime(-5) == ErrorCode.INVALID_ARGUMENT
    assert alice.sendSubscription(uri, "") == ErrorCode.INVALID_ARGUMENT
    assert alice.pickupBLFCall("d1", True) == ErrorCode.INVALID_SESSION_ID  # video is fine
    assert alice.pickupBLFCall("no-such-dialog", False) == ErrorCode.INVALID_SESSION_ID
    assert alice.setPresenceMode(1) == 0
    # agent mode with a P2P user (no server): nobody to PUBLISH to
    assert alice.setPresenceStatus(0, "here") == ErrorCode.INVALID_STATE
    assert alice.enableAutoCheckMwi(True) == 0
