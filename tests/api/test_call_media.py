"""Two Phones on 127.0.0.1 call each other with every offered codec and with SRTP.

Proves, end to end through the public API (real sockets, RTP, WAV recordings):
- a call completes with each codec of FULL_CODECS (PCMU, PCMA, G722, opus, AMR,
  G723) chosen through ``MediaConfig.codecs``, and the callee records the caller's
  tone at the right frequency; the wideband codecs (G722, opus) carry a 6 kHz tone
  that an 8 kHz path could not (the device runs at 16 kHz, the codec at its rate);
- G.723.1 is sent in 30 ms packets although 20 ms was configured;
- SRTP with policy FORCE on both sides carries the audio (the stream reports its
  suite and protected/unprotected counts); FORCE against NONE, either way round,
  fails the call with 488; PREFER against NONE falls back to plain RTP;
- a forged and a replayed SRTP packet injected into a running session are dropped
  and counted (srtp_auth_failed, srtp_replayed), and the call's audio goes on;
- b=AS/RS/RR lines appear in the offer when rtcp_bandwidth is set, and
  Call.statistics_document() gives send/receive figures with a MOS estimate;
- VAD+CNG: a silent source sends CN packets only, a tone resumes audio with the
  marker bit on its first packet only;
- AEC's far-end reference is what the session plays out (the peer's tone).
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voipkit import api
from voipkit.aio import media_session
from voipkit.api import CallFailed, IncomingCall, Phone, PhoneConfig
from voipkit.api.errors import MediaError
from voipkit.media.codecs import FULL_CODECS
from voipkit.media.dsp import ProcessingChain, SendDecision
from voipkit.media.frames import Pcm, dominant_frequency
from voipkit.media.ports import ToneSource
from voipkit.media.rtp import RtpPacket
from voipkit.media.srtp import SrtpPolicy


def _config(**media: Any) -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(30000, 39999), **media))


def _wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return data, w.getframerate()


async def _call(tmp_path: Path, alice_media: dict[str, Any], bob_media: dict[str, Any],
                tone: float, *, seconds: float = 1.0,
                during: Any = None) -> tuple[api.Call | None, dict[str, Any]]:
    """Alice calls Bob, plays ``tone``; Bob records. Returns Alice's call and facts."""
    alice, bob = Phone(_config(**alice_media)), Phone(_config(**bob_media))
    await alice.start()
    await bob.start()
    _, host, port = bob.listening[0]
    facts: dict[str, Any] = {}
    bob_calls: list[api.Call] = []

    @bob.on(IncomingCall)
    async def answer(event: IncomingCall) -> None:
        bob_calls.append(event.call)
        try:
            await event.call.answer()
        except MediaError as exc:
            facts["bob_error"] = str(exc)
            return
        event.call.record(tmp_path / "bob.wav")

    try:
        call = await alice.call(f"sip:bob@{host}:{port}")
        try:
            await call.answered(timeout=5)
        except CallFailed as exc:
            facts["failed"] = exc.status
            await call.ended(timeout=5)
            return call, facts
        await asyncio.sleep(0.2)
        call.audio.set_source(ToneSource(tone, -6.0))
        await asyncio.sleep(seconds)
        if during is not None:
            await during(call, bob_calls[0], facts)
        facts["alice"] = call.statistics()
        facts["bob"] = bob_calls[0].statistics()
        facts["document"] = bob_calls[0].statistics_document()
        facts["offer"] = str(bob_calls[0].remote_sdp)
        await call.hangup()
        await call.ended(timeout=5)
        return call, facts
    finally:
        await alice.close()
        await bob.close()


CODECS = [spec.name for spec in FULL_CODECS if spec.is_audio and spec.name != "CN"]


