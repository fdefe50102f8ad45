"""Audio devices: the clock-paced virtual device, and sound-card discovery through PortAudio.

Knows: the loop clock (through ``MediaClock``), passive media ports, and the
optional ``sounddevice`` package (PortAudio). Must not know: RTP, codecs, SIP or
calls — a device moves PCM frames between ports on a clock, nothing more.

The virtual device is the PortSIP manual's ``audioDeviceLayer = 1`` (no sound
card; the usual choice on servers): every ``ptime`` it reads one frame from a
capture source (a tone, a WAV file, silence) and hands it to ``on_capture``
with the tick's scheduled time, and writes one frame from ``playout_source``
to a playout sink (a WAV recorder, a null sink). Ticks come from a
``MediaClock``, so frame ``n`` is stamped exactly ``start + n * ptime``.

Sound cards are used only when ``sounddevice`` imports and PortAudio lists
devices; otherwise ``list_devices()`` offers the virtual device alone. The card
itself is driven by ``voipkit.aio.sound_card.SoundCardDevice``; this module
lists and selects: ``recording_devices()`` / ``playout_devices()`` are the
PortSIP manual's numbering (``getNumOfRecordingDevices``,
``getRecordingDeviceName(i)``, ``setAudioDeviceId(recording, playout)``), and
``default_audio_device(...)`` builds the card when PortAudio offers an input
and an output, the virtual device otherwise.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voipkit.aio.media_clock import MediaClock
from voipkit.media.frames import Pcm, silence
from voipkit.media.ports import MediaSink, MediaSource, NullSink, SilenceSource

logger = logging.getLogger(__name__)

CaptureHandler = Callable[[Pcm, float], None]
"""``(frame, scheduled time of the tick)``."""


class AudioDevice(Protocol):
    """What ``AudioSession`` drives: the virtual device and the sound card alike.

    ``capture`` is what is sent (the virtual device reads it; the card mixes it
    into the microphone), ``on_capture`` gets one frame per ptime with its
    time on the ptime grid, and the device then pulls one frame from
    ``playout_source`` for the speaker and writes it to ``playout``.
    """

    capture: MediaSource
    playout: MediaSink
    on_capture: CaptureHandler | None
    playout_source: MediaSource | None
    frames_captured: int
    frames_played: int

    @property
    def running(self) -> bool: ...

    @property
    def skipped(self) -> int: ...

    def start(self, at: float | None = None) -> float: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AudioDeviceInfo:
    """One audio device as offered to the application.

    Attributes:
        index: position in ``list_devices()``; the virtual device is 0, PortAudio
            device ``i`` is ``i + 1``.
        name: human-readable name.
        kind: ``"virtual"`` or ``"portaudio"``.
        max_input_channels, max_output_channels: 0 when it cannot capture / play.
        default_sample_rate: the device's preferred rate in Hz.
        host_index: PortAudio's own index (``None`` for the virtual device).
    """

    index: int
    name: str
    kind: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float
    host_index: int | None = None


MAX_VOLUME = 255
"""The manual's volume scale (setSpeakerVolume / setMicVolume): 0 silent, 255 unchanged."""


@dataclass(slots=True)
class AudioDeviceSettings:
    """What the application chose for its audio device (one per phone, shared by its calls).

    Attributes:
        recording_device: index in ``recording_devices()`` (the manual's
            ``setAudioDeviceId`` numbering); None is PortAudio's default input.
        playout_device: index in ``playout_devices()``; None is the default output.
        mic_volume: capture gain 0-255 (``setMicVolume``; 255 = the device's own level).
        speaker_volume: playout gain 0-255 (``setSpeakerVolume``).
        use_sound_card: False keeps every call on the virtual device even when
            PortAudio lists a card (the manual's ``audioDeviceLayer = 1``).
    """

    recording_device: int | None = None
    playout_device: int | None = None
    mic_volume: int = MAX_VOLUME
    speaker_volume: int = MAX_VOLUME
    use_sound_card: bool = True

    def __post_init__(self) -> None:
        check_volume(self.mic_volume)
        check_volume(self.speaker_volume)


def check_volume(volume: int) -> int:
    """``volume`` when it is an int in 0-255, else ValueError."""
    if isinstance(volume, bool) or not isinstance(volume, int) or not 0 <= volume <= MAX_VOLUME:
        raise ValueError(f"volume must be an integer 0-{MAX_VOLUME}, got {volume!r}")
    return volume


def apply_volume(frame: Pcm, volume: int) -> Pcm:
    """Scale ``frame`` by ``volume / 255`` (exact at 255, silence at 0)."""
    if volume >= MAX_VOLUME:
        return frame
    scaled = (frame.astype(np.int32) * volume) // MAX_VOLUME
    result: Pcm = scaled.astype(np.int16)
    return result


