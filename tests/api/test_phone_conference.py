"""The api conference on real calls: three Phones, A bridging its calls with B and C.

Proves:
- join un-holds a held call and routes it through the bridge: B (sending
  440 Hz) hears C's 1000 Hz and A's local device (2500 Hz) but neither its own
  tone nor what A sent B before the conference (700 Hz); C (1000 Hz) hears
  440 Hz and 2500 Hz but not its own tone; A's local speaker hears B and C;
- leave(call) gives that call its previous source back (B hears 700 Hz again,
  C no longer hears B); destroy() does the same for everyone and removes the
  chain from the calls' audio;
- a call that ends leaves the conference on its own; a phone has one
  conference at a time; only connected calls join;
- the aio driver paces the bridge so each member's frame is consumed on the
  next bridge tick (one frame of latency, no drift, no underrun in steady state).
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voipkit import api
from voipkit.aio.conference import ConferenceDriver
from voipkit.aio.media_clock import MediaClock
from voipkit.api import IncomingCall, InvalidStateError, Phone, PhoneConfig
from voipkit.api.conference import LOCAL_DEVICE, Conference
from voipkit.api.media_files import CallRecording, RecordMode
from voipkit.media.conference import ConferenceBridge
from voipkit.media.frames import Pcm
from voipkit.media.ports import ToneSource


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(45000, 49999)))


async def _callee(hz: float) -> Phone:
    """A phone that answers every call and sends ``hz``."""
    phone = Phone(_config())
    await phone.start()

    @phone.bus.on(IncomingCall)
    async def answer(event: IncomingCall) -> None:
        await event.call.answer()
        assert event.call.audio is not None
        event.call.audio.set_source(ToneSource(hz, -10.0))

    return phone


async def _dial(caller: Phone, callee: Phone, hz: float) -> api.Call:
    _, host, port = callee.listening[0]
    call = await caller.call(f"sip:callee@{host}:{port}")
    await call.answered(timeout=5)
    for _ in range(50):
        if call.state is api.CallState.CONNECTED:
            break
        await asyncio.sleep(0.02)
    assert call.audio is not None
    call.audio.set_source(ToneSource(hz, -10.0))
    return call


def _wav(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16), \
            w.getframerate()


def _levels(samples: npt.NDArray[np.int16], rate: int, *tones: float) -> dict[float, float]:
    """Each tone's FFT magnitude peak (within 20 Hz), relative to the strongest of them."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    peaks = {hz: float(spectrum[(freqs > hz - 20) & (freqs < hz + 20)].max()) for hz in tones}
    top = max(peaks.values())
    return {hz: p / top for hz, p in peaks.items()}


