"""A refused subscription refresh reaches the public API (SubscriptionRefreshFailure).

Proves, with a Phone on 127.0.0.1 subscribing to a scripted notifier that grants 2 s and
refuses every refresh with 500: the refresh goes out (about 1 s in: refresh_delay(2));
the phone emits SubscriptionRefreshFailure with status 500 and the deadline of the
granted 2 s; the subscription stays alive until then and ends with SubscriptionEnded
reason ``timeout``, after the refresh failure.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.raw_notifier import RawNotifier

from voipkit import api
from voipkit.api import (
    Phone,
    PhoneConfig,
    SubscriptionEnded,
    SubscriptionNotified,
    SubscriptionRefreshFailure,
)


def test_refused_refresh_is_an_event_then_the_subscription_lapses() -> None:
    async def main() -> None:
        notifier = RawNotifier(granted=2, refresh_status=500)
        phone = Phone(PhoneConfig(listen=("udp:127.0.0.1:0",),
                                  media=api.MediaConfig(rtp_port_range=(48000, 48999))))
        await phone.start()
        seen: asyncio.Queue[Any] = asyncio.Queue()
        for kind in (SubscriptionNotified, SubscriptionRefreshFailure, SubscriptionEnded):
            phone.on(kind)(seen.put_nowait)
        try:
            subscription = await phone.subscriptions.subscribe(notifier.uri, "message-summary")
            first = await asyncio.wait_for(seen.get(), 5)
            assert isinstance(first, SubscriptionNotified)
            accepted_at = phone.now()
            failure = await asyncio.wait_for(seen.get(), 5)
            assert isinstance(failure, SubscriptionRefreshFailure)
            assert failure.subscription is subscription and failure.status == 500
            assert failure.expires_at is not None
            assert abs(failure.expires_at - (accepted_at + 2.0)) < 0.5
            assert phone.now() < failure.expires_at and subscription.ended_reason is None
            assert notifier.refreshes == 1
            ended = await asyncio.wait_for(seen.get(), 5)
            assert isinstance(ended, SubscriptionEnded) and ended.reason == "timeout"
            assert phone.now() >= failure.expires_at
        finally:
            await phone.close()
            notifier.close()

    asyncio.run(main())
