"""Speech quality and mandatory SRTP between voipkit and a real baresip 1.0.0, PCMU.

Both sides send ``voipkit/data/speech-8k.wav`` (baresip through ``aufile``, voipkit as
its microphone) in a peer-to-peer call on 127.0.0.1, in both call directions, with plain
RTP and with SDES-SRTP made mandatory on both sides (baresip ``mediaenc=srtp-mand``,
voipkit ``SrtpPolicy.FORCE``).

Proves:
- each direction of the audio scores within 0.2 PESQ (ITU-T P.862, narrowband) of the
  PCMU encode -> decode chain of the same signal: voipkit -> baresip compares what
  voipkit encoded (its ``send`` tap) with baresip's received-audio dump; baresip ->
  voipkit compares baresip's encoder dump with what voipkit played (its ``recv`` tap);
- with SRTP mandatory, both call directions connect with SRTP (baresip reports
  CALL_MENC, voipkit's stream runs an AES_CM suite, unprotects every packet it counts,
  with no authentication or replay failure), and the same PESQ bound holds.
"""

from __future__ import annotations

import asyncio
import wave
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from pesq import pesq  # type: ignore[import-untyped]

from interop.api_helpers import in_thread, phone_config, running, uri_of, wait_until
from interop.baresip import Baresip
from voipkit.api import Call, CallState, IncomingCall
from voipkit.media.codecs.g711 import ulaw_decode, ulaw_encode
from voipkit.media.frames import Pcm
from voipkit.media.ports import WavFileSource
from voipkit.media.srtp import SrtpPolicy

pytestmark = pytest.mark.interop

SPEECH = Path(str(files("voipkit.data") / "speech-8k.wav"))
LISTEN_FRAMES = 450
"20 ms frames voipkit plays before the call ends: the speech (6 s) and a margin."


def _read(path: Path) -> tuple[Pcm, int]:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16), \
            w.getframerate()


