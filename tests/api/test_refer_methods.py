"""REFER methods and Refer-Sub between real Phones on 127.0.0.1 (public API).

Proves:
- an out-of-dialog REFER with ``method=BYE`` and the Replaces of carol's call with
  alice (outOfDialogRefer's "BYE") makes carol hang that call up, and the BYE's 200
  comes back to alice as TransferSucceeded; the call ends on both sides;
- a BYE REFER that names no call of the recipient is refused 403 (ReferRejected) and
  never reaches the recipient's application;
- a REFER with ``method=MESSAGE`` and ``?body=`` makes bob send carol that MESSAGE,
  and its 200 is alice's TransferSucceeded;
- ``Refer-Sub: false``: bob's accept answers 200 and still calls carol; alice sees only
  ReferAccepted (subscribed False) and the transfer's outcome is True at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from voipkit import api
from voipkit.api import (
    CallConnected,
    IncomingCall,
    MessageReceived,
    Phone,
    PhoneConfig,
    ReferAccepted,
    ReferReceived,
    ReferRejected,
    TransferEvent,
    transfer,
)

Main = Callable[[list[Phone]], Awaitable[None]]


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(46000, 47999)))


def _uri(phone: Phone, user: str) -> str:
    _, host, port = phone.listening[0]
    return f"sip:{user}@{host}:{port}"


def _run(count: int, body: Main) -> None:
    async def main() -> None:
        phones = [Phone(_config()) for _ in range(count)]
        for phone in phones:
            await phone.start()
        try:
            await asyncio.wait_for(body(phones), 20)
        finally:
            for phone in phones:
                await phone.close()

    asyncio.run(main())


def _answering(phone: Phone, calls: list[api.Call]) -> None:
    @phone.on(IncomingCall)
    async def answer(event: IncomingCall) -> None:
        calls.append(event.call)
        await event.call.answer()


async def _connected(call: api.Call) -> None:
    await call.answered(timeout=5)
    if call.state is not api.CallState.CONNECTED:
        await call.bus.wait_for(CallConnected, timeout=5)


def test_out_of_dialog_refer_with_method_bye_ends_the_named_call() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, carol = phones
        carol_calls: list[api.Call] = []
        _answering(carol, carol_calls)
        received: list[ReferReceived] = []
        accepted: list[api.Call | None] = []

        @carol.on(ReferReceived)
        async def accept(event: ReferReceived) -> None:
            received.append(event)
            accepted.append(await event.refer.accept())

        seen: list[str] = []
        alice.on(TransferEvent)(lambda e: seen.append(type(e).__name__))
        call = await alice.call(_uri(carol, "carol"))
        await _connected(call)
        sent = await transfer.out_of_dialog_refer(alice, call, "BYE", _uri(carol, "carol"),
                                                  _uri(carol, "carol"))
        assert ";method=BYE?Replaces=" in sent.refer_to
        assert await sent.wait(timeout=10) is True
        assert seen == ["ReferAccepted", "TransferTrying", "TransferSucceeded"]
        (event,) = received
        assert event.refer.method == "BYE" and event.refer.call is None
        assert accepted == [carol_calls[0]]
        await carol_calls[0].ended(timeout=5)
        assert carol_calls[0].end_reason == "bye-local"
        await call.ended(timeout=5)
        assert call.end_reason == "bye-remote"

    _run(2, body)


def test_bye_refer_naming_no_call_is_refused_403() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob, carol = phones
        _answering(bob, [])
        received: list[ReferReceived] = []
        bob.on(ReferReceived)(received.append)
        call = await alice.call(_uri(bob, "bob"))
        await _connected(call)
        rejected: list[ReferRejected] = []
        call.on(ReferRejected)(rejected.append)
        sent = await call.refer(_uri(carol, "carol"), method="BYE")
        assert await sent.wait(timeout=5) is False
        assert [(r.status, r.reason) for r in rejected] == [
            (403, "Refer-To method=BYE names no call here")]
        assert received == []
        assert call.state is api.CallState.CONNECTED
        await call.hangup()

    _run(3, body)


def test_refer_with_method_message_sends_it() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob, carol = phones
        _answering(bob, [])
        bob.on(ReferReceived)(lambda e: bob.spawn(e.refer.accept()))
        got: asyncio.Queue[MessageReceived] = asyncio.Queue()
        carol.on(MessageReceived)(got.put_nowait)
        seen: list[str] = []
        alice.on(TransferEvent)(lambda e: seen.append(type(e).__name__))
        call = await alice.call(_uri(bob, "bob"))
        await _connected(call)
        sent = await call.refer(_uri(carol, "carol") + "?body=hello%20carol", method="MESSAGE")
        assert await sent.wait(timeout=10) is True
        event = await asyncio.wait_for(got.get(), 5)
        assert event.message.text == "hello carol" and event.message.call is None
        assert seen == ["ReferAccepted", "TransferTrying", "TransferSucceeded"]
        await call.hangup()

    _run(3, body)


def test_refer_sub_false_accepted_with_200_and_no_reports() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob, carol = phones
        _answering(bob, [])
        _answering(carol, [])
        subscription: list[bool] = []
        made: asyncio.Future[api.Call | None] = asyncio.get_running_loop().create_future()

        @bob.on(ReferReceived)
        async def accept(event: ReferReceived) -> None:
            subscription.append(event.refer.subscription)
            made.set_result(await event.refer.accept())

        seen: list[TransferEvent] = []
        alice.on(TransferEvent)(seen.append)
        call = await alice.call(_uri(bob, "bob"))
        await _connected(call)
        sent = await call.refer(_uri(carol, "carol"), subscribe=False)
        assert await sent.wait(timeout=10) is True
        (only,) = seen
        assert isinstance(only, ReferAccepted) and only.subscribed is False
        assert only.response.status == 200
        assert only.response.headers.get("Refer-Sub") == "false"
        assert subscription == [False]
        new_call = await asyncio.wait_for(made, 5)
        assert new_call is not None
        await _connected(new_call)  # bob still called carol
        assert len(seen) == 1  # no NOTIFY, so no progress events
        await new_call.hangup()
        await call.hangup()

    _run(3, body)
