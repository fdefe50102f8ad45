"""The virtual audio device (audioDeviceLayer = 1) and sound-card discovery.

Proves:
- capture from a ToneSource at 20 ms ptime delivers 160-sample frames stamped
  exactly ``start + n * 0.02``, and the frames join into a continuous tone;
- playout of a ToneSource into a WavFileSink yields a WAV whose dominant
  frequency (numpy FFT) is the tone's, with one frame per tick, and a correct
  header after close();
- stop() ends the ticks; a ptime that is not whole samples is rejected;
- ``list_devices()`` is the virtual device alone when sounddevice is missing or
  PortAudio fails, and appends PortAudio's devices when they are listed;
- whether PortAudio offers a card (an input and an output) is decided once per scan of
  its list: a new list counts only after ``rescan_devices()``.
"""

from __future__ import annotations

import asyncio
import sys
import types
import wave
from pathlib import Path

import numpy as np
import pytest

import voipkit.aio.audio_device as audio_device_module
from voipkit.aio.audio_device import (
    VIRTUAL_DEVICE,
    VirtualAudioDevice,
    list_devices,
    rescan_devices,
    sounddevice_available,
)
from voipkit.media.frames import Pcm, dominant_frequency
from voipkit.media.ports import ToneSource, WavFileSink


def test_capture_frames_arrive_on_the_ptime_grid() -> None:
    async def main() -> tuple[float, list[tuple[Pcm, float]], VirtualAudioDevice]:
        loop = asyncio.get_running_loop()
        got: list[tuple[Pcm, float]] = []
        done = asyncio.Event()

        def on_capture(frame: Pcm, at: float) -> None:
            got.append((frame, at))
            if len(got) == 25:
                device.stop()
                done.set()

        device = VirtualAudioDevice(loop, ptime=0.02, capture=ToneSource(800.0),
                                    on_capture=on_capture)
        start = device.start()
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.sleep(0.05)  # nothing more after stop()
        return start, got, device

    start, got, device = asyncio.run(main())
    assert [at for _, at in got] == [start + n * 0.02 for n in range(25)]
    assert all(len(f) == 160 and f.dtype == np.int16 for f, _ in got)
    assert device.frames_captured == 25 and not device.running
    joined = np.concatenate([f for f, _ in got])
    reference = ToneSource(800.0).read_frame(len(joined), 8000)
    assert np.max(np.abs(joined.astype(np.int32) - reference)) <= 1


def test_playout_into_wav_has_the_tone_frequency(tmp_path: Path) -> None:
    path = tmp_path / "playout.wav"

    async def main() -> VirtualAudioDevice:
        loop = asyncio.get_running_loop()
        sink = WavFileSink(path, 16000)
        done = asyncio.Event()
        count = 0

        def on_capture(frame: Pcm, at: float) -> None:
            nonlocal count
            count += 1
            if count == 50:
                device.stop()
                done.set()

        device = VirtualAudioDevice(loop, ptime=0.02, sample_rate=16000, playout=sink,
                                    playout_source=ToneSource(1250.0, -6.0),
                                    on_capture=on_capture)
        device.start()
        await asyncio.wait_for(done.wait(), 5)
        sink.close()
        return device

    device = asyncio.run(main())
    assert device.frames_played == 50
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (16000, 1, 50 * 320)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    assert dominant_frequency(pcm, 16000) == pytest.approx(1250.0, abs=1.0)


def test_ptime_must_be_whole_samples() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError, match="whole number of samples"):
            VirtualAudioDevice(loop, ptime=0.0201, sample_rate=8000)
    finally:
        loop.close()


@pytest.fixture
def unscanned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the kept PortAudio list before and after a test that fakes sounddevice."""
    monkeypatch.setattr(audio_device_module, "_scanned", None)


def test_list_devices_without_portaudio(monkeypatch: pytest.MonkeyPatch,
                                        unscanned: None) -> None:
    broken = types.ModuleType("sounddevice")

    def query_devices() -> list[dict[str, object]]:
        raise OSError("PortAudio library not found")

    broken.query_devices = query_devices  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", broken)
    assert list_devices() == [VIRTUAL_DEVICE]
    assert not sounddevice_available()
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    rescan_devices()
    assert list_devices() == [VIRTUAL_DEVICE]


def test_list_devices_with_portaudio(monkeypatch: pytest.MonkeyPatch, unscanned: None) -> None:
    fake = types.ModuleType("sounddevice")
    queries: list[int] = []

    def query_devices() -> list[dict[str, object]]:
        queries.append(1)
        return [
            {"name": "hw:0", "index": 0, "max_input_channels": 2, "max_output_channels": 0,
             "default_samplerate": 48000.0},
            {"name": "hw:1", "index": 1, "max_input_channels": 0, "max_output_channels": 2,
             "default_samplerate": 44100.0},
        ]

    fake.query_devices = query_devices  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    devices = list_devices()
    assert devices[0] == VIRTUAL_DEVICE
    assert [(d.index, d.name, d.kind, d.max_input_channels, d.host_index)
            for d in devices[1:]] == [(1, "hw:0", "portaudio", 2, 0),
                                      (2, "hw:1", "portaudio", 0, 1)]
    assert sounddevice_available()
    assert len(queries) == 1  # PortAudio's list is kept until rescan_devices()


def test_card_choice_is_decided_once_per_scan(monkeypatch: pytest.MonkeyPatch,
                                              unscanned: None) -> None:
    output = {"name": "out", "index": 0, "max_input_channels": 0, "max_output_channels": 2,
              "default_samplerate": 48000.0}
    microphone = {"name": "mic", "index": 1, "max_input_channels": 1,
                  "max_output_channels": 0, "default_samplerate": 48000.0}
    listed: list[list[dict[str, object]]] = [[output]]
    queries: list[int] = []

    def query_devices() -> list[dict[str, object]]:
        queries.append(1)
        return listed[-1]

    fake = types.ModuleType("sounddevice")
    fake.query_devices = query_devices  # type: ignore[attr-defined]
    fake._terminate = lambda: None  # type: ignore[attr-defined]
    fake._initialize = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    monkeypatch.setattr(audio_device_module, "_card_found", None)
    card_available = audio_device_module._card_available
    assert not card_available() and not card_available()  # an output, no input
    assert len(queries) == 1
    listed.append([output, microphone])  # a microphone plugged in
    assert not card_available()  # PortAudio's list is the one scanned
    rescan_devices()
    assert card_available() and card_available()
    assert len(queries) == 2
