"""Phone-level features through the public API, between two phones on 127.0.0.1.

Proves: STUN (RFC 5389) learns our address from a peer that answers Binding
requests; custom header rules (added and modified, scoped by method and message
kind) appear on the wire and can be removed; do-not-disturb answers 480;
forwarding answers 302 and reports CallForwarded; max_calls refuses the next call
with 486; OPTIONS is answered with Allow/Accept/Supported and reported; an INFO
with an unsupported body type gets 415 while a supported one reaches the peer;
the RTP port range is honoured; bad settings raise ConfigurationError.
"""

from __future__ import annotations

import asyncio

import pytest

from voipkit import api
from voipkit.api import (
    CallFailed,
    CallForwarded,
    ConfigurationError,
    IncomingCall,
    InfoReceived,
    OptionsReceived,
    Phone,
    PhoneConfig,
    SignalingTraced,
)


def _config(**kwargs: object) -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(30000, 39999)), **kwargs)  # type: ignore[arg-type]


async def _pair(**bob_kwargs: object) -> tuple[Phone, Phone, str]:
    alice, bob = Phone(_config()), Phone(_config(**bob_kwargs))
    await alice.start()
    await bob.start()
    _, host, port = bob.listening[0]
    return alice, bob, f"sip:bob@{host}:{port}"


def test_stun_header_rules_and_options() -> None:
    async def main() -> None:
        alice, bob, bob_uri = await _pair()
        try:
            _, host, port = bob.listening[0]
            mapped = await alice.public_address(f"{host}:{port}")
            assert mapped == (alice.listening[0][1], alice.listening[0][2])
            assert "127.0.0.1" in Phone.local_addresses()

            wire: list[bytes] = []
            bob.on(SignalingTraced)(lambda e: wire.append(e.data) if not e.sent else None)
            options: list[OptionsReceived] = []
            bob.on(OptionsReceived)(options.append)
            rule = alice.header_rules.add("X-Billing", "usd100.00", method="OPTIONS", kind=1)
            alice.header_rules.modify("User-Agent", "renamed/1.0")
            response = await alice.send_options(bob_uri)
            assert response.status == 200
            assert "INVITE" in (response.headers.get("Allow") or "")
            assert response.headers.get("Supported")
            assert len(options) == 1
            assert b"X-Billing: usd100.00\r\n" in wire[-1]
            assert b"User-Agent: renamed/1.0\r\n" in wire[-1]
            alice.header_rules.remove_added(rule)
            alice.header_rules.clear_modified()
            await alice.send_options(bob_uri)
            assert b"X-Billing" not in wire[-1] and b"renamed" not in wire[-1]
            with pytest.raises(ConfigurationError):
                alice.header_rules.add("Via", "x")
            with pytest.raises(ConfigurationError):
                alice.header_rules.add("X-Bad", "a\r\nb")
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_policy_dnd_forward_and_busy() -> None:
    async def main() -> None:
        alice, bob, bob_uri = await _pair(max_calls=1)
        try:
            bob.set_do_not_disturb(True)
            call = await alice.call(bob_uri)
            with pytest.raises(CallFailed) as dnd:
                await call.answered(timeout=5)
            assert dnd.value.status == 480
            bob.set_do_not_disturb(False)

            forwarded: list[CallForwarded] = []
            bob.on(CallForwarded)(forwarded.append)
            bob.set_forwarding("sip:carol@127.0.0.1:9")
            call = await alice.call(bob_uri)
            with pytest.raises(CallFailed) as fwd:
                await call.answered(timeout=5)
            assert fwd.value.status == 302
            assert forwarded and forwarded[0].target == "sip:carol@127.0.0.1:9"
            bob.set_forwarding(None)

            incoming: list[api.Call] = []
            bob.on(IncomingCall)(lambda e: incoming.append(e.call))
            first = await alice.call(bob_uri)
            await asyncio.sleep(0.2)
            second = await alice.call(bob_uri)
            with pytest.raises(CallFailed) as busy:
                await second.answered(timeout=5)
            assert busy.value.status == 486
            assert len(incoming) == 1
            await first.hangup()
            await first.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_info_types_port_range_and_mute() -> None:
    async def main() -> None:
        alice, bob, bob_uri = await _pair()
        alice.set_rtp_port_range(31000, 31009)
        infos: list[InfoReceived] = []
        bob.on(InfoReceived)(infos.append)
        bob.supported_info_types.append("application/x-custom")

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer()

        try:
            call = await alice.call(bob_uri)
            await call.answered(timeout=5)
            await asyncio.sleep(0.2)
            assert call.audio is not None and 31000 <= call.audio.local_port <= 31009
            replies: list[bytes] = []
            alice.on(SignalingTraced)(
                lambda e: replies.append(e.data) if not e.sent and b"INFO" in e.data else None)
            await call.send_info("application/x-unknown", b"hello")
            await call.send_info("application/x-custom", b"hello")
            await asyncio.sleep(0.3)
            statuses = sorted(r.split(b" ", 2)[1] for r in replies if r.startswith(b"SIP/2.0"))
            assert statuses == [b"200", b"415"]
            assert len(infos) == 1 and infos[0].request.body == b"hello"
            call.mute(outgoing=True)
            assert call.audio.mute_outgoing
            with pytest.raises(ConfigurationError):
                alice.set_rtp_port_range(5000, 4000)
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_uri_user_escaping_and_3gpp_tags() -> None:
    async def main() -> None:
        alice, bob, bob_uri = await _pair()
        try:
            assert alice.normalize_uri("bob#1@127.0.0.1") == "sip:bob%231@127.0.0.1"
            alice.set_uri_user_escaping("#", False)
            assert alice.normalize_uri("bob#1@127.0.0.1") == "sip:bob#1@127.0.0.1"
            alice.set_uri_user_escaping("&", True)
            assert alice.escape_user("a&b") == "a%26b"
            assert alice.escape_user("already%20escaped") == "already%20escaped"
            with pytest.raises(ConfigurationError):
                alice.set_uri_user_escaping("ab", True)
            alice.three_gpp_tags = True
            wire: list[bytes] = []
            bob.on(SignalingTraced)(lambda e: wire.append(e.data) if not e.sent else None)
            call = await alice.call(bob_uri)
            await asyncio.sleep(0.2)
            invite = next(w for w in wire if w.startswith(b"INVITE"))
            contact = next(line for line in invite.split(b"\r\n") if line.startswith(b"Contact:"))
            assert b'+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"' in contact
            assert b"+g.3gpp.smsip" in contact
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())