VIRTUAL_DEVICE = AudioDeviceInfo(
    index=0, name="voipkit virtual audio device", kind="virtual",
    max_input_channels=1, max_output_channels=1, default_sample_rate=8000.0)


_scanned: list[dict[str, Any]] | None = None
"""PortAudio's list as last queried (PortAudio itself fixes it until ``rescan_devices``)."""


def _portaudio_devices() -> list[dict[str, Any]]:
    """PortAudio's device list, or [] when sounddevice or PortAudio is missing.

    Queried once and kept (every call opens a device: a failed import or a
    PortAudio query per call cost a busy UAS ~7 % of its time); ``rescan_devices``
    forgets it.
    """
    return [dict(d) for d in _scan()]


def _scan() -> list[dict[str, Any]]:
    """The kept PortAudio list (queried on first use); not to be changed."""
    global _scanned
    if _scanned is None:
        _scanned = _query_portaudio()
    return _scanned


_card_found: tuple[list[dict[str, Any]], bool] | None = None
"""(the scan it was decided from, whether it lists a card that captures and one that plays)."""


def _card_available() -> bool:
    """True when the PortAudio list offers an input and an output device.

    Decided once per scan (``default_audio_device`` asks for every call, and building
    the device lists each time was measurable on a busy UAS); a rescan decides again.
    """
    global _card_found
    scanned = _scan()
    found = _card_found
    if found is None or found[0] is not scanned:
        found = _card_found = (scanned, bool(recording_devices()) and bool(playout_devices()))
    return found[1]


def _query_portaudio() -> list[dict[str, Any]]:
    try:
        sd = importlib.import_module("sounddevice")
        devices = sd.query_devices()
    except (ImportError, OSError) as exc:  # the module raises OSError without libportaudio
        logger.debug("no sound cards: %s", exc)
        return []
    except Exception as exc:  # PortAudio errors (sounddevice.PortAudioError) and the like
        logger.debug("PortAudio query failed: %s", exc)
        return []
    return [dict(d) for d in devices]


def rescan_devices() -> None:
    """Make PortAudio enumerate the devices again (a card plugged in, a new ALSA config).

    PortAudio builds its list once, when ``sounddevice`` is imported; this
    re-initialises it. No stream may be open. Does nothing without sounddevice.
    Call it while a JACK server PortAudio joined is still up: libjack aborts
    the process when PortAudio leaves a server that has gone away.
    """
    global _scanned
    _scanned = None
    try:
        sd = importlib.import_module("sounddevice")
    except (ImportError, OSError):
        return
    sd._terminate()
    sd._initialize()


def default_device(kind: str) -> AudioDeviceInfo | None:
    """PortAudio's default ``"input"`` or ``"output"`` device, or None (no card, no default)."""
    try:
        sd = importlib.import_module("sounddevice")
        index = int(sd.query_devices(kind=kind)["index"])
    except Exception:  # ImportError, OSError, PortAudioError: no default of that kind
        return None
    devices = recording_devices() if kind == "input" else playout_devices()
    for device in devices:
        if device.host_index == index:
            return device
    return None


def sounddevice_available() -> bool:
    """True when ``sounddevice`` imports and PortAudio lists at least one device."""
    return bool(_portaudio_devices())


def list_devices() -> list[AudioDeviceInfo]:
    """The virtual device first, then every PortAudio device (when there are any)."""
    found = [VIRTUAL_DEVICE]
    for i, d in enumerate(_portaudio_devices()):
        found.append(AudioDeviceInfo(
            index=i + 1, name=str(d.get("name", f"device {i}")), kind="portaudio",
            max_input_channels=int(d.get("max_input_channels", 0)),
            max_output_channels=int(d.get("max_output_channels", 0)),
            default_sample_rate=float(d.get("default_samplerate", 0.0)),
            host_index=int(d.get("index", i))))
    return found


def recording_devices() -> list[AudioDeviceInfo]:
    """The sound cards that can capture, in PortAudio's order (``getRecordingDeviceName(i)``)."""
    return [d for d in list_devices() if d.kind == "portaudio" and d.max_input_channels > 0]


def playout_devices() -> list[AudioDeviceInfo]:
    """The sound cards that can play, in PortAudio's order (``getPlayoutDeviceName(i)``)."""
    return [d for d in list_devices() if d.kind == "portaudio" and d.max_output_channels > 0]


def _no_tick(deadline: float) -> None:
    """The callback of a stopped device's clock (never called: the clock is stopped)."""