def _speech_then_silence(path: Path, seconds: float = 30.0) -> Path:
    """The speech followed by silence (aufile stops at the end of its file)."""
    speech, rate = _read(SPEECH)
    pcm = np.concatenate((speech, np.zeros(round(seconds * rate) - len(speech), np.int16)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path


def _pesq(reference: Pcm, degraded: Pcm) -> float:
    """Narrowband PESQ of ``degraded`` aligned on ``reference`` by cross-correlation."""
    ref = reference.astype(np.float64)
    deg = degraded.astype(np.float64)
    size = 1 << (len(ref) + len(deg)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(deg, size) * np.conj(np.fft.rfft(ref, size)), size)
    lag = int(np.argmax(corr[:len(deg)]))
    aligned = degraded[lag:lag + len(reference)]
    if len(aligned) < len(reference):
        aligned = np.concatenate((aligned, np.zeros(len(reference) - len(aligned), np.int16)))
    return float(pesq(8000, reference.astype(np.float32), aligned.astype(np.float32), "nb"))


def _speech_part(pcm: Pcm) -> Pcm:
    """From the first non-silent sample, as long as the speech file."""
    speech, _ = _read(SPEECH)
    voiced = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 64)
    assert len(voiced), "no speech at all"
    start = max(0, int(voiced[0]) - 160)
    return pcm[start:start + len(speech) + 800]


def _chain(pcm: Pcm) -> Pcm:
    return ulaw_decode(ulaw_encode(pcm))


@pytest.mark.parametrize("srtp", [False, True], ids=["rtp", "srtp-mandatory"])
@pytest.mark.parametrize("caller", ["voipkit", "baresip"])
def test_pcmu_speech_quality_both_ways(caller: str, srtp: bool, tmp_path: Path) -> None:
    tx = _speech_then_silence(tmp_path / "speech-30s.wav")
    ua = Baresip(state=tmp_path / "baresip", user="alice", tx_wav=tx, codecs="PCMU",
                 mediaenc="srtp-mand" if srtp else None)
    sent: list[Pcm] = []
    played: list[Pcm] = []

    def tap(call: Call, done: asyncio.Event) -> None:
        audio = call.audio
        assert audio is not None
        audio.microphone = WavFileSource(SPEECH)  # from the first tick on

        def on_audio(direction: str, frame: Pcm, rate: int) -> None:
            assert rate == 8000
            (sent if direction == "send" else played).append(frame.copy())
            if len(played) >= LISTEN_FRAMES:
                done.set()
        audio.on_audio = on_audio

    async def main() -> dict[str, object]:
        config = phone_config()
        async with running(config) as phone:
            phone.set_audio_codecs(["PCMU"])
            if srtp:
                phone.set_srtp_policy(SrtpPolicy.FORCE, True)
            done = asyncio.Event()
            mark = ua.mark()
            if caller == "voipkit":
                call = await phone.call(ua.uri)
                tap(call, done)
                await call.answered(timeout=10)
            else:
                incoming: asyncio.Future[Call] = asyncio.get_running_loop().create_future()

                @phone.bus.on(IncomingCall)
                async def answer(event: IncomingCall) -> None:
                    await event.call.answer()
                    tap(event.call, done)
                    incoming.set_result(event.call)
                response = await in_thread(ua.dial, uri_of(phone, "bob"))
                assert response.get("ok"), response
                call = await asyncio.wait_for(incoming, 10)
            await wait_until(lambda: call.state is CallState.CONNECTED, 5, what="connected")
            await in_thread(ua.wait_event, "CALL_ESTABLISHED", 5, since=mark)
            if srtp:
                await in_thread(ua.wait_event, "CALL_MENC", 5, since=mark)
            await asyncio.wait_for(done.wait(), LISTEN_FRAMES * 0.02 + 10)
            assert call.audio is not None
            stats = call.audio.statistics()
            mark = ua.mark()
            await call.hangup()
            await in_thread(ua.wait_event, "CALL_CLOSED", 5, since=mark)
            return stats

    with ua:
        stats = asyncio.run(main())
        received_wav = ua.last_received_wav()
        sent_wav = ua.last_sent_wav()
    assert received_wav is not None and sent_wav is not None
    if srtp:
        assert stats["srtp"] == "AES_CM_128_HMAC_SHA1_80", stats
        assert stats["srtp_unprotected"] == stats["packets_received"]
        assert isinstance(stats["packets_received"], int) and stats["packets_received"] > 300
        assert stats["srtp_auth_failed"] == 0 and stats["srtp_replayed"] == 0
    else:
        assert stats["srtp"] is None

    # voipkit -> baresip
    reference = np.concatenate(sent)
    heard, rate = _read(received_wav)
    assert rate == 8000
    chain = _pesq(_speech_part(reference), _chain(_speech_part(reference)))
    call_score = _pesq(_speech_part(reference), heard)
    # baresip -> voipkit
    baresip_sent, rate = _read(sent_wav)
    assert rate == 8000
    back_chain = _pesq(_speech_part(baresip_sent), _chain(_speech_part(baresip_sent)))
    back_score = _pesq(_speech_part(baresip_sent), np.concatenate(played))
    print(f"{caller} calls, srtp={srtp}: voipkit->baresip {call_score:.3f} (chain "
          f"{chain:.3f}); baresip->voipkit {back_score:.3f} (chain {back_chain:.3f})")
    assert chain > 3.5 and back_chain > 3.5
    # on failure, say whether voipkit's side was starved (skipped clock ticks, concealment)
    diagnosis = {k: stats.get(k) for k in (
        "packets_received", "lost", "late", "underruns", "jitter_ms", "jitter_buffer_delay_ms",
        "jitter_discarded", "concealed_frames", "clock_skipped")}
    assert call_score >= chain - 0.2, f"voipkit's receive side: {diagnosis}"
    assert back_score >= back_chain - 0.2, f"voipkit's receive side: {diagnosis}"