def _dominant(samples: npt.NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    spectrum[:5] = 0.0
    return float(np.argmax(spectrum)) * rate / len(samples)


class _Collect:
    """A speaker that keeps what it is given."""

    def __init__(self) -> None:
        self.frames: list[Pcm] = []

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        self.frames.append(frame.copy())


TONES = (440.0, 700.0, 1000.0, 1700.0, 2500.0)


async def _heard(call: api.Call, path: Path, seconds: float) -> Path:
    rec = CallRecording.start(call, path, mode=RecordMode.RECV)
    await asyncio.sleep(seconds)
    rec.stop()
    return path


def test_three_party_conference_join_leave_destroy(tmp_path: Path) -> None:
    async def main() -> None:
        a = Phone(_config())
        await a.start()
        b, c = await _callee(440.0), await _callee(1000.0)
        try:
            ab = await _dial(a, b, 700.0)
            ac = await _dial(a, c, 1700.0)
            (b_call,) = b.calls.values()
            (c_call,) = c.calls.values()
            await ab.hold()
            await asyncio.sleep(0.2)
            assert ab.local_hold

            speaker = _Collect()
            conference = Conference.create(a, local_capture=ToneSource(2500.0, -10.0),
                                           local_playout=speaker)
            await conference.join(ab)
            await conference.join(ac)
            assert not ab.local_hold and conference.calls == [ab, ac]
            assert ab in conference and LOCAL_DEVICE in conference.bridge
            with pytest.raises(InvalidStateError):
                await conference.join(ab)
            with pytest.raises(InvalidStateError):
                Conference.create(a)
            await asyncio.sleep(0.5)
            before = len(speaker.frames)
            await asyncio.gather(_heard(b_call, tmp_path / "b_conf.wav", 1.0),
                                 _heard(c_call, tmp_path / "c_conf.wav", 1.0))
            local = np.concatenate(speaker.frames[before:])
            for member in (ab.id, ac.id):
                info = conference.bridge.info(member)
                assert info.frames_in > 50 and info.dropped_samples == 0

            conference.leave(ab)
            assert conference.calls == [ac]
            with pytest.raises(InvalidStateError):
                conference.leave(ab)
            await asyncio.sleep(0.3)
            await asyncio.gather(_heard(b_call, tmp_path / "b_left.wav", 0.8),
                                 _heard(c_call, tmp_path / "c_alone.wav", 0.8))
            assert ab.audio is not None and ab.audio.sinks == []

            conference.destroy()
            assert conference.destroyed and Conference.of(a) is None
            assert ac.audio is not None and ac.audio.sinks == []
            await asyncio.sleep(0.3)
            await _heard(c_call, tmp_path / "c_after.wav", 0.8)
        finally:
            await a.close()
            await b.close()
            await c.close()

        b_conf = _levels(*_wav(tmp_path / "b_conf.wav"), *TONES)
        assert b_conf[1000.0] > 0.3 and b_conf[2500.0] > 0.3  # C and A's local device
        assert b_conf[440.0] < 0.01 and b_conf[700.0] < 0.01  # not itself, not A's old source
        c_conf = _levels(*_wav(tmp_path / "c_conf.wav"), *TONES)
        assert c_conf[440.0] > 0.3 and c_conf[2500.0] > 0.3
        assert c_conf[1000.0] < 0.01 and c_conf[1700.0] < 0.01
        heard_locally = _levels(local, 16000, *TONES)
        assert heard_locally[440.0] > 0.3 and heard_locally[1000.0] > 0.3
        assert heard_locally[2500.0] < 0.01  # the local device never hears itself

        samples, rate = _wav(tmp_path / "b_left.wav")
        assert abs(_dominant(samples[rate // 4:], rate) - 700.0) < 5  # direct audio again
        c_alone = _levels(*_wav(tmp_path / "c_alone.wav"), *TONES)
        assert c_alone[2500.0] == 1.0 and c_alone[440.0] < 0.01
        samples, rate = _wav(tmp_path / "c_after.wav")
        assert abs(_dominant(samples[rate // 4:], rate) - 1700.0) < 5

    asyncio.run(main())


def test_ended_call_leaves_and_only_connected_calls_join() -> None:
    async def main() -> None:
        a = Phone(_config())
        await a.start()
        b = await _callee(440.0)
        try:
            ab = await _dial(a, b, 700.0)
            conference = Conference.create(a, local_device=False)
            await conference.join(ab)
            (b_call,) = b.calls.values()
            await b_call.hangup()
            await ab.ended(timeout=5)
            assert conference.calls == [] and ab.id not in conference.bridge
            with pytest.raises(InvalidStateError):
                await conference.join(ab)
            conference.destroy()
            conference.destroy()  # idempotent
            with pytest.raises(InvalidStateError):
                await conference.join(ab)
            assert Conference.create(a).destroyed is False  # a new one may be made
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_driver_consumes_each_put_on_the_next_tick() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        bridge = ConferenceBridge(8000, 0.02)
        driver = ConferenceDriver(loop, bridge, local_rate=8000)
        driver.start(with_local_device=False)
        one, two = driver.attach("one", 8000), driver.attach("two", 8000)
        tone = ToneSource(1000.0, -10.0)
        reads = 0
        heard: list[Pcm] = []
        counters: list[int] = []

        def member_tick(deadline: float) -> None:
            # a call's device: read the source (the outbox), then write the sink (the bridge)
            nonlocal reads
            reads += 1
            heard.append(two.read_frame(160, 8000))
            one.read_frame(160, 8000)
            one.write_frame(tone.read_frame(160, 8000), 8000)
            two.write_frame(np.zeros(160, dtype=np.int16), 8000)
            if reads == 50:
                member.stop()
                counters.extend((one.dropped, two.dropped, two.underruns))

        member = MediaClock(loop, 0.02, member_tick)
        member.start(driver.clock.deadline(0) + 0.007)  # an arbitrary phase against the bridge
        await asyncio.sleep(1.2)
        driver.stop()
        assert reads == 50
        assert len(bridge) == 0 and bridge.ticks >= 55
        steady = np.concatenate(heard[10:])
        assert abs(_dominant(steady, 8000) - 1000.0) < 10
        assert np.abs(steady).min() < np.abs(steady).max()  # a real tone, not a constant
        # only the reads before the bridge's first output found the outbox empty
        dropped_one, dropped_two, underruns = counters
        assert underruns <= 1 and dropped_one == 0 and dropped_two == 0
        assert bridge.ticks > 50 and one.dropped > 0  # unread, the outbox stays capped

    asyncio.run(main())