class VirtualAudioDevice:
    """A sound card made of a clock: capture from a source, playout into a sink.

    Args:
        loop: the loop whose clock paces the device.
        ptime: seconds per frame (0.02 = 20 ms).
        sample_rate: Hz of the frames moved.
        capture: the "microphone" (default: silence).
        playout: the "speaker" (default: a ``NullSink``).
        on_capture: receives each captured frame and the tick's scheduled time.
        playout_source: what to play each tick (default: silence); usually the
            conference bridge or a call's decoded audio.
        max_late: the ``MediaClock`` catch-up limit, in frames.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        ptime: float = 0.02,
        sample_rate: int = 8000,
        capture: MediaSource | None = None,
        playout: MediaSink | None = None,
        on_capture: CaptureHandler | None = None,
        playout_source: MediaSource | None = None,
        max_late: int = 3,
    ) -> None:
        samples = ptime * sample_rate
        if abs(samples - round(samples)) > 1e-9 or samples < 1:
            raise ValueError(
                f"ptime {ptime} s is not a whole number of samples at {sample_rate} Hz")
        self.ptime = ptime
        self.sample_rate = sample_rate
        self.frame_samples = round(samples)
        self.capture: MediaSource = capture if capture is not None else SilenceSource()
        self.playout: MediaSink = playout if playout is not None else NullSink()
        self.on_capture = on_capture
        self.playout_source = playout_source
        self.frames_captured = 0
        self.frames_played = 0
        # one loop timer per phase drives every call's device (see media_clock)
        self.clock = MediaClock(loop, ptime, self._tick, max_late=max_late, shared=True)

    @property
    def running(self) -> bool:
        return self.clock.running

    @property
    def skipped(self) -> int:
        """Ticks the clock dropped after a stall (``MediaClock.skipped``)."""
        return self.clock.skipped

    def start(self, at: float | None = None) -> float:
        """Start the device; the first frame is at ``at`` (default now). Returns that time."""
        self.clock.callback = self._tick
        return self.clock.start(at)

    def stop(self) -> None:
        """Stop moving frames (sources and sinks stay open; close them yourself)."""
        self.clock.stop()
        self.clock.callback = _no_tick  # no device <-> clock cycle once stopped

    def _tick(self, deadline: float) -> None:
        n, rate = self.frame_samples, self.sample_rate
        frame = self.capture.read_frame(n, rate)
        self.frames_captured += 1
        if self.on_capture is not None:
            self.on_capture(frame, deadline)
        source = self.playout_source
        out = source.read_frame(n, rate) if source is not None else silence(n)
        self.playout.write_frame(out, rate)
        self.frames_played += 1


_announced: set[str] = set()


def default_audio_device(
    loop: asyncio.AbstractEventLoop,
    *,
    ptime: float = 0.02,
    sample_rate: int = 8000,
    capture: MediaSource | None = None,
    playout: MediaSink | None = None,
    on_capture: CaptureHandler | None = None,
    playout_source: MediaSource | None = None,
    max_late: int = 3,
    settings: AudioDeviceSettings | None = None,
) -> AudioDevice:
    """The sound card when PortAudio offers one, else the virtual device.

    The card (``SoundCardDevice`` on PortAudio's default input and output) is
    chosen when ``sounddevice`` imports and PortAudio lists at least one device
    that captures and one that plays; otherwise a ``VirtualAudioDevice`` (the
    manual's ``audioDeviceLayer = 1``). The choice is logged at INFO once per
    kind. Arguments are ``VirtualAudioDevice``'s; ``max_late`` applies to the
    virtual device only (a card is paced by its own clock). ``settings`` picks
    the card's devices and volumes, or (``use_sound_card=False``) the virtual device.
    """
    use_card = settings is None or settings.use_sound_card
    if use_card and _card_available():
        from voipkit.aio.sound_card import SoundCardDevice  # it imports this module

        chosen = settings if settings is not None else AudioDeviceSettings()
        card = SoundCardDevice(loop, ptime=ptime, sample_rate=sample_rate, capture=capture,
                               playout=playout, on_capture=on_capture,
                               playout_source=playout_source,
                               recording_device=chosen.recording_device,
                               playout_device=chosen.playout_device,
                               mic_volume=chosen.mic_volume,
                               speaker_volume=chosen.speaker_volume)
        _announce("sound card", f"audio device: sound card ({card.describe()})")
        return card
    _announce("virtual", "audio device: the virtual device (PortAudio lists no input "
              "and output, or sounddevice/libportaudio2 is missing)")
    return VirtualAudioDevice(loop, ptime=ptime, sample_rate=sample_rate, capture=capture,
                              playout=playout, on_capture=on_capture,
                              playout_source=playout_source, max_late=max_late)


def _announce(kind: str, message: str) -> None:
    if kind not in _announced:
        _announced.add(kind)
        logger.info("%s", message)


__all__ = [
    "MAX_VOLUME",
    "VIRTUAL_DEVICE",
    "AudioDevice",
    "AudioDeviceInfo",
    "AudioDeviceSettings",
    "CaptureHandler",
    "VirtualAudioDevice",
    "apply_volume",
    "check_volume",
    "default_audio_device",
    "default_device",
    "list_devices",
    "playout_devices",
    "recording_devices",
    "rescan_devices",
    "sounddevice_available",
]
