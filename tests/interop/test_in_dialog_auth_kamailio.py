"""In-call MESSAGE, INFO and REFER through a Kamailio that challenges them (407).

Proves, with Kamailio started with WITH_INDIALOG_AUTH (in-dialog MESSAGE, REFER and INFO
must carry the sender's digest credentials) and two voipkit phones registered there
(alice calls bob): alice's MESSAGE, INFO and REFER in the call are each challenged 407,
resent with Proxy-Authorization and reach bob (MessageReceived, InfoReceived,
ReferReceived, here refused 603 so alice hears ReferRejected 603, not 407); bob, who
received the call, answers the challenge to his own MESSAGE with his account's
credentials too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interop import peers
from interop.api_helpers import (
    Incoming,
    Trace,
    kam_account,
    kamailio_errors,
    phone_config,
    running,
    wait_until,
)
from voipkit.api import (
    CallState,
    InfoReceived,
    MessageReceived,
    ReferReceived,
    ReferRejected,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def kam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[peers.Kamailio]:
    with peers.kamailio(tmp_path_factory.mktemp("kamailio-indialog"),
                        "WITH_INDIALOG_AUTH") as server:
        yield server
        assert kamailio_errors(server) == []


def _challenged(trace: Trace, method: bytes) -> int:
    """How many 407s to ``method`` the phone received."""
    return sum(1 for m in trace.find(sent=False, start=b"SIP/2.0 407")
               if b"CSeq: " in m and m.split(b"\r\nCSeq: ", 1)[1].split(b"\r\n")[0]
               .endswith(b" " + method))


def test_in_call_requests_answer_the_proxy_challenge(kam: peers.Kamailio, tmp_path: Path) -> None:
    async def main() -> None:
        async with running(phone_config(kam=kam)) as alice, \
                running(phone_config(kam=kam)) as bob:
            alice_trace, bob_trace = Trace.of(alice), Trace.of(bob)
            alice_account = await alice.add_account(kam_account(kam, "alice"))
            await alice_account.register(timeout=10)
            bob_account = await bob.add_account(kam_account(kam, "bob"))
            await bob_account.register(timeout=10)
            incoming = Incoming(bob)
            bob.supported_info_types.append("text/plain")
            got: asyncio.Queue[Any] = asyncio.Queue()
            for kind in (MessageReceived, InfoReceived):
                bob.on(kind)(got.put_nowait)
            alice_got: asyncio.Queue[MessageReceived] = asyncio.Queue()
            alice.on(MessageReceived)(alice_got.put_nowait)
            bob.on(ReferReceived)(lambda e: bob.spawn(e.refer.reject(603)))

            call = await alice_account.call("sip:bob@127.0.0.1")
            await call.answered(timeout=10)
            bob_call = await incoming.next()
            await wait_until(lambda: call.state is CallState.CONNECTED
                             and bob_call.state is CallState.CONNECTED, 5, what="connected")

            message = await call.send_message("hello bob")
            assert (await message.delivered(timeout=10)).status == 200
            event = await asyncio.wait_for(got.get(), 10)
            assert isinstance(event, MessageReceived) and event.message.text == "hello bob"
            assert _challenged(alice_trace, b"MESSAGE") == 1

            await call.send_info("text/plain", b"info for bob")
            try:
                event = await asyncio.wait_for(got.get(), 10)
            except TimeoutError:
                raise AssertionError(alice_trace.dump() + bob_trace.dump()) from None
            assert isinstance(event, InfoReceived)
            assert _challenged(alice_trace, b"INFO") == 1

            rejected: list[ReferRejected] = []
            call.on(ReferRejected)(rejected.append)
            transfer = await call.refer("sip:carol@127.0.0.1")
            assert await transfer.wait(timeout=10) is False
            assert [(r.status, r.reason) for r in rejected] == [(603, "Decline")]
            assert _challenged(alice_trace, b"REFER") == 1
            authorized = alice_trace.find(sent=True, start=b"REFER ")
            assert len(authorized) == 2 and b"\r\nProxy-Authorization: Digest" in authorized[1]

            back = await bob_call.send_message("hello alice")
            assert (await back.delivered(timeout=10)).status == 200
            assert (await asyncio.wait_for(alice_got.get(), 10)).message.text == "hello alice"
            assert _challenged(bob_trace, b"MESSAGE") == 1

            await call.hangup()
            await call.ended(timeout=5)

    asyncio.run(main())
