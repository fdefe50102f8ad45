"""A 30 s voipkit <-> voipkit call on 127.0.0.1 leaves recordings 30 s +- 40 ms long.

Proves: the caller records both legs (stereo WAV) and the callee the received leg
(mono WAV) from the moment the call is answered; the caller hangs up 30 s later (by
the loop clock); both files, finalised by the hang-up alone (no stopRecord), hold
30 s +- 40 ms of audio, and each is within 40 ms of the time its recording actually
ran; the callee's file holds the caller's tone (the media really flowed throughout).
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from voipkit import api
from voipkit.api import CallEnded, IncomingCall, Phone, PhoneConfig
from voipkit.api.media_files import RecordMode
from voipkit.media.frames import dominant_frequency
from voipkit.media.ports import ToneSource

CALL_SECONDS = 30.0


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(35000, 39999)))


def _wav(path: Path) -> tuple[float, int, np.ndarray]:
    with wave.open(str(path)) as w:
        frames = w.getnframes()
        data = np.frombuffer(w.readframes(frames), dtype="<i2").reshape(-1, w.getnchannels())
        return frames / w.getframerate(), w.getframerate(), data


async def _call(folder: Path) -> tuple[float, float]:
    alice, bob = Phone(_config()), Phone(_config())
    await alice.start()
    await bob.start()
    loop = asyncio.get_running_loop()
    started: dict[str, float] = {}
    try:
        bob_ended = asyncio.Event()

        @bob.bus.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer()
            event.call.start_record(folder / "bob.wav", mode=RecordMode.RECV)
            started["bob"] = loop.time()
            event.call.on(CallEnded)(lambda _: bob_ended.set())

        _, host, port = bob.listening[0]
        call = await alice.call(f"sip:bob@{host}:{port}")
        assert call.audio is not None
        call.audio.microphone = ToneSource(440.0, -12.0)
        await call.answered(timeout=5)
        call.start_record(folder / "alice.wav", mode=RecordMode.BOTH, stereo=True)
        started["alice"] = loop.time()
        await asyncio.sleep(CALL_SECONDS)  # the call's length is what is measured
        await call.hangup()
        ended = loop.time()
        await asyncio.wait_for(bob_ended.wait(), 5)
        bob_end = loop.time()
        return ended - started["alice"], bob_end - started["bob"]
    finally:
        await alice.close()
        await bob.close()


@pytest.mark.timeout(90)
def test_recordings_of_a_30_s_call_are_30_s_long(tmp_path: Path) -> None:
    alice_ran, bob_ran = asyncio.run(_call(tmp_path))
    alice_seconds, _, alice_data = _wav(tmp_path / "alice.wav")
    bob_seconds, bob_rate, bob_data = _wav(tmp_path / "bob.wav")
    print(f"alice {alice_seconds:.3f} s (ran {alice_ran:.3f}), "
          f"bob {bob_seconds:.3f} s (ran {bob_ran:.3f})")
    assert alice_data.shape[1] == 2 and bob_data.shape[1] == 1
    assert alice_seconds == pytest.approx(CALL_SECONDS, abs=0.040)
    assert bob_seconds == pytest.approx(CALL_SECONDS, abs=0.040)
    assert alice_seconds == pytest.approx(alice_ran, abs=0.040)
    assert bob_seconds == pytest.approx(bob_ran, abs=0.040)
    heard = bob_data[bob_rate:-bob_rate, 0]
    assert dominant_frequency(heard, bob_rate) == pytest.approx(440.0, abs=2)
