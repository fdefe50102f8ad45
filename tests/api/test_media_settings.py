"""The api's audio settings: MediaConfig validation, Phone/Call runtime setters, and
what they change in real calls between two Phones on 127.0.0.1.

Proves:
- MediaConfig accepts every codec of FULL_CODECS in any case (stored as SDP names),
  keeps ("PCMU", "PCMA") as the default, and refuses unknown codecs, CN alone, bad
  fmtp text, payload types outside 96-127 or clashing with telephone-event, bit rates
  out of range, maxptime below ptime, an unknown SRTP policy and negative b= values;
- the Phone setters (set_audio_codecs, set_audio_codec_parameter,
  set_audio_codec_payload_type, set_audio_samples, set_audio_bitrate, set_srtp_policy,
  set_audio_rtcp_bandwidth, set_audio_processing) replace the media configuration and
  validate like it; the next offer uses them (a=ptime/a=maxptime, payload type, fmtp);
- FORCE SRTP over UDP without allow_srtp_over_unsecure_transport refuses to call
  (RFC 4568 §8.1) and leaves no RTP ports open;
- an SRTP call keeps its keys through hold and unhold re-INVITEs: no packet fails
  authentication and audio flows again after unhold;
- Call.set_audio_processing overrides the phone's switches for that call's session;
  Call.set_audio_bitrate re-shapes a running Opus encoder (smaller packets) and
  Call.set_audio_rtcp_bandwidth puts b= lines in the call's next offer;
- the call's audio device is the one default_audio_device picks (the virtual device
  when PortAudio lists none, as in CI).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voipkit import api
from voipkit.aio.audio_device import VirtualAudioDevice
from voipkit.api import IncomingCall, Phone, PhoneConfig
from voipkit.api.config import DEFAULT_CODECS, SUPPORTED_CODECS, MediaConfig
from voipkit.api.errors import ConfigurationError
from voipkit.media.ports import ToneSource
from voipkit.media.srtp import SrtpError, SrtpPolicy


def test_media_config_codecs_and_settings() -> None:
    assert MediaConfig().codecs == DEFAULT_CODECS == ("PCMU", "PCMA")
    assert {"opus", "G722", "PCMU", "PCMA", "AMR", "G723"} <= set(SUPPORTED_CODECS)
    cfg = MediaConfig(codecs=("OPUS", "g722", "amr", "g723", "pcmu"),
                      codec_parameters={"Opus": "useinbandfec=1; maxaveragebitrate=24000"},
                      codec_payload_types={"amr": 98}, codec_bitrates={"opus": 24000},
                      maxptime=0.06, srtp_policy=2, rtcp_bandwidth=(2000, 1000, None))
    assert cfg.codecs == ("opus", "G722", "AMR", "G723", "PCMU")
    assert cfg.codec_parameters == {"opus": "useinbandfec=1; maxaveragebitrate=24000"}
    assert cfg.codec_payload_types == {"AMR": 98} and cfg.codec_bitrates == {"opus": 24000}
    assert cfg.srtp_policy is SrtpPolicy.PREFER


@pytest.mark.parametrize("bad", [
    {"codecs": ("GSM",)}, {"codecs": ("CN",)}, {"codecs": ()},
    {"codec_parameters": {"opus": "=broken"}},
    {"codec_payload_types": {"opus": 8}}, {"codec_payload_types": {"opus": 101}},
    {"codec_payload_types": {"opus": 100, "AMR": 100}},
    {"codec_bitrates": {"opus": 100}}, {"maxptime": 0.01}, {"srtp_policy": 7},
    {"rtcp_bandwidth": (-1, None, None)}, {"codec_parameters": {"speex": "x=1"}},
])
def test_media_config_refuses_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        MediaConfig(**bad)


def _config(**media: Any) -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(30000, 39999), **media))


def test_phone_setters_change_the_next_offer() -> None:
    async def main() -> str:
        alice, bob = Phone(_config()), Phone(_config(codecs=("opus", "PCMU")))
        await alice.start()
        await bob.start()
        _, host, port = bob.listening[0]
        alice.set_audio_codecs(["opus", "PCMU"])
        alice.set_audio_codec_parameter("opus", "useinbandfec=1")
        alice.set_audio_codec_payload_type("opus", 115)
        alice.set_audio_samples(40, 60)
        alice.set_audio_bitrate("opus", 20000)
        alice.set_audio_rtcp_bandwidth(3000, 1000, 100)
        alice.set_srtp_policy(SrtpPolicy.PREFER, True)
        alice.set_audio_processing(vad=True)
        with pytest.raises(ConfigurationError):
            alice.set_audio_codec_payload_type("opus", 200)
        with pytest.raises(ConfigurationError):
            alice.set_audio_codecs(["nope"])
        media = alice.config.media
        assert media.codecs == ("opus", "PCMU") and media.ptime == 0.04
        assert media.maxptime == 0.06 and media.codec_bitrates == {"opus": 20000}
        assert media.srtp_policy is SrtpPolicy.PREFER and media.vad
        offers: list[str] = []

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            offers.append(str(event.call.remote_offer, "ascii") if event.call.remote_offer
                          else "")
            await event.call.answer()

        try:
            call = await alice.call(f"sip:bob@{host}:{port}")
            await call.answered(timeout=5)
            await asyncio.sleep(0.2)
            assert call.statistics()["codec"] == "opus"
            assert call.audio is not None and call.audio.processing["vad"] is True
            call.set_audio_processing(vad=False, ans=True)
            assert call.audio.processing == {"vad": False, "cng": False, "aec": False,
                                             "ans": True, "agc": False}
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()
        return offers[0]

    offer = asyncio.run(main())
    assert "m=audio" in offer and " RTP/AVP 115 0 " in offer
    assert "a=rtpmap:115 opus/48000/2" in offer and "a=fmtp:115 useinbandfec=1" in offer
    assert "a=ptime:40" in offer and "a=maxptime:60" in offer
    assert "b=AS:100" in offer and "b=RR:3000" in offer and "a=crypto:1 " in offer


def test_force_over_udp_without_permission_refuses_to_call() -> None:
    async def main() -> None:
        alice = Phone(_config(srtp_policy=SrtpPolicy.FORCE))
        await alice.start()
        try:
            with pytest.raises(SrtpError):
                await alice.call("sip:bob@127.0.0.1:9")
            assert alice.calls == {}
        finally:
            await alice.close()

    asyncio.run(main())


def test_srtp_call_keeps_keys_through_hold_and_unhold() -> None:
    force = {"srtp_policy": SrtpPolicy.FORCE, "allow_srtp_over_unsecure_transport": True}

    async def main() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        alice, bob = Phone(_config(**force)), Phone(_config(**force))
        await alice.start()
        await bob.start()
        _, host, port = bob.listening[0]
        bob_calls: list[api.Call] = []

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            bob_calls.append(event.call)
            await event.call.answer()

        try:
            call = await alice.call(f"sip:bob@{host}:{port}")
            await call.answered(timeout=5)
            assert call.audio is not None
            call.audio.set_source(ToneSource(440.0, -6.0))
            await asyncio.sleep(0.3)
            await call.hold()
            await asyncio.sleep(0.3)
            held = bob_calls[0].statistics()
            await call.unhold()
            await asyncio.sleep(0.5)
            alice_stats, bob_stats = call.statistics(), bob_calls[0].statistics()
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()
        return held, alice_stats, bob_stats

    held, alice_stats, bob_stats = asyncio.run(main())
    for stats in (alice_stats, bob_stats):
        assert stats["srtp"] == "AES_CM_128_HMAC_SHA1_80"
        assert stats["srtp_auth_failed"] == 0
    assert bob_stats["srtp_unprotected"] > held["srtp_unprotected"] + 10


def test_call_audio_uses_the_default_audio_device() -> None:
    async def main() -> object:
        alice, bob = Phone(_config()), Phone(_config())
        await alice.start()
        await bob.start()
        _, host, port = bob.listening[0]
        bob.on(IncomingCall)(lambda e: bob.spawn(e.call.answer()))
        try:
            call = await alice.call(f"sip:bob@{host}:{port}")
            await call.answered(timeout=5)
            await asyncio.sleep(0.1)
            assert call.audio is not None
            device = call.audio._device
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()
        return device

    from voipkit.aio.audio_device import playout_devices, recording_devices
    if recording_devices() and playout_devices():
        pytest.skip("PortAudio lists a sound card here: the card is used instead")
    assert isinstance(asyncio.run(main()), VirtualAudioDevice)


def test_call_bitrate_and_rtcp_bandwidth_setters() -> None:
    """Call.set_audio_bitrate re-shapes the running Opus encoder (smaller packets);
    Call.set_audio_rtcp_bandwidth puts b= lines in the call's next offer."""
    opus = {"codecs": ("opus",)}

    async def main() -> tuple[float, float, str]:
        alice, bob = Phone(_config(**opus)), Phone(_config(**opus))
        await alice.start()
        await bob.start()
        _, host, port = bob.listening[0]
        offers: list[str] = []

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer()

        bob.on(api.CallUpdated)(lambda e: offers.append(str(e.call.remote_sdp)))
        try:
            call = await alice.call(f"sip:bob@{host}:{port}")
            await call.answered(timeout=5)
            assert call.audio is not None
            call.audio.set_source(ToneSource(440.0, -6.0))  # a steady tone: steady sizes

            async def bytes_per_packet(seconds: float) -> float:
                first = call.statistics()
                await asyncio.sleep(seconds)
                last = call.statistics()
                packets = int(last["packets_sent"]) - int(first["packets_sent"])
                return (int(last["bytes_sent"]) - int(first["bytes_sent"])) / packets

            await asyncio.sleep(0.2)
            high = await bytes_per_packet(0.5)
            call.set_audio_bitrate("OPUS", 8000)
            with pytest.raises(ConfigurationError):
                call.set_audio_bitrate("opus", 1)
            await asyncio.sleep(0.1)
            low = await bytes_per_packet(0.5)
            call.set_audio_rtcp_bandwidth(1500, 500, 40)
            await call.update()
            await asyncio.sleep(0.3)
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()
        return high, low, offers[-1] if offers else ""

    high, low, offer = asyncio.run(main())
    assert low < high * 0.6  # 32 kb/s default (~80 B payload) -> 8 kb/s (~20 B)
    assert "b=AS:40" in offer and "b=RS:500" in offer and "b=RR:1500" in offer
