"""Stream I/O controls (muteMicrophone, muteSpeaker, channel volume scaling), measured
on real audio between two Phones on 127.0.0.1.

Proves:
- ``Phone.mute_microphone`` silences the microphone of calls made after it: the callee
  records silence; a file played to the peer (MIX) over the muted microphone is still
  recorded by the callee, without the microphone's tone; unmuting brings the tone back;
- the conference's local member is muted with the microphone (the peer hears its tone
  only after unmuting), created before or after the mute;
- ``Phone.mute_speaker`` leaves the received audio in the sinks (a recording) while the
  device's speaker gets digital silence, and the conference's local playout too;
  unmuting plays the tone again;
- ``Call.set_volume_scaling(output=50 / 200)`` changes the received level by -6 / +6 dB
  (within 1 dB), ``input=50`` the level the peer receives; 1000 on a loud tone clips
  (no wrap-around: still the tone, louder than unscaled, within int16); out-of-range
  values raise ``ConfigurationError``;
- with a sound card (its microphone mixed inside the device) the device's ``mic_volume``
  is 0 while muted and the phone's level (``set_mic_volume``, setMicVolume) comes back
  on unmute and follows a change at once;
- ``scale_volume`` multiplies in int32 and clips; ``check_scaling`` takes 0-1000 only.
"""

from __future__ import annotations

import asyncio
import math
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from voipkit import api
from voipkit.aio import media_session
from voipkit.aio.audio_device import AudioDeviceSettings, VirtualAudioDevice
from voipkit.aio.media_session import check_scaling, scale_volume
from voipkit.api import ConfigurationError, IncomingCall, Phone, PhoneConfig
from voipkit.api.devices import set_mic_volume
from voipkit.api.media_files import CallRecording, PlayMode, RecordMode, play_to_remote
from voipkit.media.frames import Pcm, level_dbfs
from voipkit.media.ports import ToneSource
from voipkit.media.recorder import Recorder


class _Collect:
    """A sink keeping every frame written to it."""

    def __init__(self) -> None:
        self.frames: list[Pcm] = []

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        self.frames.append(frame.copy())

    def take(self) -> Pcm:
        """Everything written since the last take."""
        frames, self.frames = self.frames, []
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(45000, 49999)))


async def _connected(alice: Phone, bob: Phone) -> tuple[api.Call, api.Call]:
    answered: asyncio.Future[api.Call] = asyncio.get_running_loop().create_future()

    @bob.bus.on(IncomingCall)
    async def answer(event: IncomingCall) -> None:
        await event.call.answer()
        answered.set_result(event.call)

    _, host, port = bob.listening[0]
    call = await alice.call(f"sip:bob@{host}:{port}")
    await call.answered(timeout=5)
    bob_call = await asyncio.wait_for(answered, 5)
    await asyncio.sleep(0.2)
    return call, bob_call


async def _phones() -> tuple[Phone, Phone]:
    alice, bob = Phone(_config()), Phone(_config())
    await alice.start()
    await bob.start()
    return alice, bob


