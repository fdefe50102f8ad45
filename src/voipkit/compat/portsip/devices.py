"""The manual's audio "Device Manage functions" of ``PortSIPLib``.

Knows: ``voipkit.api.devices`` (device lists, settings, volumes, loopback test).
Must not know: anything below ``api``. ``PortSIPLib`` inherits ``DeviceFunctions``.

Which devices: ``initialize(..., audioDeviceLayer, ...)`` 0 uses the sound cards
PortAudio lists (the virtual device when it lists none), 1 always the virtual
device (a server). The device lists are what calls would use: the cards, or the
virtual device alone at index 0. Volumes are 0-255 software gains (255 leaves
the device's level as the system set it). Video devices belong to the video functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from voipkit.api import Phone, devices
from voipkit.api.errors import ConfigurationError
from voipkit.compat.portsip.codes import ErrorCode

logger = logging.getLogger(__name__)

MIN_NAME_BUFFER = 128
"The manual: ``nameUTF8Length`` \"cannot be less than 128\"."


class _Buffer(Protocol):
    value: str


class DeviceFunctions:
    """Audio device functions of the manual, mixed into ``PortSIPLib``."""

    if TYPE_CHECKING:  # provided by PortSIPLib
        def _call(self, fn: Callable[..., Coroutine[Any, Any, int]], *args: Any,
                  timeout: float = 30.0) -> int: ...
        def _require_phone(self) -> Phone: ...
        def _on_phone(self, action: Callable[[Phone], object]) -> int: ...

    @staticmethod
    def _configure_devices(phone: Phone, audio_layer: int) -> None:
        """``initialize``'s audioDeviceLayer: 0 the sound cards, 1 the virtual device."""
        if audio_layer not in (0, 1) or isinstance(audio_layer, bool):
            raise ConfigurationError(
                f"audioDeviceLayer {audio_layer!r} is not 0 (the sound cards) or 1 (the "
                "virtual device)")
        devices.settings_of(phone).use_sound_card = audio_layer == 0

    async def _query(self, fn: Callable[[Phone], int]) -> int:
        return fn(self._require_phone())

    def getNumOfRecordingDevices(self) -> int:
        """How many devices calls can capture from (at least 1: the virtual device)."""
        return self._call(self._query, lambda phone: len(devices.recording_devices(phone)))

    def getNumOfPlayoutDevices(self) -> int:
        """How many devices calls can play to (at least 1: the virtual device)."""
        return self._call(self._query, lambda phone: len(devices.playout_devices(phone)))

    def getRecordingDeviceName(self, deviceIndex: int, nameUTF8: _Buffer,
                               nameUTF8Length: int) -> int:
        """The name of recording device ``deviceIndex`` (-1: the default one)."""
        return self._call(self._query, lambda phone: _name(
            "getRecordingDeviceName", devices.recording_devices(phone),
            devices.default_recording_device(phone).name, deviceIndex, nameUTF8,
            nameUTF8Length))

    def getPlayoutDeviceName(self, deviceIndex: int, nameUTF8: _Buffer,
                             nameUTF8Length: int) -> int:
        """The name of playout device ``deviceIndex`` (-1: the default one)."""
        return self._call(self._query, lambda phone: _name(
            "getPlayoutDeviceName", devices.playout_devices(phone),
            devices.default_playout_device(phone).name, deviceIndex, nameUTF8,
            nameUTF8Length))

    def setAudioDeviceId(self, recordingDeviceId: int, playoutDeviceId: int) -> int:
        """Use these devices (indices from the two lists) for calls; a running call's
        card reopens on them."""
        return self._on_phone(lambda phone: devices.set_device_ids(
            phone, recordingDeviceId, playoutDeviceId))

    def setSpeakerVolume(self, volume: int) -> int:
        """The speaker level, 0-255, for every call and the loopback test."""
        return self._on_phone(lambda phone: devices.set_speaker_volume(phone, volume))

    def getSpeakerVolume(self) -> int:
        """The speaker level, 0-255."""
        return self._call(self._query,
                          lambda phone: devices.settings_of(phone).speaker_volume)

    def setMicVolume(self, volume: int) -> int:
        """The microphone level, 0-255, for every call and the loopback test."""
        return self._on_phone(lambda phone: devices.set_mic_volume(phone, volume))

    def getMicVolume(self) -> int:
        """The microphone level, 0-255."""
        return self._call(self._query, lambda phone: devices.settings_of(phone).mic_volume)

    def audioPlayLoopbackTest(self, enable: bool) -> int:
        """Play the microphone on the speaker (true) until called with false (the
        manual's ``void``: 0 or a negative code; false with no test running is 0)."""
        if enable:
            return self._on_phone(lambda phone: devices.start_loopback_test(phone))
        return self._on_phone(devices.stop_loopback_test)


def _name(what: str, found: list[devices.AudioDeviceInfo], default: str, index: int,
          buffer: _Buffer, size: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not -1 <= index < len(found):
        logger.info("%s: no device %r (there are %d)", what, index, len(found))
        return ErrorCode.INVALID_ARGUMENT
    if isinstance(size, bool) or not isinstance(size, int) or size < MIN_NAME_BUFFER:
        logger.info("%s: nameUTF8Length %r is less than %d", what, size, MIN_NAME_BUFFER)
        return ErrorCode.INVALID_ARGUMENT
    name = default if index == -1 else found[index].name
    if len(name.encode("utf-8")) + 1 > size:
        logger.info("%s: the name %r does not fit %d bytes", what, name, size)
        return ErrorCode.BUFFER_TOO_SMALL
    buffer.value = name
    return 0


__all__ = ["DeviceFunctions"]
