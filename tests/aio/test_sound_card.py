"""The sound card through PortAudio (sounddevice), on real PortAudio devices made for the test.

Two real device kinds are set up, without any hardware:
- an ALSA ``null`` PCM (``pcm.voipkit_null { type null }`` in a temporary
  ``~/.asoundrc``): PortAudio's ALSA host API lists it, and it really opens,
  takes playback and delivers silent capture — but as fast as the CPU goes
  (alsa-lib's null plugin has no clock), so it proves listing, opening, the
  bounded hand-over between the threads (drops counted, stamps still on the
  ptime grid), playout consumption and release, not pacing;
- a JACK server with its ``dummy`` backend (Debian ``jackd2``) at 48 kHz, which
  runs on the real clock: it proves that captured frames reach the loop at
  ptime pacing, resampled 48 kHz -> 8 kHz, mixed with the ``capture`` source,
  stamped ``start + n * ptime``, and that the speaker consumes what is played.

With no device at all (no PCM in ALSA's config, no JACK server) and with
sounddevice missing, ``default_audio_device`` returns the virtual device.

These tests fail (they do not skip) when sounddevice, libportaudio2 or jackd
is missing: ``make test`` installs them.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from voipkit.aio import audio_device
from voipkit.aio.audio_device import (
    VIRTUAL_DEVICE,
    VirtualAudioDevice,
    default_audio_device,
    list_devices,
    playout_devices,
    recording_devices,
    rescan_devices,
)
from voipkit.aio.sound_card import SoundCardDevice, SoundCardError, apply_volume
from voipkit.media.frames import Pcm, dominant_frequency
from voipkit.media.ports import NullSink, ToneSource

NULL_PCM = """
pcm.voipkit_null {
    type null
    hint { show on description "voipkit test null PCM" }
}
"""
ENV_KEYS = ("HOME", "XDG_CONFIG_HOME", "ALSA_CONFIG_PATH", "JACK_DEFAULT_SERVER",
            "JACK_NO_START_SERVER", "JACK_NO_AUDIO_RESERVATION")


def _require_sounddevice() -> None:
    try:
        import sounddevice  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"the sound-card tests need the PyPI package sounddevice "
                    f"(pip install 'voipkit[audio]'): {exc}")
    except OSError as exc:
        pytest.fail(f"the sound-card tests need the Debian package libportaudio2: {exc}")


class AudioEnv:
    """A private HOME (its ``.asoundrc``) and, on request, a private JACK dummy server."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.jackd: subprocess.Popen[bytes] | None = None

    def asoundrc(self, text: str) -> None:
        (self.home / ".asoundrc").write_text(text)
        rescan_devices()

    def start_jack(self, rate: int = 48000, period: int = 960) -> None:
        jackd = shutil.which("jackd")
        if jackd is None:
            pytest.fail("the sound-card pacing test needs jackd (Debian package jackd2)")
        name = f"voipkit-test-{os.getpid()}"
        os.environ["JACK_DEFAULT_SERVER"] = name
        self.jackd = subprocess.Popen(
            [jackd, "--no-realtime", "-n", name, "-d", "dummy", "-r", str(rate),
             "-p", str(period), "-C", "1", "-P", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rescan_devices()
            if any(d.name == "system" for d in recording_devices()):
                return
            if self.jackd.poll() is not None:
                err = self.jackd.stderr.read().decode() if self.jackd.stderr else ""
                pytest.fail(f"jackd exited ({self.jackd.returncode}): {err}")
            time.sleep(0.1)
        pytest.fail("jackd's dummy backend did not appear in PortAudio's device list")

    def close(self) -> None:
        if self.jackd is not None:
            self.jackd.terminate()
            try:
                self.jackd.wait(5)
            except subprocess.TimeoutExpired:
                self.jackd.kill()
                self.jackd.wait()
            if self.jackd.stderr is not None:
                self.jackd.stderr.close()


@pytest.fixture
def audio_env(tmp_path: Path) -> Iterator[AudioEnv]:
    """No PCM but ALSA's stock ones (no card here), no JACK server; restored afterwards."""
    _require_sounddevice()
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    home = tmp_path / "home"
    home.mkdir()
    os.environ.pop("ALSA_CONFIG_PATH", None)
    os.environ.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                      JACK_DEFAULT_SERVER=f"voipkit-none-{os.getpid()}",
                      JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")
    env = AudioEnv(home)
    rescan_devices()
    try:
        yield env
    finally:
        sounddevice = importlib.import_module("sounddevice")
        sounddevice._terminate()  # PortAudio leaves the JACK server before it goes away
        env.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        sounddevice._initialize()
        rescan_devices()  # and forget the list kept from this test's environment


def _index(devices: list[audio_device.AudioDeviceInfo], name: str) -> int:
    return [d.name for d in devices].index(name)


def test_listing_finds_the_alsa_null_pcm(audio_env: AudioEnv) -> None:
    audio_env.asoundrc(NULL_PCM)
    assert "voipkit_null" in [d.name for d in recording_devices()]
    assert "voipkit_null" in [d.name for d in playout_devices()]
    listed = [d for d in list_devices() if d.name == "voipkit_null"]
    assert len(listed) == 1 and listed[0].kind == "portaudio"
    assert listed[0].index == listed[0].host_index + 1  # type: ignore[operator]


def test_alsa_null_card_opens_plays_and_releases(audio_env: AudioEnv) -> None:
    audio_env.asoundrc(NULL_PCM)
    rec = _index(recording_devices(), "voipkit_null")
    play = _index(playout_devices(), "voipkit_null")

    async def run_once(device: SoundCardDevice, frames: int) -> list[float]:
        stamps: list[float] = []
        done = asyncio.Event()

        def on_capture(frame: Pcm, at: float) -> None:
            assert len(frame) == 160 and frame.dtype == np.int16
            stamps.append(at)
            if len(stamps) == frames:
                device.stop()
                done.set()

        device.on_capture = on_capture
        device.start(at=100.0)
        await asyncio.wait_for(done.wait(), 5)
        return stamps

    async def main() -> tuple[SoundCardDevice, list[float], tuple[int, int, int], list[float]]:
        loop = asyncio.get_running_loop()
        device = SoundCardDevice(loop, recording_device=rec, playout_device=play,
                                 playout_source=ToneSource(1000.0), queue_frames=4)
        first = await run_once(device, 30)
        assert not device.running
        frozen = (device.frames_captured, device.samples_played, device.capture_overflows)
        dropped = device.frames_dropped
        await asyncio.sleep(0.1)  # no callback, no frame after stop()
        assert (device.frames_captured, device.samples_played,
                device.capture_overflows) == frozen
        assert device.frames_dropped == dropped
        second = await run_once(device, 5)  # stop() released the PCM: it opens again
        return device, first, (*frozen[:2], dropped), second

    device, first, (captured, played, dropped), second = asyncio.run(main())
    assert (device.input.name, device.input_rate, device.output_rate) == \
        ("voipkit_null", 8000, 8000)
    assert captured == 30 and len(second) == 5 and second[0] >= 100.0
    # stamps stay on the ptime grid and increase; every frame dropped on
    # PortAudio's thread (the null PCM outruns any loop) is counted and skips a stamp
    steps = [round((b - a) / 0.02, 6) for a, b in itertools.pairwise(first)]
    assert all(s >= 1 and s == int(s) for s in steps)
    skipped_stamps = round((first[0] - 100.0) / 0.02) + sum(int(s) - 1 for s in steps)
    assert skipped_stamps == dropped
    assert device.capture_overflows >= dropped
    assert device.frames_played == 35
    assert played > 0  # PortAudio took queued speaker audio from the outbox


def test_jack_dummy_capture_is_paced_by_the_card_clock(audio_env: AudioEnv) -> None:
    audio_env.start_jack(rate=48000, period=960)
    recorder = NullSink()

    async def main() -> tuple[SoundCardDevice, float, list[tuple[float, float, Pcm]]]:
        loop = asyncio.get_running_loop()
        got: list[tuple[float, float, Pcm]] = []
        done = asyncio.Event()

        def on_capture(frame: Pcm, at: float) -> None:
            got.append((loop.time(), at, frame))
            if len(got) == 50:
                device.stop()
                done.set()

        device = SoundCardDevice(
            loop, ptime=0.02, sample_rate=8000, capture=ToneSource(1000.0, -6.0),
            playout=recorder, on_capture=on_capture, playout_source=ToneSource(440.0))
        start = device.start()
        await asyncio.wait_for(done.wait(), 10)
        return device, start, got

    device, start, got = asyncio.run(main())
    assert (device.input.name, device.input_rate, device.output_rate) == ("system", 48000, 48000)
    arrivals = [t for t, _, _ in got]
    elapsed = arrivals[-1] - arrivals[0]  # 49 periods of the card's clock
    assert 0.75 < elapsed < 1.5, elapsed
    assert max(b - a for a, b in itertools.pairwise(arrivals)) < 0.2
    assert device.frames_dropped == 0 and device.capture_overflows == 0
    assert [at for _, at, _ in got] == [start + n * 0.02 for n in range(50)]
    frames = [f for _, _, f in got]
    assert all(len(f) == 160 and f.dtype == np.int16 for f in frames)
    # the dummy microphone is silent: what was sent is the capture source, at 8 kHz
    assert dominant_frequency(np.concatenate(frames), 8000) == pytest.approx(1000.0, abs=5)
    assert recorder.frames == 50 and device.frames_played == 50
    assert device.samples_played >= 30 * 960  # the speaker consumed the 48 kHz playout


def test_default_audio_device_is_the_card_when_listed(
        audio_env: AudioEnv, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    audio_env.asoundrc(NULL_PCM)
    monkeypatch.setattr(audio_device, "_announced", set())

    async def main() -> list[object]:
        loop = asyncio.get_running_loop()
        return [default_audio_device(loop, ptime=0.02, sample_rate=16000) for _ in range(2)]

    with caplog.at_level(logging.INFO, logger="voipkit.aio.audio_device"):
        devices = asyncio.run(main())
    assert all(isinstance(d, SoundCardDevice) for d in devices)
    assert [r.getMessage() for r in caplog.records] == [
        "audio device: sound card (in: voipkit_null @ 16000 Hz, out: voipkit_null @ 16000 Hz)"]


def test_no_device_at_all_gives_the_virtual_device(
        audio_env: AudioEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # ALSA's stock configuration and no card, no JACK server: PortAudio lists nothing
    assert list_devices() == [VIRTUAL_DEVICE]
    assert recording_devices() == [] and playout_devices() == []

    async def main() -> tuple[object, str]:
        loop = asyncio.get_running_loop()
        device = default_audio_device(loop, ptime=0.02, sample_rate=8000)
        with pytest.raises(SoundCardError, match="no recording device") as err:
            SoundCardDevice(loop)
        return device, str(err.value)

    device, _ = asyncio.run(main())
    assert isinstance(device, VirtualAudioDevice)


def test_sounddevice_missing_gives_the_virtual_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # the import fails

    async def main() -> object:
        loop = asyncio.get_running_loop()
        with pytest.raises(SoundCardError, match=r"sounddevice.*libportaudio2"):
            SoundCardDevice(loop)
        return default_audio_device(loop)

    assert isinstance(asyncio.run(main()), VirtualAudioDevice)


def test_device_selection_by_index(audio_env: AudioEnv) -> None:
    audio_env.asoundrc(NULL_PCM)
    count = len(recording_devices())

    async def main() -> None:
        loop = asyncio.get_running_loop()
        with pytest.raises(SoundCardError, match=f"recording device {count} does not exist"):
            SoundCardDevice(loop, recording_device=count)
        device = SoundCardDevice(loop)
        with pytest.raises(SoundCardError, match="playout device -1 does not exist"):
            device.set_devices(0, -1)
        device.start()
        device.set_devices(_index(recording_devices(), "voipkit_null"),
                           _index(playout_devices(), "voipkit_null"))
        assert device.running and device.input.name == "voipkit_null"  # reopened
        device.stop()
        with pytest.raises(ValueError, match="whole number of samples"):
            SoundCardDevice(loop, ptime=0.0201)

    asyncio.run(main())


def test_software_volume_is_a_gain_of_volume_over_255() -> None:
    frame = np.array([32767, -32768, 1000, -3, 0], dtype=np.int16)
    assert apply_volume(frame, 255) is frame
    assert apply_volume(frame, 0).tolist() == [0, 0, 0, 0, 0]
    assert apply_volume(frame, 51).tolist() == [6553, -6554, 200, -1, 0]


def test_volume_settings_are_range_checked(audio_env: AudioEnv) -> None:
    audio_env.asoundrc(NULL_PCM)

    async def main() -> None:
        device = SoundCardDevice(asyncio.get_running_loop(), mic_volume=128)
        assert (device.mic_volume, device.speaker_volume) == (128, 255)
        device.speaker_volume = 0
        assert device.speaker_volume == 0
        with pytest.raises(ValueError, match="0-255"):
            device.mic_volume = 256
        with pytest.raises(ValueError, match="0-255"):
            SoundCardDevice(asyncio.get_running_loop(), speaker_volume=-1)

    asyncio.run(main())