def _level(samples: npt.NDArray[np.int16], rate: int, hz: float) -> float:
    """The windowed FFT magnitude peak within 20 Hz of ``hz``."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    band = (freqs > hz - 20) & (freqs < hz + 20)
    return float(spectrum[band].max())


def _dominant(samples: npt.NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    spectrum[:5] = 0.0
    return float(np.argmax(spectrum)) * rate / len(samples)


def _wav(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
        return data, w.getframerate()


def _tone_file(path: Path, hz: float, seconds: float, rate: int = 8000) -> Path:
    tone = ToneSource(hz, -6.0)
    with Recorder(path, mode=RecordMode.SEND, sample_rate=rate) as rec:
        for _ in range(round(seconds * 50)):
            rec.write(tone.read_frame(rate // 50, rate), None)
    return path


async def _record(call: api.Call, path: Path, seconds: float) -> tuple[Pcm, int]:
    """What ``call`` receives for ``seconds`` (after 0.3 s for the jitter buffers)."""
    await asyncio.sleep(0.3)
    rec = CallRecording.start(call, path, mode=RecordMode.RECV)
    await asyncio.sleep(seconds)
    rec.stop()
    return _wav(path)


def test_muted_microphone_keeps_files_flowing(tmp_path: Path) -> None:
    song = _tone_file(tmp_path / "song.wav", 600.0, 3.0)

    async def main() -> None:
        alice, bob = await _phones()
        try:
            alice.mute_microphone(True)  # before the call: calls made later are muted
            call, bob_call = await _connected(alice, bob)
            assert call.audio is not None and call.audio.microphone_muted
            call.audio.microphone = ToneSource(440.0, -10.0)

            silent, rate = await _record(bob_call, tmp_path / "muted.wav", 0.8)
            assert len(silent) >= rate * 0.7
            assert level_dbfs(silent) < -60.0

            playback = play_to_remote(call, song, loop=True, mode=PlayMode.MIX)
            mixed, rate = await _record(bob_call, tmp_path / "file.wav", 1.0)
            assert abs(_dominant(mixed, rate) - 600.0) < 5
            assert level_dbfs(mixed) > -15.0
            assert _level(mixed, rate, 440.0) < 0.01 * _level(mixed, rate, 600.0)

            call.stop_playing()
            assert playback.done.done()
            alice.mute_microphone(False)
            assert not call.audio.microphone_muted
            heard, rate = await _record(bob_call, tmp_path / "unmuted.wav", 0.8)
            assert abs(_dominant(heard, rate) - 440.0) < 5
            assert level_dbfs(heard) > -15.0
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_conference_local_member_follows_the_microphone_mute() -> None:
    async def main() -> None:
        alice, bob = await _phones()
        try:
            call, bob_call = await _connected(alice, bob)
            assert bob_call.audio is not None
            heard = _Collect()
            bob_call.audio.sinks.append(heard)
            alice.mute_microphone(True)  # before the conference exists
            conference = alice.create_conference(local_capture=ToneSource(2500.0, -10.0))
            await conference.join(call)
            await asyncio.sleep(0.5)
            heard.take()
            await asyncio.sleep(0.6)
            muted = heard.take()
            assert len(muted) >= 8000 * 0.5 and level_dbfs(muted) < -60.0

            alice.mute_microphone(False)
            await asyncio.sleep(0.5)
            heard.take()
            await asyncio.sleep(0.6)
            live = heard.take()
            assert abs(_dominant(live, 8000) - 2500.0) < 10
            alice.mute_microphone(True)  # a conference that exists
            await asyncio.sleep(0.5)
            heard.take()
            await asyncio.sleep(0.4)
            assert level_dbfs(heard.take()) < -60.0
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_muted_speaker_keeps_the_recording() -> None:
    async def main() -> None:
        alice, bob = await _phones()
        try:
            call, bob_call = await _connected(alice, bob)
            assert call.audio is not None and bob_call.audio is not None
            call.audio.microphone = ToneSource(440.0, -10.0)
            speaker, recorded = _Collect(), _Collect()
            bob_call.audio.speaker = speaker
            bob_call.audio.sinks.append(recorded)
            local = _Collect()
            conference = bob.create_conference(local_playout=local)
            await conference.join(bob_call)
            bob.mute_speaker(True)
            await asyncio.sleep(0.4)
            speaker.take(), recorded.take(), local.take()
            await asyncio.sleep(0.8)
            played, kept, device = speaker.take(), recorded.take(), local.take()
            assert len(played) >= 8000 * 0.7 and not played.any()  # digital silence
            assert abs(_dominant(kept, 8000) - 440.0) < 5 and level_dbfs(kept) > -15.0
            assert len(device) > 0 and not device.any()

            bob.mute_speaker(False)
            await asyncio.sleep(0.3)
            speaker.take(), local.take()
            await asyncio.sleep(0.8)
            played, device = speaker.take(), local.take()
            assert abs(_dominant(played, 8000) - 440.0) < 5 and level_dbfs(played) > -15.0
            assert abs(_dominant(device, 16000) - 440.0) < 5  # the call fed the bridge
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_volume_scaling_changes_levels_by_the_percentage() -> None:
    async def main() -> None:
        alice, bob = await _phones()
        try:
            call, bob_call = await _connected(alice, bob)
            assert call.audio is not None and bob_call.audio is not None
            call.audio.microphone = ToneSource(440.0, -20.0)
            heard = _Collect()
            bob_call.audio.sinks.append(heard)

            async def level() -> float:
                await asyncio.sleep(0.4)
                heard.take()
                await asyncio.sleep(0.6)
                return level_dbfs(heard.take())

            base = await level()
            assert -22.0 < base < -18.0
            bob_call.set_volume_scaling(output=50)
            assert abs(await level() - base + 20 * math.log10(2)) < 1.0
            bob_call.set_volume_scaling(output=200)
            assert abs(await level() - base - 20 * math.log10(2)) < 1.0
            bob_call.set_volume_scaling(output=100)
            call.set_volume_scaling(input=50)
            assert abs(await level() - base + 20 * math.log10(2)) < 1.0

            call.set_volume_scaling(input=100)
            call.audio.microphone = ToneSource(440.0, -3.0)
            loud = await level()
            bob_call.set_volume_scaling(output=1000)
            await asyncio.sleep(0.4)
            heard.take()
            await asyncio.sleep(0.6)
            clipped = heard.take()
            assert clipped.min() >= -32768 and clipped.max() <= 32767
            assert abs(_dominant(clipped, 8000) - 440.0) < 5
            assert loud < level_dbfs(clipped) <= 3.02  # a full-scale square wave at most

            for bad in (-1, 1001):
                with pytest.raises(ConfigurationError):
                    call.set_volume_scaling(input=bad)
            assert bob_call.audio.output_scaling == 1000
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())


def test_scale_volume_is_int32_then_clipped() -> None:
    frame = np.array([100, -100, 20000, -20000, 7], dtype=np.int16)
    assert scale_volume(frame, 100) is frame
    assert scale_volume(frame, 200).tolist() == [200, -200, 32767, -32768, 14]
    assert scale_volume(frame, 50).tolist() == [50, -50, 10000, -10000, 3]
    assert not scale_volume(frame, 0).any()
    assert scale_volume(frame, 1000).dtype == np.int16
    assert check_scaling(0) == 0 and check_scaling(1000) == 1000
    for bad in (-1, 1001, True, 50.0):
        with pytest.raises(ValueError):
            check_scaling(bad)  # type: ignore[arg-type]


class _CardLike(VirtualAudioDevice):
    """The virtual device with a sound card's software microphone gain."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *,
                 settings: AudioDeviceSettings | None = None, **kwargs: Any) -> None:
        super().__init__(loop, **kwargs)
        self.mic_volume = settings.mic_volume if settings is not None else 255
        self.speaker_volume = settings.speaker_volume if settings is not None else 255


def test_sound_card_microphone_gain_follows_the_mute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_session, "default_audio_device", _CardLike)

    async def main() -> None:
        alice, bob = await _phones()
        try:
            set_mic_volume(alice, 200)
            alice.mute_microphone(True)
            call, _ = await _connected(alice, bob)
            assert call.audio is not None
            device = call.audio._device
            assert isinstance(device, _CardLike) and device.mic_volume == 0
            alice.mute_microphone(False)
            assert device.mic_volume == 200
            set_mic_volume(alice, 120)  # setMicVolume: the level that comes back
            assert device.mic_volume == 120
            alice.mute_microphone(True)
            alice.mute_microphone(True)
            assert device.mic_volume == 0
            alice.mute_microphone(False)
            assert device.mic_volume == 120
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())