@pytest.mark.parametrize("codec", CODECS)
def test_call_with_each_codec_carries_the_tone(tmp_path: Path, codec: str) -> None:
    wideband = codec in ("G722", "opus")
    tone = 6000.0 if wideband else 1000.0
    media = {"codecs": (codec,)}
    _, facts = asyncio.run(_call(tmp_path, media, media, tone))
    assert facts["alice"]["codec"] == codec
    assert facts["bob"]["packets_received"] > 20
    samples, rate = _wav(tmp_path / "bob.wav")
    assert rate == (16000 if wideband else 8000)
    tail = samples[len(samples) // 2:]
    assert np.sqrt(np.mean(tail.astype(np.float64) ** 2)) > 1000
    assert abs(dominant_frequency(tail, rate) - tone) < 20
    if codec == "G723":  # 30 ms packets: 240 timestamp units each
        assert facts["alice"]["packets_sent"] < 1.3 / 0.03 + 5


def test_offer_lists_codecs_in_order_with_settings(tmp_path: Path) -> None:
    media = {"codecs": ("opus", "PCMU"), "codec_payload_types": {"opus": 120},
             "codec_parameters": {"opus": "maxaveragebitrate=20000"},
             "rtcp_bandwidth": (2000, 1000, 90)}
    _, facts = asyncio.run(_call(tmp_path, media, media, 1000.0, seconds=0.5))
    offer = facts["offer"]
    assert "m=audio" in offer and " RTP/AVP 120 0 " in offer
    assert "a=rtpmap:120 opus/48000/2" in offer
    assert "a=fmtp:120 maxaveragebitrate=20000" in offer
    assert "b=AS:90" in offer and "b=RS:1000" in offer and "b=RR:2000" in offer
    assert facts["alice"]["codec"] == "opus" and facts["alice"]["payload_type"] == 120
    doc = facts["document"]
    assert set(doc) >= {"time", "codec", "send", "receive"}
    assert doc["receive"]["packets"] > 10
    assert doc["receive"]["mos"] is not None and 1.0 <= doc["receive"]["mos"] <= 4.5


SRTP_ON = {"srtp_policy": SrtpPolicy.FORCE, "allow_srtp_over_unsecure_transport": True}


def test_srtp_forced_both_ways_carries_audio(tmp_path: Path) -> None:
    _, facts = asyncio.run(_call(tmp_path, SRTP_ON, SRTP_ON, 1000.0))
    assert "RTP/SAVP" in facts["offer"] and "a=crypto:1 AES_CM_128_HMAC_SHA1_80" in facts["offer"]
    for side in ("alice", "bob"):
        assert facts[side]["srtp"] == "AES_CM_128_HMAC_SHA1_80"
        assert facts[side]["srtp_protected"] > 20
    assert facts["bob"]["srtp_unprotected"] > 20
    assert facts["bob"]["srtp_auth_failed"] == 0
    samples, rate = _wav(tmp_path / "bob.wav")
    assert abs(dominant_frequency(samples[len(samples) // 2:], rate) - 1000.0) < 20


@pytest.mark.parametrize(("alice", "bob"), [(SRTP_ON, {}), ({}, SRTP_ON)])
def test_srtp_forced_against_none_fails_with_488(
        tmp_path: Path, alice: dict[str, Any], bob: dict[str, Any]) -> None:
    _, facts = asyncio.run(_call(tmp_path, alice, bob, 1000.0))
    assert facts["failed"] == 488
    assert "488" in facts["bob_error"]


def test_srtp_prefer_against_none_is_plain_rtp(tmp_path: Path) -> None:
    prefer = {"srtp_policy": SrtpPolicy.PREFER, "allow_srtp_over_unsecure_transport": True}
    _, facts = asyncio.run(_call(tmp_path, prefer, {}, 1000.0, seconds=0.5))
    assert " RTP/AVP " in facts["offer"] and "a=crypto:" in facts["offer"]
    assert facts["alice"]["srtp"] is None and facts["bob"]["srtp"] is None
    assert facts["bob"]["packets_received"] > 10


def test_prefer_both_sides_uses_srtp(tmp_path: Path) -> None:
    prefer = {"srtp_policy": SrtpPolicy.PREFER, "allow_srtp_over_unsecure_transport": True}
    _, facts = asyncio.run(_call(tmp_path, prefer, prefer, 1000.0, seconds=0.5))
    assert facts["alice"]["srtp"] == facts["bob"]["srtp"] == "AES_CM_128_HMAC_SHA1_80"
    assert facts["bob"]["srtp_unprotected"] > 10


def test_forged_and_replayed_srtp_is_dropped_and_counted(tmp_path: Path) -> None:
    async def inject(alice_call: api.Call, bob_call: api.Call, facts: dict[str, Any]) -> None:
        bob_audio = bob_call.audio
        assert bob_audio is not None and bob_audio.stream is not None
        seen: list[tuple[bytes, Any]] = []
        pair = bob_audio.sockets
        original = pair.on_rtp

        def capture(data: bytes, source: Any, arrival: float) -> None:
            seen.append((data, source))
            assert original is not None
            original(data, source, arrival)

        pair.on_rtp = capture
        await asyncio.sleep(0.2)
        pair.on_rtp = original
        before = bob_call.statistics()
        # a packet ahead of the stream (so the replay check passes) with a made-up tag
        last = RtpPacket.parse(seen[-1][0])  # the SRTP header is in the clear
        forged = bytes(RtpPacket(payload_type=0, sequence_number=(last.sequence_number + 500)
                                 & 0xFFFF, timestamp=last.timestamp, ssrc=last.ssrc,
                                 payload=bytes(160))) + bytes(10)
        # injected where the socket hands datagrams to the session, from the peer's
        # address (a symmetric-RTP latch drops other sources before SRTP sees them)
        assert original is not None
        data, source = seen[0]
        now = asyncio.get_running_loop().time()
        original(forged, source, now)
        original(data, source, now)  # a packet already received: a replay
        await asyncio.sleep(0.3)
        after = bob_call.statistics()
        facts["before"], facts["after"] = before, after

    _, facts = asyncio.run(_call(tmp_path, SRTP_ON, SRTP_ON, 1000.0, seconds=0.5,
                                 during=inject))
    before, after = facts["before"], facts["after"]
    assert after["srtp_auth_failed"] == before["srtp_auth_failed"] + 1
    assert after["srtp_replayed"] == before["srtp_replayed"] + 1
    assert after["srtp_unprotected"] > before["srtp_unprotected"]  # audio goes on


def test_vad_and_cng_send_comfort_noise_then_audio_with_marker(tmp_path: Path) -> None:
    """Alice (VAD+CNG on, CN offered by itself) starts silent, then plays a tone."""
    async def main() -> tuple[list[RtpPacket], int]:
        alice = Phone(_config(vad=True, cng=True))
        bob = Phone(_config(codecs=("PCMU", "CN")))
        await alice.start()
        await bob.start()
        _, host, port = bob.listening[0]
        received: list[RtpPacket] = []
        bob_calls: list[api.Call] = []

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            bob_calls.append(event.call)
            await event.call.answer()
            audio = event.call.audio
            assert audio is not None
            original = audio.sockets.on_rtp

            def capture(data: bytes, source: Any, arrival: float) -> None:
                received.append(RtpPacket.parse(data))
                assert original is not None
                original(data, source, arrival)

            audio.sockets.on_rtp = capture

        try:
            call = await alice.call(f"sip:bob@{host}:{port}")
            await call.answered(timeout=5)
            assert "a=rtpmap:13 CN/8000" in str(bob_calls[0].remote_sdp)
            await asyncio.sleep(0.6)
            split = len(received)  # what arrived before the tone starts
            call.audio.set_source(ToneSource(440.0, -12.0))
            await asyncio.sleep(0.5)
            stats = call.statistics()
            assert stats["cn_sent"] >= 1 and stats["suppressed_frames"] > 10
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()
        return received, split

    received, split = asyncio.run(main())
    silent, talk = received[:split], received[split:]
    assert silent and all(p.payload_type == 13 for p in silent)  # CN only, no audio
    audio = [p for p in talk if p.payload_type == 0]
    assert len(audio) > 15
    assert audio[0].marker and not any(p.marker for p in audio[1:])


def test_echo_canceller_reference_is_what_is_played_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bob turns AEC on for his call: his chain's far-end frames are Alice's tone."""
    references: list[np.ndarray] = []

    class SpyChain(ProcessingChain):
        def process_capture(self, mic: Pcm, far_end: Pcm | None = None
                            ) -> tuple[Pcm, SendDecision]:
            if far_end is not None and self.aec:
                references.append(far_end.copy())
            return super().process_capture(mic, far_end)

    monkeypatch.setattr(media_session, "ProcessingChain", SpyChain)

    async def main() -> None:
        alice, bob = Phone(_config()), Phone(_config())
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
            await asyncio.sleep(0.1)
            bob_call = bob_calls[0]
            bob_call.set_audio_processing(aec=True)
            assert call.audio is not None
            call.audio.set_source(ToneSource(440.0, -6.0))
            await asyncio.sleep(0.8)
            assert bob_call.statistics()["packets_sent"] > 20  # processed audio still sent
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())
    assert len(references) > 20
    tail = np.concatenate(references[len(references) // 2:])
    assert np.sqrt(np.mean(tail.astype(np.float64) ** 2)) > 1000
    assert abs(dominant_frequency(tail, 8000) - 440.0) < 20
