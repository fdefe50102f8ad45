"""Transfer (REFER, Replaces) and MESSAGE between real Phones on 127.0.0.1 (public API).

Proves: a blind transfer (alice refers bob to carol) is accepted and reported to alice
as ReferAccepted, TransferTrying, TransferRinging, TransferSucceeded, and bob's new
call to carol carries Referred-By; an attended transfer (Refer-To with Replaces naming
alice's call to carol) makes carol's phone take the new call over by itself
(CallReplaced), hang up alice's call to it, and alice hears TransferSucceeded; a
rejected REFER is ReferRejected 603; a MESSAGE outside any call is delivered with
its text and the SMS flag on To; a binary MESSAGE inside a call reaches the other
side's call as MessageReceived; a second answer() while the first is under way (the
phone answers a replacing call by itself) raises InvalidStateError; a body type the
receiver does not take is refused 415 (MessageFailed, Accept listed) until
addSupportedMimeType-style registration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from voipkit import api
from voipkit.api import (
    CallConnected,
    CallEnded,
    CallReplaced,
    IncomingCall,
    MessageDelivered,
    MessageFailed,
    MessageReceived,
    Phone,
    PhoneConfig,
    ReferReceived,
    ReferRejected,
    RequestFailed,
    TransferEvent,
    messaging,
)

Main = Callable[[list[Phone]], Awaitable[None]]


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(40000, 44999)))


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


def _answering(phone: Phone, calls: list[api.Call], *, ring: bool = True) -> None:
    @phone.on(IncomingCall)
    async def answer(event: IncomingCall) -> None:
        calls.append(event.call)
        if event.replaces is not None:
            return  # taken over by itself
        if ring:
            await event.call.ring()
            await asyncio.sleep(0.05)
        await event.call.answer()


async def _connected(call: api.Call) -> None:
    await call.answered(timeout=5)
    if call.state is not api.CallState.CONNECTED:
        await call.bus.wait_for(CallConnected, timeout=5)


def test_blind_transfer_reports_progress_to_the_transferor() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob, carol = phones
        bob_calls: list[api.Call] = []
        carol_calls: list[api.Call] = []
        _answering(bob, bob_calls)
        _answering(carol, carol_calls)

        @bob.on(ReferReceived)
        async def accept(event: ReferReceived) -> None:
            assert event.refer.call is bob_calls[0]
            await event.refer.accept()

        seen: list[str] = []
        alice.on(TransferEvent)(lambda e: seen.append(type(e).__name__))
        call = await alice.call(_uri(bob, "bob"))
        await _connected(call)
        transfer = await call.refer(_uri(carol, "carol"))
        assert await transfer.wait(timeout=10) is True
        assert seen == ["ReferAccepted", "TransferTrying", "TransferRinging",
                        "TransferSucceeded"]
        (new_call,) = carol_calls
        invite = new_call.invite
        assert invite is not None and invite.headers.get("Referred-By") == f"<{call.local.uri}>"
        await call.hangup()
        await call.ended(timeout=5)

    _run(3, body)


def test_attended_transfer_replaces_the_call_at_the_target() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob, carol = phones
        bob_calls: list[api.Call] = []
        carol_calls: list[api.Call] = []
        _answering(bob, bob_calls)
        _answering(carol, carol_calls, ring=False)
        bob.on(ReferReceived)(lambda e: bob.spawn(e.refer.accept()))
        replaced: list[CallReplaced] = []
        carol.on(CallReplaced)(replaced.append)

        to_bob = await alice.call(_uri(bob, "bob"))
        await _connected(to_bob)
        to_carol = await alice.call(_uri(carol, "carol"))
        await _connected(to_carol)
        transfer = await to_bob.refer(_uri(carol, "carol"), replaces=to_carol)
        assert "Replaces=" in transfer.refer_to
        assert await transfer.wait(timeout=10) is True
        await to_carol.ended(timeout=5)
        assert to_carol.end_reason == "bye-remote"
        (event,) = replaced
        assert event.replaced is carol_calls[0] and event.call is carol_calls[1]
        assert event.call.state is api.CallState.CONNECTED
        with pytest.raises(api.InvalidStateError):
            await event.call.answer()  # the phone answered it
        await carol_calls[0].ended(timeout=5)
        await to_bob.hangup()
        await to_bob.ended(timeout=5)

    _run(3, body)


def test_answering_twice_at_once_raises() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob = phones
        results: list[object] = []

        @bob.on(IncomingCall)
        async def twice(event: IncomingCall) -> None:
            results.extend(await asyncio.gather(event.call.answer(), event.call.answer(),
                                                return_exceptions=True))

        call = await alice.call(_uri(bob, "bob"))
        await _connected(call)
        assert results[0] is None and isinstance(results[1], api.InvalidStateError)
        await call.hangup()

    _run(2, body)


def test_rejected_refer() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob = phones
        _answering(bob, [], ring=False)
        bob.on(ReferReceived)(lambda e: bob.spawn(e.refer.reject(603)))
        call = await alice.call(_uri(bob, "bob"))
        await _connected(call)
        rejected: list[ReferRejected] = []
        call.on(ReferRejected)(rejected.append)
        transfer = await call.refer("sip:nobody@127.0.0.1:9")
        assert await transfer.wait(timeout=5) is False
        assert [(r.status, r.reason) for r in rejected] == [(603, "Decline")]
        await call.hangup()

    _run(2, body)


def test_out_of_dialog_message_with_sms_flag() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob = phones
        got: list[MessageReceived] = []
        bob.on(MessageReceived)(got.append)
        delivered: list[MessageDelivered] = []
        alice.on(MessageDelivered)(delivered.append)
        message = await alice.send_message(_uri(bob, "bob"), "héllo", sms=True)
        response = await message.delivered(timeout=5)
        assert response.status == 200 and delivered[0].message is message
        (event,) = got
        incoming = event.message
        assert isinstance(incoming, messaging.IncomingMessage)
        assert incoming.call is None and incoming.text == "héllo"
        assert incoming.content_type == "text/plain;charset=UTF-8"
        assert incoming.recipient.params.get("messagetype") == "SMS"

    _run(2, body)


def test_binary_message_in_a_call_and_415_for_unknown_types() -> None:
    async def body(phones: list[Phone]) -> None:
        alice, bob = phones
        bob_calls: list[api.Call] = []
        _answering(bob, bob_calls, ring=False)
        call = await alice.call(_uri(bob, "bob"))
        await _connected(call)
        got: list[MessageReceived] = []
        bob.on(MessageReceived)(got.append)
        data = bytes(range(256))
        message = await call.send_message(data, "application/vnd.3gpp.sms")
        await message.delivered(timeout=5)
        (event,) = got
        assert event.message.call is bob_calls[0] and event.message.body == data
        failed: list[MessageFailed] = []
        call.on(MessageFailed)(failed.append)
        odd = await call.send_message(b"x", "application/x-odd")
        with pytest.raises(RequestFailed) as info:
            await odd.delivered(timeout=5)
        assert info.value.status == 415 and failed[0].status == 415
        assert failed[0].response is not None
        assert "text/plain" in (failed[0].response.headers.get("Accept") or "")
        messaging.add_supported_type(bob, "application/x-odd")
        again = await call.send_message(b"x", "application/x-odd")
        assert (await again.delivered(timeout=5)).status == 200
        ended: list[CallEnded] = []
        bob.on(CallEnded)(ended.append)
        await call.hangup()
        await bob_calls[0].ended(timeout=5)

    _run(2, body)
