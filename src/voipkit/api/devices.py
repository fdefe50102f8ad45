"""A phone's audio devices: which ones, their volumes, and the loopback test.

Knows: ``aio.audio_device`` (PortAudio's device lists, ``AudioDeviceSettings``,
``default_audio_device``, the volume gain) and the phone's calls (to apply a
change to their running audio). Must not know: SIP, SDP, sockets, RTP.

PortSIP names (the manual, "Device Manage functions"):
``getNumOfRecordingDevices`` / ``getRecordingDeviceName(i)`` are
``recording_devices(phone)``; ``getNumOfPlayoutDevices`` /
``getPlayoutDeviceName(i)`` are ``playout_devices(phone)`` (index -1 is the
default device: ``default_recording_device`` / ``default_playout_device``);
``setAudioDeviceId`` is ``set_device_ids``; ``setSpeakerVolume`` /
``getSpeakerVolume`` and ``setMicVolume`` / ``getMicVolume`` are
``set_speaker_volume`` / ``settings_of(phone).speaker_volume`` and the mic pair;
``audioPlayLoopbackTest`` is ``start_loopback_test`` / ``stop_loopback_test``.

Which devices. When the phone may use sound cards (``use_sound_card``, the
manual's ``audioDeviceLayer = 0``) and PortAudio lists cards, the lists are the
cards (inputs and outputs, PortAudio's order); otherwise both lists hold the
virtual device alone, at index 0. Volumes are software gains (``volume / 255``)
on the card's samples, or on the virtual device's microphone source and speaker
sink; a change applies at once to every call's audio.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, ClassVar

from voipkit.aio import audio_device
from voipkit.aio.audio_device import (
    VIRTUAL_DEVICE,
    AudioDevice,
    AudioDeviceInfo,
    AudioDeviceSettings,
    apply_volume,
    check_volume,
    default_audio_device,
)
from voipkit.aio.sound_card import SoundCardError
from voipkit.api.errors import ConfigurationError, DeviceError
from voipkit.media.frames import Pcm, silence
from voipkit.media.ports import MediaSink, MediaSource, SilenceSource

if TYPE_CHECKING:
    from voipkit.api.phone import Phone

_settings: weakref.WeakKeyDictionary[Phone, AudioDeviceSettings] = weakref.WeakKeyDictionary()


def settings_of(phone: Phone) -> AudioDeviceSettings:
    """The phone's device settings (shared by its calls' audio sessions)."""
    found = _settings.get(phone)
    if found is None:
        found = _settings[phone] = AudioDeviceSettings()
    return found


def _cards(phone: Phone) -> bool:
    return settings_of(phone).use_sound_card and bool(
        audio_device.recording_devices() and audio_device.playout_devices())


def recording_devices(phone: Phone) -> list[AudioDeviceInfo]:
    """The devices calls can capture from: the cards, or the virtual device alone."""
    return audio_device.recording_devices() if _cards(phone) else [VIRTUAL_DEVICE]


def playout_devices(phone: Phone) -> list[AudioDeviceInfo]:
    """The devices calls can play to: the cards, or the virtual device alone."""
    return audio_device.playout_devices() if _cards(phone) else [VIRTUAL_DEVICE]


def default_recording_device(phone: Phone) -> AudioDeviceInfo:
    """PortAudio's default input (the first card when it names none), or the virtual device."""
    if not _cards(phone):
        return VIRTUAL_DEVICE
    return audio_device.default_device("input") or audio_device.recording_devices()[0]


def default_playout_device(phone: Phone) -> AudioDeviceInfo:
    """PortAudio's default output (the first card when it names none), or the virtual device."""
    if not _cards(phone):
        return VIRTUAL_DEVICE
    return audio_device.default_device("output") or audio_device.playout_devices()[0]


def set_device_ids(phone: Phone, recording: int, playout: int) -> None:
    """setAudioDeviceId: the devices (indices of the two lists) calls use from now on;
    a running call's card reopens on them.

    Raises:
        ConfigurationError: an index outside its list.
    """
    inputs, outputs = recording_devices(phone), playout_devices(phone)
    for what, index, found in (("recording", recording, inputs),
                               ("playout", playout, outputs)):
        if isinstance(index, bool) or not isinstance(index, int) \
                or not 0 <= index < len(found):
            raise ConfigurationError(
                f"{what} device {index!r} does not exist (there are {len(found)}: "
                f"{', '.join(d.name for d in found)})")
    settings = settings_of(phone)
    if _cards(phone):
        settings.recording_device, settings.playout_device = recording, playout
    else:
        settings.recording_device = settings.playout_device = None
    _apply(phone)


def set_speaker_volume(phone: Phone, volume: int) -> None:
    """setSpeakerVolume: playout gain 0-255 (255: the device's own level) for every call.

    Raises:
        ConfigurationError: not an integer 0-255.
    """
    settings_of(phone).speaker_volume = _volume(volume)
    _apply(phone)


