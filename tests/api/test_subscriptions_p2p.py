"""Two Phones on 127.0.0.1 subscribe to each other for real (phone.subscriptions).

Proves, end to end through the public API over UDP sockets:
- P2P presence: alice's presence subscription (with a Subject) reaches bob as
  PresenceSubscribeReceived; bob's accept sends his status at once, which alice sees
  as PresenceOnline with the note; bob's "Offline" becomes PresenceOffline; alice's
  terminate ends both sides (SubscriptionEnded, WatcherEnded);
- a rejected presence subscription is SubscriptionFailure 403, and a package the
  phone does not serve is SubscriptionFailure 489;
- a served message-summary package delivers MessagesWaiting with the voice and fax
  counts, and a served dialog package delivers DialogStateUpdated per dialog with
  monitored URI, state, id and direction; BLF pickup sends an INVITE with the
  Replaces of the reported dialog (early-only while it rings) to its remote target;
- malformed bodies are refused without ending the subscription: a message-summary
  that is not one gets 400 (SubscriptionNotifyRejected), a body type outside Accept
  gets 415; the next good NOTIFY still arrives;
- the subscription refreshes itself (same Call-ID, higher CSeq) before it expires;
- a refused PUBLISH raises RequestFailed (405) and emits PublicationFailure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from voipkit import api
from voipkit.api import IncomingCall, Phone, PhoneConfig, SignalingTraced
from voipkit.api.subscriptions import (
    DialogStateUpdated,
    MessagesWaiting,
    PresenceOffline,
    PresenceOnline,
    PresenceSubscribeReceived,
    PublicationFailure,
    SubscriptionEnded,
    SubscriptionFailure,
    SubscriptionNotified,
    SubscriptionNotifyRejected,
    WatcherEnded,
    WatcherSubscribed,
)
from voipkit.sip.bodies import (
    DIALOG_INFO,
    MESSAGE_SUMMARY,
    DialogDirection,
    DialogEntry,
    DialogInfo,
    DialogInfoState,
    DialogPhase,
    MessageCounts,
    MessageSummary,
    Participant,
    build_dialog_info,
    build_message_summary,
)

E = TypeVar("E")


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(30000, 39999)))


async def _pair() -> tuple[Phone, Phone, str, str]:
    alice, bob = Phone(_config()), Phone(_config())
    await alice.start()
    await bob.start()
    _, host, port = bob.listening[0]
    _, a_host, a_port = alice.listening[0]
    return alice, bob, f"sip:bob@{host}:{port}", f"sip:alice@{a_host}:{a_port}"


class Collect:
    """Queues every event of the given types a phone emits."""

    def __init__(self, phone: Phone, *types: type[Any]) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        for kind in types:
            phone.on(kind)(self.queue.put_nowait)

    async def next(self, kind: type[E], timeout: float = 5.0) -> E:
        event = await asyncio.wait_for(self.queue.get(), timeout)
        assert isinstance(event, kind), f"expected {kind.__name__}, got {event!r}"
        return event

    async def until(self, kind: type[E], timeout: float = 5.0) -> E:
        """The next ``kind`` event, skipping others."""
        while not isinstance(event := await asyncio.wait_for(self.queue.get(), timeout), kind):
            pass
        return event


def run(body: Callable[[Phone, Phone, str, str], Awaitable[None]]) -> None:
    async def main() -> None:
        alice, bob, bob_uri, alice_uri = await _pair()
        try:
            await body(alice, bob, bob_uri, alice_uri)
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_p2p_presence_online_offline_and_terminate() -> None:
    async def body(alice: Phone, bob: Phone, bob_uri: str, alice_uri: str) -> None:
        seen_bob = Collect(bob, PresenceSubscribeReceived, WatcherEnded)
        seen_alice = Collect(alice, PresenceOnline, PresenceOffline, SubscriptionEnded)
        subscription = await alice.subscriptions.subscribe_presence(bob_uri, "Hello, I'm Alice")
        received = await seen_bob.next(PresenceSubscribeReceived)
        watcher = received.watcher
        assert watcher.subject == "Hello, I'm Alice"
        assert str(watcher.remote.uri).startswith("sip:voipkit@127.0.0.1")
        bob.subscriptions.presence_text = "At my desk"
        watcher.accept()
        online = await seen_alice.next(PresenceOnline)
        assert online.subscription is subscription and online.note == "At my desk"
        assert online.uri == str(watcher.entity) == bob_uri
        assert subscription.active
        await bob.subscriptions.set_presence("In a meeting")
        assert (await seen_alice.next(PresenceOnline)).note == "In a meeting"
        await bob.subscriptions.set_presence("Offline", watcher.id)
        offline = await seen_alice.next(PresenceOffline)
        assert offline.uri == bob_uri and not offline.document.online
        await subscription.terminate()
        ended = await seen_alice.until(SubscriptionEnded)  # the final NOTIFY still says closed
        assert ended.reason == "unsubscribed"
        assert (await seen_bob.next(WatcherEnded)).reason == "unsubscribed"
        assert alice.subscriptions.subscriptions == {} and bob.subscriptions.watchers == {}

    run(body)


def test_rejected_and_unserved_subscriptions_fail() -> None:
    async def body(alice: Phone, bob: Phone, bob_uri: str, alice_uri: str) -> None:
        bob.on(PresenceSubscribeReceived)(lambda e: e.watcher.reject(403))
        failures = Collect(alice, SubscriptionFailure)
        first = await alice.subscriptions.subscribe_presence(bob_uri)
        refused = await failures.next(SubscriptionFailure)
        assert (refused.subscription, refused.status) == (first, 403)
        second = await alice.subscriptions.subscribe(bob_uri, "conference")
        unserved = await failures.next(SubscriptionFailure)
        assert (unserved.subscription, unserved.status) == (second, 489)
        assert unserved.response is not None
        assert unserved.response.headers.get("Allow-Events") == "presence"

    run(body)


def test_mwi_counts_and_malformed_bodies() -> None:
    async def body(alice: Phone, bob: Phone, bob_uri: str, alice_uri: str) -> None:
        bob.subscriptions.serve("message-summary")
        watchers = Collect(bob, WatcherSubscribed)
        seen = Collect(alice, MessagesWaiting, SubscriptionNotifyRejected,
                       SubscriptionEnded)
        notified: list[SubscriptionNotified] = []
        alice.on(SubscriptionNotified)(notified.append)
        subscription = await alice.subscriptions.subscribe(bob_uri, "message-summary")
        watcher = (await watchers.next(WatcherSubscribed)).watcher
        summary = MessageSummary(True, "sip:bob@example.com", {
            "voice-message": MessageCounts(2, 8, 1, 2), "fax-message": MessageCounts(1, 0)})
        watcher.accept(build_message_summary(summary), MESSAGE_SUMMARY)
        waiting = await seen.next(MessagesWaiting)
        assert waiting.subscription is subscription
        assert waiting.account == "sip:bob@example.com"
        assert waiting.summary.voice == MessageCounts(2, 8, 1, 2)
        assert waiting.summary.fax == MessageCounts(1, 0, 0, 0)
        watcher.notify(b"Voice-Message: lots\r\n", MESSAGE_SUMMARY)
        bad = await seen.next(SubscriptionNotifyRejected)
        assert bad.status == 400 and "Messages-Waiting" in bad.reason
        watcher.notify(b"<x/>", "application/xml")
        wrong = await seen.next(SubscriptionNotifyRejected)
        assert wrong.status == 415
        assert watcher.live and subscription.ended_reason is None
        watcher.notify(build_message_summary(MessageSummary(False)), MESSAGE_SUMMARY)
        cleared = await seen.next(MessagesWaiting)
        assert not cleared.summary.waiting and cleared.account == subscription.target
        assert len(notified) == 2  # the refused NOTIFYs are not notifications
        watcher.terminate("noresource")
        assert (await seen.until(SubscriptionEnded)).reason == "noresource"

    run(body)


def test_blf_dialog_states_and_pickup_invite() -> None:
    async def body(alice: Phone, bob: Phone, bob_uri: str, alice_uri: str) -> None:
        bob.subscriptions.serve("dialog")
        watchers = Collect(bob, WatcherSubscribed)
        seen = Collect(alice, DialogStateUpdated)
        subscription = await alice.subscriptions.subscribe(bob_uri, "dialog")
        watcher = (await watchers.next(WatcherSubscribed)).watcher
        # bob's phone reports a call of "100" that rings, from a caller at alice's own
        # address (so the pickup INVITE comes back to alice, who takes it as a new call)
        ringing = DialogEntry(
            id="d1", state=DialogPhase.EARLY, call_id="abc@host", local_tag="bobtag",
            remote_tag="callertag", direction=DialogDirection.RECIPIENT,
            remote=Participant(identity="sip:caller@example.com", target=alice_uri))

        def document(version: int, *entries: DialogEntry) -> bytes:
            return build_dialog_info(DialogInfo(version, DialogInfoState.FULL,
                                                "sip:100@example.com", entries))

        watcher.accept(document(0), DIALOG_INFO)
        watcher.notify(document(1, ringing), DIALOG_INFO)
        update = await seen.next(DialogStateUpdated)
        assert (update.monitored, update.state, update.dialog_id, update.direction) == (
            "sip:100@example.com", "early", "d1", "recipient")
        assert update.subscription is subscription
        invites: list[bytes] = []
        alice.on(SignalingTraced)(
            lambda e: invites.append(e.data) if not e.sent and e.data.startswith(
                b"INVITE") else None)
        # the Replaces names no dialog of alice's: she refuses it (481, or 486 here
        # if it reaches the application)
        alice.on(IncomingCall)(lambda e: e.call.reject(486))
        call = await alice.subscriptions.pickup("d1")
        await asyncio.wait_for(call.ended(), 5)
        [invite] = invites
        head = invite.split(b"\r\n\r\n", 1)[0].decode()
        assert head.startswith("INVITE sip:alice@127.0.0.1:")
        assert "\r\nReplaces: abc@host;to-tag=callertag;from-tag=bobtag;early-only\r\n" in head
        done = DialogEntry(id="d1", state=DialogPhase.TERMINATED, call_id="abc@host",
                           direction=DialogDirection.RECIPIENT)
        watcher.notify(document(2, done), DIALOG_INFO)
        assert (await seen.next(DialogStateUpdated)).state == "terminated"
        try:
            await alice.subscriptions.pickup("d1")
        except api.NotFoundError:
            pass
        else:
            raise AssertionError("a terminated dialog cannot be picked up")

    run(body)


def test_subscription_refreshes_before_expiry() -> None:
    async def body(alice: Phone, bob: Phone, bob_uri: str, alice_uri: str) -> None:
        bob.subscriptions.serve("message-summary", min_expires=1, max_expires=2)
        watchers = Collect(bob, WatcherSubscribed)
        subscribes: list[bytes] = []
        third = asyncio.Event()

        def sent(event: SignalingTraced) -> None:
            if event.sent and event.data.startswith(b"SUBSCRIBE"):
                subscribes.append(event.data)
                if len(subscribes) == 3:
                    third.set()

        alice.on(SignalingTraced)(sent)
        await alice.subscriptions.subscribe(bob_uri, "message-summary", expires=2)
        watcher = (await watchers.next(WatcherSubscribed)).watcher
        watcher.accept(build_message_summary(MessageSummary(False)), MESSAGE_SUMMARY)
        # granted 2 s: refreshed 1 s after each 2xx (refresh_delay), so twice within 5 s
        await asyncio.wait_for(third.wait(), 5)
        call_ids = {line for m in subscribes for line in m.split(b"\r\n")
                    if line.lower().startswith(b"call-id")}
        assert len(call_ids) == 1
        cseqs = [int(line.split(b":", 1)[1].split()[0]) for m in subscribes[:3]
                 for line in m.split(b"\r\n") if line.lower().startswith(b"cseq")]
        assert cseqs == sorted(set(cseqs)) and len(cseqs) == 3
        assert watcher.live

    run(body)


def test_refused_publish_raises_and_reports() -> None:
    """A PUBLISH the server refuses (bob's phone allows no PUBLISH: 405) raises RequestFailed
    to the awaiting code and emits PublicationFailure; agent-mode set_presence does the same."""
    async def body(alice: Phone, bob: Phone, bob_uri: str, alice_uri: str) -> None:
        server = bob_uri.split("@", 1)[1]
        account = await alice.add_account(api.AccountConfig(user="alice", domain="127.0.0.1",
                                                            server=server))
        failures = Collect(alice, PublicationFailure)
        publication = await alice.subscriptions.publish("presence", account=account)
        try:
            await publication.publish(b"x", "text/plain", timeout=5)
        except api.RequestFailed as exc:
            assert exc.status == 405
        else:
            raise AssertionError("a refused PUBLISH must raise")
        failed = await failures.next(PublicationFailure)
        assert (failed.publication, failed.status) == (publication, 405)
        alice.subscriptions.presence_mode = api.PresenceMode.AGENT
        try:
            await alice.subscriptions.set_presence("here")
        except api.RequestFailed as exc:
            assert exc.status == 405
        else:
            raise AssertionError("a refused presence PUBLISH must raise")

    run(body)
