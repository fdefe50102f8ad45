"""The facade's audio device functions, on the virtual device and on real PortAudio devices.

Proves, through the vendor-shaped facade:
- audioDeviceLayer 1 (the virtual device): one recording and one playout device, named
  (index 0 and -1, the default); other indices, buffers under 128 bytes and
  setAudioDeviceId other than (0, 0) are INVALID_ARGUMENT; volumes start at 255, read
  back what was set, and refuse values outside 0-255;
- setMicVolume(64) lowers what the peer receives of the microphone by 20*log10(64/255)
  (-12.0 dB, within 0.5 dB) in a running call; setSpeakerVolume(128) lowers what the
  speaker plays by -6.0 dB while the peer's audio (onAudioRawCallback) is unchanged;
- audioPlayLoopbackTest(true) plays each microphone frame on the speaker in the tick that
  captured it (sample-exact, both volumes applied); (false) stops it;
- audioDeviceLayer 0 with ALSA's null PCM: the lists are PortAudio's devices in its
  order, by name; with a JACK dummy server: setAudioDeviceId picks the JACK device for
  a call's card, setMicVolume/setSpeakerVolume/muteMicrophone change the running
  card's gains at once, and the loopback test runs on the card's clock;
- without initialize: NOT_INITIALIZED.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pytest
from tests.aio.test_sound_card import NULL_PCM, AudioEnv, audio_env  # noqa: F401
from tests.compat.conftest import Recorder, sip_port, start

from voipkit.aio import audio_device
from voipkit.aio.sound_card import SoundCardDevice
from voipkit.api import devices
from voipkit.compat.portsip import (
    DIRECTION_MODE,
    ErrorCode,
    PortSIPLib,
    SIPCallbackEvents,
    StringBuilder,
)
from voipkit.media.frames import Pcm, dominant_frequency, level_dbfs
from voipkit.media.ports import ToneSource

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
T = TypeVar("T")
RECV = int(DIRECTION_MODE.DIRECTION_RECV)
VIRTUAL = "voipkit virtual audio device"


def _on_loop(lib: PortSIPLib, fn: Callable[[], T]) -> T:
    phone = lib.phone
    assert phone is not None
    result: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            result.set_result(fn())
        except Exception as exc:  # pragma: no cover - reported by result()
            result.set_exception(exc)

    phone.loop.call_soon_threadsafe(run)
    return result.result(5)


class _Collect:
    """A sink that keeps frames and lets a thread wait for the n-th."""

    def __init__(self) -> None:
        self.frames: list[Pcm] = []
        self._cond = threading.Condition()

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        with self._cond:
            self.frames.append(frame.copy())
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = 5.0) -> list[Pcm]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.frames) >= count, timeout), \
                f"{len(self.frames)} frames, wanted {count}"
            return list(self.frames)


def _connect(pair: Pair) -> tuple[int, int]:
    caller, caller_events, callee, callee_events = pair
    callee_events.hooks["onInviteIncoming"] = lambda sid, *rest: callee.answerCall(sid, False)
    sid = caller.call(f"sip:bob@127.0.0.1:{sip_port(callee)}", True, False)
    assert sid > 0
    caller_events.wait("onInviteConnected", lambda a: a == (sid,))
    callee_sid: int = callee_events.wait("onInviteConnected")[0]
    return sid, callee_sid


def _call_audio(lib: PortSIPLib, sid: int) -> Any:
    call = lib.phone.call_by_id(sid) if lib.phone is not None else None
    assert call is not None and call.audio is not None
    return call.audio


def _received_level(events: Recorder, after: int, frames: int = 25) -> float:
    """The level of ``frames`` frames the callee played after the ``after``-th one."""
    events.wait("onAudioRawCallback", count=after + frames)
    with events._cond:
        got = [a[2] for n, a in events.seen if n == "onAudioRawCallback"]
    pcm = np.frombuffer(b"".join(got[after:after + frames]), dtype="<i2")
    return level_dbfs(pcm)


def _received(events: Recorder) -> int:
    with events._cond:
        return sum(1 for n, _ in events.seen if n == "onAudioRawCallback")


def test_virtual_device_lists_names_and_volumes(pair: Pair) -> None:
    alice = pair[0]
    assert alice.getNumOfRecordingDevices() == 1
    assert alice.getNumOfPlayoutDevices() == 1
    for get in (alice.getRecordingDeviceName, alice.getPlayoutDeviceName):
        for index in (0, -1):
            name = StringBuilder()
            assert get(index, name, 128) == 0 and str(name) == VIRTUAL
        assert get(1, StringBuilder(), 128) == ErrorCode.INVALID_ARGUMENT
        assert get(-2, StringBuilder(), 128) == ErrorCode.INVALID_ARGUMENT
        assert get(0, StringBuilder(), 64) == ErrorCode.INVALID_ARGUMENT
    assert alice.setAudioDeviceId(0, 0) == 0
    assert alice.setAudioDeviceId(1, 0) == ErrorCode.INVALID_ARGUMENT
    assert alice.setAudioDeviceId(0, -1) == ErrorCode.INVALID_ARGUMENT
    assert alice.getSpeakerVolume() == 255 and alice.getMicVolume() == 255
    assert alice.setSpeakerVolume(128) == 0 and alice.getSpeakerVolume() == 128
    assert alice.setMicVolume(0) == 0 and alice.getMicVolume() == 0
    for bad in (-1, 256, True):
        assert alice.setSpeakerVolume(bad) == ErrorCode.INVALID_ARGUMENT
        assert alice.setMicVolume(bad) == ErrorCode.INVALID_ARGUMENT
    assert alice.getSpeakerVolume() == 128 and alice.getMicVolume() == 0


def test_not_initialized() -> None:
    lib = PortSIPLib(SIPCallbackEvents())
    assert lib.getNumOfRecordingDevices() == ErrorCode.NOT_INITIALIZED
    assert lib.getNumOfPlayoutDevices() == ErrorCode.NOT_INITIALIZED
    assert lib.getRecordingDeviceName(0, StringBuilder(), 128) == ErrorCode.NOT_INITIALIZED
    assert lib.setAudioDeviceId(0, 0) == ErrorCode.NOT_INITIALIZED
    assert lib.setSpeakerVolume(1) == ErrorCode.NOT_INITIALIZED
    assert lib.getMicVolume() == ErrorCode.NOT_INITIALIZED
    assert lib.audioPlayLoopbackTest(True) == ErrorCode.NOT_INITIALIZED


def test_volumes_change_a_running_call_on_the_virtual_device(pair: Pair) -> None:
    alice, _, bob, bob_events = pair
    sid, bob_sid = _connect(pair)
    _on_loop(alice, lambda: setattr(_call_audio(alice, sid), "microphone",
                                    ToneSource(440.0, -10.0)))
    speaker = _Collect()
    _on_loop(bob, lambda: setattr(_call_audio(bob, bob_sid), "speaker", speaker))
    assert bob.enableAudioStreamCallback(bob_sid, True, RECV) == 0
    full = _received_level(bob_events, after=10)
    assert full == pytest.approx(-10.0, abs=0.5)
    assert alice.setMicVolume(64) == 0
    lowered = _received_level(bob_events, after=_received(bob_events) + 5)
    assert lowered - full == pytest.approx(20 * math.log10(64 / 255), abs=0.5)
    assert alice.setMicVolume(255) == 0
    assert _received_level(bob_events, after=_received(bob_events) + 5) == \
        pytest.approx(full, abs=0.3)
    # the speaker: 128/255 of what is received; the received audio itself unchanged
    assert bob.setSpeakerVolume(128) == 0
    marker = len(speaker.frames)
    played = speaker.wait(marker + 30)[marker + 5:marker + 30]
    level = level_dbfs(np.concatenate(played))
    assert level - full == pytest.approx(20 * math.log10(128 / 255), abs=0.5)
    assert _received_level(bob_events, after=_received(bob_events)) == \
        pytest.approx(full, abs=0.3)


def test_loopback_test_on_the_virtual_device(pair: Pair) -> None:
    alice = pair[0]
    assert alice.setMicVolume(128) == 0
    assert alice.setSpeakerVolume(128) == 0
    speaker = _Collect()
    phone = alice.phone
    assert phone is not None
    test = _on_loop(alice, lambda: devices.start_loopback_test(
        phone, capture=ToneSource(700.0, -6.0), playout=speaker))
    frames = speaker.wait(30)
    source = ToneSource(700.0, -6.0)  # the first frames, as captured
    expected = [(source.read_frame(160, 8000).astype(np.int32) * 128 // 255) * 128 // 255
                for _ in range(3)]
    assert all(np.array_equal(f, e) for f, e in zip(frames[:3], expected, strict=True))
    tone = np.concatenate(frames[5:30])
    assert dominant_frequency(tone, 8000) == pytest.approx(700.0, abs=10)
    assert level_dbfs(tone) == pytest.approx(-6.0 + 40 * math.log10(128 / 255), abs=0.5)
    assert alice.audioPlayLoopbackTest(False) == 0
    assert not test.device.running and devices.LoopbackTest.running(phone) is None
    assert alice.audioPlayLoopbackTest(True) == 0  # the facade's own, silent microphone
    assert devices.LoopbackTest.running(phone) is not None
    assert alice.audioPlayLoopbackTest(False) == 0
    assert devices.LoopbackTest.running(phone) is None


def _card_pair(env: AudioEnv) -> tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]:
    alice_events, bob_events = Recorder(), Recorder()
    alice, bob = PortSIPLib(alice_events), PortSIPLib(bob_events)
    assert start(alice, audioDeviceLayer=0) == 0
    assert start(bob) == 0  # the callee stays on the virtual device
    assert alice.setUser("alice", "", "", "", "", "", 0, "", 0, "", 0) == 0
    assert bob.setUser("bob", "", "", "", "", "", 0, "", 0, "", 0) == 0
    return alice, alice_events, bob, bob_events


def test_layer_0_lists_the_portaudio_devices(audio_env: AudioEnv) -> None:  # noqa: F811
    audio_env.asoundrc(NULL_PCM)
    alice, _, bob, _ = _card_pair(audio_env)
    try:
        inputs = [d.name for d in audio_device.recording_devices()]
        outputs = [d.name for d in audio_device.playout_devices()]
        assert "voipkit_null" in inputs and "voipkit_null" in outputs
        assert alice.getNumOfRecordingDevices() == len(inputs)
        assert alice.getNumOfPlayoutDevices() == len(outputs)
        names = []
        for i in range(len(inputs)):
            name = StringBuilder()
            assert alice.getRecordingDeviceName(i, name, 256) == 0
            names.append(str(name))
        assert names == inputs
        name = StringBuilder()
        assert alice.getPlayoutDeviceName(outputs.index("voipkit_null"), name, 128) == 0
        assert str(name) == "voipkit_null"
        assert alice.getPlayoutDeviceName(len(outputs), name, 128) == \
            ErrorCode.INVALID_ARGUMENT
        assert alice.setAudioDeviceId(len(inputs), 0) == ErrorCode.INVALID_ARGUMENT
        # layer 1 keeps the virtual device even though PortAudio lists cards
        assert bob.getNumOfRecordingDevices() == 1
        assert bob.getRecordingDeviceName(0, name, 128) == 0 and str(name) == VIRTUAL
    finally:
        alice.unInitialize()
        bob.unInitialize()


def test_layer_0_call_and_loopback_on_a_jack_card(audio_env: AudioEnv) -> None:  # noqa: F811
    audio_env.start_jack(rate=48000, period=960)
    alice, alice_events, bob, bob_events = _card_pair(audio_env)
    try:
        system = [d.name for d in audio_device.recording_devices()].index("system")
        out = [d.name for d in audio_device.playout_devices()].index("system")
        assert alice.setAudioDeviceId(system, out) == 0
        assert alice.setMicVolume(100) == 0
        sid, _ = _connect((alice, alice_events, bob, bob_events))
        card = _on_loop(alice, lambda: _call_audio(alice, sid)._device)
        assert isinstance(card, SoundCardDevice) and card.running
        assert card.input.name == "system" and card.chosen == (system, out)
        assert (card.mic_volume, card.speaker_volume) == (100, 255)
        assert alice.setMicVolume(50) == 0 and card.mic_volume == 50
        assert alice.setSpeakerVolume(30) == 0 and card.speaker_volume == 30
        assert alice.muteMicrophone(True) == 0 and card.mic_volume == 0
        assert alice.muteMicrophone(False) == 0 and card.mic_volume == 50
        assert alice.hangUp(sid) == 0
        bob_events.wait("onInviteClosed")
        _on_loop(alice, lambda: None)
        assert not card.running

        speaker = _Collect()
        phone = alice.phone
        assert phone is not None
        test = _on_loop(alice, lambda: devices.start_loopback_test(
            phone, capture=ToneSource(1000.0, -6.0), playout=speaker))
        assert isinstance(test.device, SoundCardDevice)
        frames = speaker.wait(40)
        tone = np.concatenate(frames[5:40])
        assert dominant_frequency(tone, 8000) == pytest.approx(1000.0, abs=10)
        assert alice.audioPlayLoopbackTest(False) == 0
        assert not test.device.running
        assert test.device.samples_played > 0  # the card's speaker took the loopback
    finally:
        alice.unInitialize()
        bob.unInitialize()
