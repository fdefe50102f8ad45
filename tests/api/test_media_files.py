"""Call recording and file playback through the api, on real calls between two Phones.

Proves:
- a call recorded in stereo for ~3 s has the caller's tone (440 Hz) on the left
  and the callee's (1000 Hz) on the right, the other tone far below, and lasts
  what the recording ran, within 40 ms;
- an Ogg/Opus recording of both legs is finalised when the call ends (hang-up,
  no ``stop()``): it decodes to the recorded length with both tones;
- RecordMode.SEND holds only what we send, RecordMode.RECV only what we
  receive; recordings still running when the phones close are finalised;
- play_to_remote REPLACE sends the file (any PyAV-readable file, here Ogg/Opus
  at another rate) instead of the microphone, emits PlaybackFinished once with
  completed=True, then the microphone is heard again; MIX sends both;
  stop_playing ends a looping file with one PlaybackFinished(completed=False);
- play_locally plays the file on the (virtual) local device's speaker and
  resolves ``done``; stop_playing_locally stops a looping file;
- a missing file raises MediaFileError; an ended call cannot be recorded.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from voipkit import api
from voipkit.api import IncomingCall, InvalidStateError, Phone, PhoneConfig, PlaybackFinished
from voipkit.api.media_files import (
    CallRecording,
    MediaFileError,
    PlayMode,
    RecordMode,
    play_locally,
    play_to_remote,
    stop_playing,
    stop_playing_locally,
)
from voipkit.media.frames import Pcm
from voipkit.media.player import decode_to_mono
from voipkit.media.ports import ToneSource
from voipkit.media.recorder import Recorder


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(40000, 44999)))


async def _connected(caller_hz: float, callee_hz: float) -> tuple[Phone, Phone, api.Call,
                                                                  api.Call]:
    """Two phones in a call; the caller sends ``caller_hz``, the callee ``callee_hz``."""
    alice, bob = Phone(_config()), Phone(_config())
    await alice.start()
    await bob.start()
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
    assert call.audio is not None and bob_call.audio is not None
    call.audio.set_source(ToneSource(caller_hz, -10.0))
    bob_call.audio.set_source(ToneSource(callee_hz, -10.0))
    await asyncio.sleep(0.3)  # the tones are through the jitter buffers
    return alice, bob, call, bob_call


def _wav(path: Path) -> tuple[npt.NDArray[np.int16], int, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
        return data, w.getframerate(), w.getnchannels()


def _decode(path: Path) -> tuple[Pcm, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        parts = [decode_to_mono(frame) for frame in container.decode(stream)]
        return np.concatenate(parts), stream.rate


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


def _tone_file(path: Path, hz: float, seconds: float, rate: int = 48000) -> Path:
    """An Ogg/Opus file of a tone (written with the media layer's recorder)."""
    tone = ToneSource(hz, -6.0)
    frame = rate // 50
    with Recorder(path, mode=RecordMode.SEND, sample_rate=rate) as rec:
        for _ in range(round(seconds * 50)):
            rec.write(tone.read_frame(frame, rate), None)
    return path


def test_stereo_recording_has_local_left_and_remote_right(tmp_path: Path) -> None:
    async def main() -> float:
        alice, bob, call, _ = await _connected(440.0, 1000.0)
        loop = asyncio.get_running_loop()
        try:
            rec = CallRecording.start(call, tmp_path / "call.wav", stereo=True)
            began = loop.time()
            await asyncio.sleep(3.0)
            assert rec.stop() == str(tmp_path / "call.wav")
            ran = loop.time() - began
            assert not rec.active and rec.stop() == rec.path  # idempotent
            assert call.audio is not None and call.audio.sinks == []  # chain removed
        finally:
            await alice.close()
            await bob.close()
        return ran

    ran = asyncio.run(main())
    data, rate, channels = _wav(tmp_path / "call.wav")
    assert (rate, channels) == (8000, 2)
    left, right = data[0::2], data[1::2]
    assert abs(len(left) / rate - ran) <= 0.04
    assert abs(_dominant(left, rate) - 440.0) < 5
    assert abs(_dominant(right[rate // 2:], rate) - 1000.0) < 5
    assert _level(left, rate, 1000.0) < 0.01 * _level(left, rate, 440.0)
    assert _level(right, rate, 440.0) < 0.01 * _level(right, rate, 1000.0)


def test_ogg_opus_recording_is_finalised_when_the_call_ends(tmp_path: Path) -> None:
    async def main() -> float:
        alice, bob, call, _ = await _connected(440.0, 1000.0)
        loop = asyncio.get_running_loop()
        try:
            rec = CallRecording.start(call, tmp_path / "call.ogg", mode=RecordMode.BOTH)
            began = loop.time()
            await asyncio.sleep(1.5)
            await call.hangup()
            await call.ended(timeout=5)
            ran = loop.time() - began
            assert not rec.active and CallRecording.of(call) is None
        finally:
            await alice.close()
            await bob.close()
        return ran

    ran = asyncio.run(main())
    samples, rate = _decode(tmp_path / "call.ogg")
    assert abs(len(samples) / rate - ran) <= 0.1  # Opus pre-skip and frame padding aside
    steady = samples[rate // 2:]
    low, high = _level(steady, rate, 440.0), _level(steady, rate, 1000.0)
    assert min(low, high) > 0.3 * max(low, high)  # both parties are in the mono mix


def test_send_and_recv_modes_and_finalised_on_phone_close(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, call, bob_call = await _connected(440.0, 1000.0)
        sent = CallRecording.start(call, tmp_path / "sent.wav", mode=RecordMode.SEND)
        heard = CallRecording.start(bob_call, tmp_path / "heard.wav", mode=RecordMode.RECV)
        await asyncio.sleep(1.0)
        await alice.close()
        await bob.close()
        assert not sent.active and not heard.active

    asyncio.run(main())
    sent, rate, channels = _wav(tmp_path / "sent.wav")
    assert channels == 1 and len(sent) >= rate * 0.9
    assert abs(_dominant(sent, rate) - 440.0) < 5
    assert _level(sent, rate, 1000.0) < 0.01 * _level(sent, rate, 440.0)
    heard, rate, _ = _wav(tmp_path / "heard.wav")
    assert abs(_dominant(heard, rate) - 440.0) < 5  # bob receives alice's tone ...
    assert _level(heard, rate, 1000.0) < 0.01 * _level(heard, rate, 440.0)  # ... not his own


def test_play_to_remote_replace_then_mix_then_stop(tmp_path: Path) -> None:
    short = _tone_file(tmp_path / "short.ogg", 600.0, 0.6)

    async def main() -> None:
        alice, bob, call, bob_call = await _connected(440.0, 1000.0)
        finished: list[tuple[str, bool]] = []
        call.on(PlaybackFinished)(lambda e: finished.append((e.path, e.completed)))
        try:
            heard = CallRecording.start(bob_call, tmp_path / "replace.wav", mode=RecordMode.RECV)
            playback = play_to_remote(call, short, mode=PlayMode.REPLACE)
            assert await asyncio.wait_for(playback.done, 3) is True
            await asyncio.sleep(0.7)  # the microphone again
            heard.stop()
            assert finished == [(str(short), True)]

            heard = CallRecording.start(bob_call, tmp_path / "mix.wav", mode=RecordMode.RECV)
            looping = play_to_remote(call, short, loop=True, mode=PlayMode.MIX)
            await asyncio.sleep(1.0)
            assert stop_playing(call) is True and stop_playing(call) is False
            assert await looping.done is False
            heard.stop()
            assert finished == [(str(short), True), (str(short), False)]
            assert call.audio is not None and call.audio.sinks == []
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())
    data, rate, _ = _wav(tmp_path / "replace.wav")
    chunk = rate // 4
    levels = [(_level(data[i:i + chunk], rate, 600.0), _level(data[i:i + chunk], rate, 440.0))
              for i in range(0, len(data) - chunk + 1, chunk)]
    file_part = [i for i, (f, m) in enumerate(levels) if f > 10 * m]
    mic_after = [i for i, (f, m) in enumerate(levels) if m > 10 * f]
    assert file_part and len(file_part) >= 2  # the file replaced the microphone ...
    assert mic_after and max(mic_after) > max(file_part)  # ... and the microphone came back
    mixed, rate, _ = _wav(tmp_path / "mix.wav")
    steady = mixed[rate // 4: rate * 3 // 4]
    assert _level(steady, rate, 600.0) > 0.3 * _level(steady, rate, 440.0)
    assert _level(steady, rate, 440.0) > 0.3 * _level(steady, rate, 600.0)


class _Collect:
    """A speaker that keeps what it is given."""

    def __init__(self) -> None:
        self.frames: list[Pcm] = []
        self.rates: set[int] = set()

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        self.frames.append(frame.copy())
        self.rates.add(sample_rate)


def test_play_locally_on_the_virtual_device(tmp_path: Path) -> None:
    tone = _tone_file(tmp_path / "tone.ogg", 600.0, 0.5)

    async def main() -> None:
        phone = Phone(_config())
        await phone.start()
        try:
            speaker = _Collect()
            playback = play_locally(phone, tone, playout=speaker)
            assert await asyncio.wait_for(playback.done, 3) is True
            played = np.concatenate(speaker.frames)
            (rate,) = speaker.rates
            assert 0.45 * rate <= len(played) <= 0.7 * rate
            assert abs(_dominant(played, rate) - 600.0) < 5
            assert stop_playing_locally(phone) is False

            speaker = _Collect()
            looping = play_locally(phone, tone, loop=True, playout=speaker)
            await asyncio.sleep(1.0)
            assert stop_playing_locally(phone) is True
            assert await looping.done is False
            count = len(speaker.frames)
            assert count >= 40  # looped past the file's 25 frames
            await asyncio.sleep(0.1)
            assert len(speaker.frames) == count  # stopped
        finally:
            await phone.close()

    asyncio.run(main())


def test_missing_file_and_ended_call_are_errors(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, call, _ = await _connected(440.0, 1000.0)
        try:
            with pytest.raises(MediaFileError):
                play_to_remote(call, tmp_path / "nothing.wav")
            with pytest.raises(MediaFileError):
                CallRecording.start(call, tmp_path / "call.xyz")
            assert call.audio is not None and call.audio.sinks == []  # nothing left behind
            await call.hangup()
            await call.ended(timeout=5)
            with pytest.raises(InvalidStateError):
                CallRecording.start(call, tmp_path / "late.wav")
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(main())
