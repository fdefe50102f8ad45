"""UsageManager routes core events to the usage that owns them and keeps no stale routes.

Proves: responses reach the usage that sent the request; an unowned new request
goes to the factory for its method (or through as a plain RequestReceived);
finished non-INVITE transactions leave no route behind (no leak over days of
REGISTER refreshes); an event that arrives for a usage that has finished is
dropped and counted instead of surfacing as a stray event; usage timers and
core timers share ``get_timer``; a response to a request a usage sent inside a dialog
that another usage owns reaches the sender, not the dialog's owner.
"""

from __future__ import annotations

from collections.abc import Hashable

from voipkit.base.ids import SequentialIds
from voipkit.sip.addressing import Destination, TransportKind
from voipkit.sip.events import CoreEvent, RequestReceived, ResponseReceived
from voipkit.sip.ua import CoreConfig
from voipkit.sip.usage import Usage, UsageManager
from voipkit.testing import InMemoryNetwork, make_core
from voipkit.testing.messages import options

A = Destination(TransportKind.UDP, "127.0.0.1", 5060)
B = Destination(TransportKind.UDP, "127.0.0.2", 5060)


class Pinger(Usage):
    """Sends OPTIONS on demand and records what comes back."""

    def __init__(self, host: UsageManager, usage_id: int) -> None:
        super().__init__(host, usage_id)
        self.seen: list[str] = []

    def ping(self, *, now: float) -> None:
        self.host.send_request_for(self, options("sip:bob@127.0.0.2"), [B], now=now)

    def on_event(self, event: CoreEvent, *, now: float) -> None:
        if isinstance(event, ResponseReceived):
            self.seen.append(f"{event.response.status}")
        elif isinstance(event, RequestReceived):
            self.seen.append(event.request.method)
            self.host.send_response_for(self, self.host.core.create_response(event.request, 202),
                                    now=now)

    def on_timer(self, name: Hashable, *, now: float) -> None:
        self.seen.append(f"timer {name} at {now}")


def _pair() -> tuple[InMemoryNetwork, UsageManager, UsageManager]:
    net = InMemoryNetwork()
    quiet = CoreConfig(auto_options=False)
    alice = UsageManager(make_core(A, prefix="a", config=quiet), ids=SequentialIds("ua"))
    bob = UsageManager(make_core(B, prefix="b", config=quiet), ids=SequentialIds("ub"))
    net.attach(alice, A)
    net.attach(bob, B)
    return net, alice, bob


def test_responses_reach_the_sender_and_routes_are_released() -> None:
    net, alice, bob = _pair()
    pinger = alice.add(Pinger(alice, alice.new_usage_id()))
    assert isinstance(pinger, Pinger)
    bob.on_new_request("OPTIONS", lambda m, ev, now: Pinger(m, m.new_usage_id()))
    for _ in range(3):
        pinger.ping(now=net.now)
        net.settle()
    assert pinger.seen == ["202", "202", "202"]
    assert alice._by_transaction == {}  # every finished OPTIONS released its route
    assert alice.next_event() is None
    assert len(bob.usages) == 3 and all(u.seen == ["OPTIONS"] for u in bob.usages.values())


def test_unowned_request_passes_through_and_late_events_are_dropped() -> None:
    net, alice, bob = _pair()
    pinger = alice.add(Pinger(alice, alice.new_usage_id()))
    assert isinstance(pinger, Pinger)
    pinger.ping(now=net.now)
    net.collect()  # the OPTIONS is in flight to bob
    alice.finished(pinger)
    net.settle()
    received = bob.next_event()
    assert isinstance(received, RequestReceived) and received.request.method == "OPTIONS"
    bob.core.send_response(bob.core.create_response(received.request, 200), now=net.now)
    net.settle()
    assert alice.next_event() is None  # the late 200 does not surface as a stray event
    assert alice.counters["dropped_late_for_finished_usage"] == 1


def test_usage_timers_merge_with_core_timers() -> None:
    _, alice, _ = _pair()
    pinger = alice.add(Pinger(alice, alice.new_usage_id()))
    assert isinstance(pinger, Pinger)
    alice.schedule(pinger, "refresh", 40.0)
    assert alice.get_timer() == 40.0
    pinger.ping(now=0.0)  # UDP OPTIONS: Timer E at 0.5 comes first
    assert alice.get_timer() == 0.5
    alice.handle_timer(now=40.0)
    assert "timer refresh at 40.0" in pinger.seen
    alice.cancel_timer(pinger, "refresh")


def test_in_dialog_response_reaches_the_sender_not_the_dialog_owner() -> None:
    from voipkit.sip.dialog import Dialog
    from voipkit.sip.message import Response

    net, alice, bob = _pair()
    owner = alice.add(Pinger(alice, alice.new_usage_id()))
    sender = alice.add(Pinger(alice, alice.new_usage_id()))
    assert isinstance(owner, Pinger) and isinstance(sender, Pinger)
    request = options("sip:bob@127.0.0.2")
    request.from_.params["tag"] = "ftag"
    response = Response.for_request(request, 200, to_tag="ttag")
    dialog = Dialog.as_uac(request, response)
    alice.add_dialog(owner, dialog)  # the owner binds the dialog
    in_dialog = dialog.create_request("OPTIONS")
    bob.on_new_request("OPTIONS", lambda m, ev, now: Pinger(m, m.new_usage_id()))
    alice.send_request_for(sender, in_dialog, [B], now=net.now)
    net.settle()
    assert sender.seen == ["481"]  # bob knows no such dialog; the answer is the sender's
    assert owner.seen == []
