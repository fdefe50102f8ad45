"""Two Phones on 127.0.0.1 call each other for real (sockets, RTP, WAV files).

Proves, end to end through the public API:
- an outgoing call rings, is answered and connects; both sides see the events
  in order (IncomingCall, CallProgress 180, CallAnswered, CallConnected);
- a 440 Hz tone played by the caller is recorded by the callee (dominant
  frequency 440 Hz, level above a floor) and the recording is a finished WAV;
- RFC 4733 and INFO DTMF arrive once per digit;
- hold and unhold are re-INVITEs the peer sees as RemoteHold / RemoteUnhold;
- hangup ends both sides (CallEnded bye-local / bye-remote), no call leaks;
- a rejected call raises CallFailed with the status; a call with no SDP in the
  INVITE (offer in the 200, answer in the ACK) still carries audio.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from voipkit import api
from voipkit.api import (
    CallAnswered,
    CallConnected,
    CallEnded,
    CallFailed,
    CallProgress,
    DtmfReceived,
    IncomingCall,
    Phone,
    PhoneConfig,
    RemoteHold,
    RemoteUnhold,
)
from voipkit.media.frames import dominant_frequency
from voipkit.media.ports import ToneSource


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(30000, 39999)))


def _wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return data, w.getframerate()


async def _pair() -> tuple[Phone, Phone, str]:
    alice, bob = Phone(_config()), Phone(_config())
    await alice.start()
    await bob.start()
    _, host, port = bob.listening[0]
    return alice, bob, f"sip:bob@{host}:{port}"


def test_call_with_audio_dtmf_hold_and_hangup(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, bob_uri = await _pair()
        seen: list[str] = []
        bob_calls: list[api.Call] = []

        @bob.on(IncomingCall)
        async def ring(event: IncomingCall) -> None:
            seen.append("bob:incoming")
            bob_calls.append(event.call)
            await event.call.ring()
            event.call.record(tmp_path / "bob.wav")
            await event.call.answer()

        for kind in (CallProgress, CallAnswered, CallConnected):
            alice.on(kind)(lambda e, k=kind.__name__: seen.append(f"alice:{k}"))
        try:
            call = await alice.call(bob_uri)
            await call.answered(timeout=5)
            await asyncio.sleep(0.2)
            assert call.state is api.CallState.CONNECTED
            call.audio.set_source(ToneSource(440.0, -6.0))
            await asyncio.sleep(1.0)

            digits: list[tuple[str, str]] = []
            bob.on(DtmfReceived)(lambda e: digits.append((e.digit, e.method)))
            await call.send_dtmf("12#")
            await asyncio.sleep(1.0)
            await call.send_dtmf("5", method="info")
            await asyncio.sleep(0.3)
            assert digits == [("1", "rfc4733"), ("2", "rfc4733"), ("#", "rfc4733"),
                              ("5", "info")]

            holds: list[str] = []
            bob.on(RemoteHold)(lambda e: holds.append("hold"))
            bob.on(RemoteUnhold)(lambda e: holds.append("unhold"))
            await call.hold()
            await asyncio.sleep(0.3)
            await call.unhold()
            await asyncio.sleep(0.3)
            assert holds == ["hold", "unhold"]
            assert call.local_hold is False

            ended: list[str] = []
            alice.on(CallEnded)(lambda e: ended.append(f"alice:{e.reason}"))
            bob.on(CallEnded)(lambda e: ended.append(f"bob:{e.reason}"))
            await call.hangup()
            await call.ended(timeout=5)
            await bob_calls[0].ended(timeout=5)
            assert sorted(ended) == ["alice:bye-local", "bob:bye-remote"]
            assert alice.calls == {} and bob.calls == {}
            assert seen[:1] == ["bob:incoming"]
            assert seen[1:] == ["alice:CallProgress", "alice:CallAnswered",
                                "alice:CallConnected"]
        finally:
            await alice.close()
            await bob.close()
        samples, rate = _wav(tmp_path / "bob.wav")
        assert rate == 8000 and len(samples) > rate  # at least a second recorded
        loud = samples[np.abs(samples) > 1000]
        assert len(loud) > rate // 2
        assert abs(dominant_frequency(samples.astype(np.int16), rate) - 440.0) < 10

    asyncio.run(main())


def test_rejected_call_raises_call_failed() -> None:
    async def main() -> None:
        alice, bob, bob_uri = await _pair()

        @bob.on(IncomingCall)
        async def busy(event: IncomingCall) -> None:
            await event.call.reject(486)

        try:
            call = await alice.call(bob_uri)
            with pytest.raises(CallFailed) as info:
                await call.answered(timeout=5)
            assert info.value.status == 486
            await call.ended(timeout=5)
            assert call.end_reason == "rejected"
            assert alice.calls == {} and bob.calls == {}
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_offerless_invite_gets_audio(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, bob_uri = await _pair()

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            assert event.call.remote_offer is None
            await event.call.answer()
            event.call.record(tmp_path / "bob.wav")

        try:
            call = await alice.call(bob_uri, send_sdp=False)
            await call.answered(timeout=5)
            await asyncio.sleep(0.3)
            assert call.codec_names == "PCMU"
            call.audio.set_source(ToneSource(1000.0, -6.0))
            await asyncio.sleep(0.8)
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()
        samples, rate = _wav(tmp_path / "bob.wav")
        assert abs(dominant_frequency(samples.astype(np.int16), rate) - 1000.0) < 10

    asyncio.run(main())


def test_call_methods_for_recording_playback_and_conference(tmp_path: Path) -> None:
    """The Call/Phone methods reach the media_files and conference features."""

    async def main() -> None:
        alice, bob, bob_uri = await _pair()

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer()

        try:
            call = await alice.call(bob_uri)
            await call.answered(timeout=5)
            tone = tmp_path / "tone.wav"
            with wave.open(str(tone), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                t = np.arange(8000) / 8000
                w.writeframes((np.sin(2 * np.pi * 600 * t) * 8000).astype(np.int16).tobytes())
            recording = call.start_record(tmp_path / "both.wav", stereo=True)
            playback = call.play_to_remote(tone)
            assert await asyncio.wait_for(playback.done, 5) is True
            path = call.stop_record()
            assert path is not None and Path(path).exists()
            assert recording.seconds > 0.5
            conference = alice.create_conference()
            assert alice.conference is conference
            await conference.join(call)
            conference.leave(call)
            conference.destroy()
            await call.hangup()
            await call.ended(timeout=5)
        finally:
            await alice.close()
            await bob.close()
        with wave.open(path) as w:
            assert (w.getnchannels(), w.getframerate()) == (2, 8000)
            frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        left = frames[0::2]  # local side: the file we played
        assert abs(dominant_frequency(left.astype(np.int16), 8000) - 600.0) < 10

    asyncio.run(main())
