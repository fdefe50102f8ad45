"""A refused refresh of a facade subscription raises onSubscriptionFailure, then
onSubscriptionTerminated when it lapses (the manual: onSubscriptionFailure is "triggered on
sending SUBSCRIBE failure", onSubscriptionTerminated "when a SUBSCRIPTION is terminated or
expired").

Proves, with a scripted notifier on 127.0.0.1 granting 2 s and refusing refreshes with 500:
sendSubscription's id comes back in onRecvNotifyOfSubscription, then in
onSubscriptionFailure with 500, then in onSubscriptionTerminated, in that order.
"""

from __future__ import annotations

from tests.api.raw_notifier import RawNotifier
from tests.compat.conftest import Recorder, start

from voipkit.compat.portsip import PortSIPLib


def test_refresh_failure_then_terminated() -> None:
    notifier = RawNotifier(granted=2, refresh_status=500)
    events = Recorder()
    lib = PortSIPLib(events)
    try:
        assert start(lib) == 0
        assert lib.setUser("alice", "Alice", "", "", "", "", 0, "", 0, "", 0) == 0
        sub_id = lib.sendSubscription(notifier.uri, "message-summary")
        assert sub_id > 0
        assert events.wait("onRecvNotifyOfSubscription")[0] == sub_id
        assert events.wait("onSubscriptionFailure") == (sub_id, 500)
        assert events.wait("onSubscriptionTerminated") == (sub_id,)
        names = [n for n in events.names() if n.startswith("onSubscription")]
        assert names == ["onSubscriptionFailure", "onSubscriptionTerminated"]
    finally:
        lib.unInitialize()
        notifier.close()