def set_mic_volume(phone: Phone, volume: int) -> None:
    """setMicVolume: capture gain 0-255 (255: the device's own level) for every call.

    Raises:
        ConfigurationError: not an integer 0-255.
    """
    settings_of(phone).mic_volume = _volume(volume)
    _apply(phone)


def _volume(volume: int) -> int:
    try:
        return check_volume(volume)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _apply(phone: Phone) -> None:
    """Give every running call (and the loopback test) the phone's settings now.

    Raises:
        DeviceError: a card could not be reopened on the chosen devices.
    """
    settings = settings_of(phone)
    try:
        for call in phone.calls.values():
            audio = call.audio
            if audio is not None and not audio.closed:
                audio.device_settings = settings
                audio.apply_device_settings()
        test = LoopbackTest.running(phone)
        if test is not None:
            test.apply_settings()
    except SoundCardError as exc:
        raise DeviceError(str(exc)) from exc


# --- audioPlayLoopbackTest ------------------------------------------------------------------


class LoopbackTest:
    """The device's microphone played back on its speaker, in the tick that captured it.

    On a card, the card's own gains apply; on the virtual device the microphone
    is ``capture`` (silence by default) and the speaker ``playout`` (nothing by
    default), with the phone's volumes applied here.

    Attributes:
        device: the running audio device.
        frames: frames looped back so far.
    """

    _of_phone: ClassVar[weakref.WeakKeyDictionary[Phone, LoopbackTest]] = \
        weakref.WeakKeyDictionary()

    def __init__(self, phone: Phone, *, capture: MediaSource | None, playout: MediaSink | None,
                 sample_rate: int, ptime: float) -> None:
        self.phone = phone
        self._settings = settings_of(phone)
        self._last: Pcm | None = None
        self.frames = 0
        self.device: AudioDevice = default_audio_device(
            phone.loop, ptime=ptime, sample_rate=sample_rate,
            capture=capture if capture is not None else SilenceSource(),
            playout=_Speaker(self, playout), on_capture=self._captured,
            playout_source=_Played(self), settings=self._settings)
        self._card = hasattr(self.device, "mic_volume")

    @classmethod
    def running(cls, phone: Phone) -> LoopbackTest | None:
        return cls._of_phone.get(phone)

    def _captured(self, frame: Pcm, deadline: float) -> None:
        if not self._card:
            frame = apply_volume(frame, self._settings.mic_volume)
        self._last = frame
        self.frames += 1

    def _played(self, samples: int) -> Pcm:
        frame, self._last = self._last, None
        return frame if frame is not None and len(frame) == samples else silence(samples)

    def apply_settings(self) -> None:
        device = self.device
        if self._card:
            setattr(device, "mic_volume", self._settings.mic_volume)  # noqa: B010
            setattr(device, "speaker_volume", self._settings.speaker_volume)  # noqa: B010

    def stop(self) -> None:
        self.device.stop()
        if LoopbackTest._of_phone.get(self.phone) is self:
            del LoopbackTest._of_phone[self.phone]


class _Played:
    def __init__(self, test: LoopbackTest) -> None:
        self._test = test

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        return self._test._played(samples)


class _Speaker:
    def __init__(self, test: LoopbackTest, sink: MediaSink | None) -> None:
        self._test = test
        self._sink = sink

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        if self._sink is None:
            return
        if not self._test._card:
            frame = apply_volume(frame, self._test._settings.speaker_volume)
        self._sink.write_frame(frame, sample_rate)


def start_loopback_test(phone: Phone, *, capture: MediaSource | None = None,
                        playout: MediaSink | None = None, sample_rate: int = 8000,
                        ptime: float = 0.02) -> LoopbackTest:
    """audioPlayLoopbackTest(true): play the microphone on the speaker until stopped.

    A test already running is stopped first.

    Raises:
        InvalidStateError: the phone is not started.
        DeviceError: the card cannot be opened.
    """
    stop_loopback_test(phone)
    try:
        test = LoopbackTest(phone, capture=capture, playout=playout, sample_rate=sample_rate,
                            ptime=ptime)
        test.device.start()
    except SoundCardError as exc:
        raise DeviceError(str(exc)) from exc
    LoopbackTest._of_phone[phone] = test
    return test


def stop_loopback_test(phone: Phone) -> bool:
    """audioPlayLoopbackTest(false); False when no test was running."""
    test = LoopbackTest.running(phone)
    if test is None:
        return False
    test.stop()
    return True


__all__ = [
    "AudioDeviceInfo",
    "LoopbackTest",
    "default_playout_device",
    "default_recording_device",
    "playout_devices",
    "recording_devices",
    "set_device_ids",
    "set_mic_volume",
    "set_speaker_volume",
    "settings_of",
    "start_loopback_test",
    "stop_loopback_test",
]
