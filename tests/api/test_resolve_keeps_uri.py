"""Phone.resolve never changes the URI it is given (regression: it added ``transport=``).

Proves that resolving a SipUri with a transport leaves that object as it was, and that
an account call without a server (which resolves its request URI) sends a To header
without a ``transport`` parameter the caller never wrote.
"""

from __future__ import annotations

import asyncio

from voipkit import api
from voipkit.api import AccountConfig, IncomingCall, Phone, PhoneConfig
from voipkit.sip import SipUri
from voipkit.sip.addressing import TransportKind


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(45000, 45999)))


def test_resolve_leaves_the_uri_alone_and_to_has_no_transport() -> None:
    async def main() -> None:
        alice, bob = Phone(_config()), Phone(_config())
        await alice.start()
        await bob.start()
        try:
            _, host, port = bob.listening[0]
            uri = SipUri.parse(f"sip:bob@{host}:{port}")
            targets = await alice.resolve(uri, TransportKind.UDP)
            assert [(t.host, t.port) for t in targets] == [(host, port)]
            assert uri.params == {} and str(uri) == f"sip:bob@{host}:{port}"

            arrived: asyncio.Future[IncomingCall] = asyncio.get_running_loop().create_future()

            @bob.on(IncomingCall)
            def incoming(event: IncomingCall) -> None:
                if not arrived.done():
                    arrived.set_result(event)

            account = await alice.add_account(AccountConfig(user="alice", domain="127.0.0.1"))
            call = await account.call(f"sip:bob@{host}:{port}")
            event = await asyncio.wait_for(arrived, 5)
            assert str(event.request.to.uri) == f"sip:bob@{host}:{port}"
            assert "transport" not in event.request.to.uri.params
            await call.hangup()
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())
