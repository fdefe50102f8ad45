"""A real sound card as an audio device: capture and playout through PortAudio.

Knows: the optional ``sounddevice`` package (PortAudio; Debian ``libportaudio2``),
PortAudio's callback thread, the loop (``call_soon_threadsafe``), the passive
media ports and ``voipkit.media.frames`` (resampling, mixing). Must not know:
RTP, codecs, SIP or calls — like ``VirtualAudioDevice`` it moves PCM frames.

``SoundCardDevice`` has ``VirtualAudioDevice``'s surface (``capture``,
``playout``, ``on_capture``, ``playout_source``, ``start``/``stop``,
``running``, ``skipped``), so ``AudioSession`` can drive either. The card's
own clock paces it: each ptime of microphone audio makes one "tick" on the loop.

Threads. PortAudio calls ``_on_input`` / ``_on_output`` on its own thread.
They never block and never call into the loop's objects: the input callback
copies the samples into a bounded inbox (a ``deque``; appends and pops are
atomic) and wakes the loop with ``loop.call_soon_threadsafe``; when
``queue_frames`` chunks are already waiting, the chunk is dropped and counted
in ``capture_overflows``. The output callback takes samples from a bounded
outbox that the loop fills, and plays silence when it is empty (counted in
``playout_underruns``); the loop drops what does not fit in the outbox
(``playout_overflows``).

A tick on the loop (one per ``ptime`` of captured audio): the microphone chunk
gets the mic gain, is resampled from the device rate to the call rate
(``StreamingResampler``), is mixed with ``capture`` (a file played into the call;
the default ``SilenceSource`` leaves the microphone alone), and is handed to
``on_capture`` with its time ``start + n * ptime`` (``n`` counts dropped frames
too, so stamps follow the card's clock). Then one frame is read from
``playout_source``, written to ``playout`` (a recorder) and, with the speaker
gain and resampled to the device rate, queued for the speaker.

Volume. ``mic_volume`` and ``speaker_volume`` (the manual's
``setMicVolume``/``setSpeakerVolume``, 0-255) are software gains applied to the
samples: ``volume / 255``, so 255 is the card's own level and 0 is silence. The
OS mixer (ALSA mixer, PulseAudio, CoreAudio) is not reachable through PortAudio,
so the hardware level is left as the system set it.
"""

from __future__ import annotations

import asyncio
import collections
import importlib
import logging
from typing import Any

import numpy as np

from voipkit.aio.audio_device import (
    MAX_VOLUME,
    AudioDeviceInfo,
    CaptureHandler,
    apply_volume,
    check_volume,
    playout_devices,
    recording_devices,
)
from voipkit.base.errors import VoipkitError
from voipkit.media.frames import Pcm, StreamingResampler, mix, silence
from voipkit.media.ports import MediaSink, MediaSource, NullSink, SilenceSource

logger = logging.getLogger(__name__)



class SoundCardError(VoipkitError):
    """The sound card cannot be used: no such device, sounddevice/PortAudio missing, open failed."""


def _sounddevice() -> Any:
    try:
        return importlib.import_module("sounddevice")
    except (ImportError, OSError) as exc:  # OSError: the module is there, libportaudio is not
        raise SoundCardError(
            "sound cards need the sounddevice package (pip install 'voipkit[audio]') "
            f"and the system PortAudio (Debian libportaudio2): {exc}") from exc


_check_volume = check_volume


def _pick(devices: list[AudioDeviceInfo], index: int | None, default_host: int | None,
          what: str) -> AudioDeviceInfo:
    if not devices:
        raise SoundCardError(f"PortAudio lists no {what} device")
    if index is None:
        for d in devices:
            if d.host_index == default_host:
                return d
        return devices[0]
    if not 0 <= index < len(devices):
        raise SoundCardError(
            f"{what} device {index} does not exist (PortAudio lists {len(devices)})")
    return devices[index]


class SoundCardDevice:
    """Capture from a microphone and play to a speaker through PortAudio (int16 mono).

    Args:
        loop: the loop that receives the frames (``on_capture`` runs on it).
        ptime: seconds per frame handed to ``on_capture``.
        sample_rate: the call's rate; the card runs at this rate when it
            supports it, otherwise at its default rate with resampling both ways.
        capture: mixed into the microphone (a file or tone played into the
            call); default ``SilenceSource`` (the microphone alone).
        playout: also written with every frame played (a recorder); default ``NullSink``.
        on_capture: receives each captured frame and its time on the ptime grid.
        playout_source: what the speaker plays (default silence).
        recording_device: index in ``recording_devices()`` (the manual's
            ``setAudioDeviceId`` numbering); None is PortAudio's default input.
        playout_device: index in ``playout_devices()``; None is the default output.
        queue_frames: ptimes of audio that may wait between the threads, each way.
        mic_volume, speaker_volume: software gains, 0-255 (255 = unchanged).

    Raises:
        SoundCardError: sounddevice/PortAudio missing, or no such device.
        ValueError: ptime is not a whole number of samples, or a volume is out of range.
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
        recording_device: int | None = None,
        playout_device: int | None = None,
        queue_frames: int = 8,
        mic_volume: int = MAX_VOLUME,
        speaker_volume: int = MAX_VOLUME,
    ) -> None:
        samples = ptime * sample_rate
        if abs(samples - round(samples)) > 1e-9 or samples < 1:
            raise ValueError(
                f"ptime {ptime} s is not a whole number of samples at {sample_rate} Hz")
        if queue_frames < 1:
            raise ValueError(f"queue_frames must be at least 1, got {queue_frames}")
        self._sd = _sounddevice()
        self.loop = loop
        self.ptime = ptime
        self.sample_rate = sample_rate
        self.frame_samples = round(samples)
        self.queue_frames = queue_frames
        self.capture: MediaSource = capture if capture is not None else SilenceSource()
        self.playout: MediaSink = playout if playout is not None else NullSink()
        self.on_capture = on_capture
        self.playout_source = playout_source
        self._mic_volume = _check_volume(mic_volume)
        self._speaker_volume = _check_volume(speaker_volume)
        self._streams: list[Any] = []
        self.input: AudioDeviceInfo
        self.output: AudioDeviceInfo
        self.set_devices(recording_device, playout_device)
        self.frames_captured = 0
        self.frames_played = 0
        self.frames_dropped = 0
        "Capture frames lost to ``capture_overflows`` (they still advance the stamps)."
        self.capture_overflows = 0
        "Microphone chunks dropped on PortAudio's thread because the loop was behind."
        self.playout_overflows = 0
        "Speaker frames dropped because the outbox was full."
        self.playout_underruns = 0
        "Output callbacks that found too little audio and padded with silence."
        self.samples_played = 0
        "Samples of real (queued) audio handed to PortAudio for the speaker."
        self.errors = 0
        "``on_capture`` calls that raised (logged; the device keeps going)."
        self.start_time: float | None = None
        self._inbox: collections.deque[Pcm] = collections.deque()
        self._outbox: collections.deque[Pcm] = collections.deque()
        self._out_rest: Pcm = silence(0)
        self._pending = silence(0)
        self._dropped_in = 0  # device samples dropped; written by PortAudio's thread only
        self._dropped_seen = 0  # of those, already counted in frames; the loop's only
        self._n = 0
        self._in_resampler: StreamingResampler | None = None
        self._out_resampler: StreamingResampler | None = None

    # -- devices and settings ------------------------------------------------------------

    def set_devices(self, recording: int | None, playout: int | None) -> None:
        """Choose the devices (the manual's ``setAudioDeviceId``); a running card reopens.

        Raises:
            SoundCardError: no such device, or reopening failed.
        """
        default_in, default_out = self._default_hosts()
        self.input = _pick(recording_devices(), recording, default_in, "recording")
        self.output = _pick(playout_devices(), playout, default_out, "playout")
        self.chosen = (recording, playout)
        "The indices asked for (None: the default), as ``set_devices`` got them."
        self.input_rate = self._rate(self.input, "input")
        self.output_rate = self._rate(self.output, "output")
        if self.running:
            self.stop()
            self.start()

    def _default_hosts(self) -> tuple[int | None, int | None]:
        found: list[int | None] = []
        for kind in ("input", "output"):
            try:
                found.append(int(self._sd.query_devices(kind=kind)["index"]))
            except Exception:  # no default of that kind (PortAudioError, ValueError)
                found.append(None)
        return found[0], found[1]

    def _rate(self, device: AudioDeviceInfo, kind: str) -> int:
        """The call's rate when the device takes it, else the device's default rate."""
        check = self._sd.check_input_settings if kind == "input" else \
            self._sd.check_output_settings
        try:
            check(device=device.host_index, channels=1, dtype="int16",
                  samplerate=self.sample_rate)
        except Exception:  # PortAudioError / ValueError: the device refuses that rate
            return round(device.default_sample_rate)
        return self.sample_rate

    def describe(self) -> str:
        """``"in: NAME @ RATE Hz, out: NAME @ RATE Hz"``, for logs."""
        return (f"in: {self.input.name} @ {self.input_rate} Hz, "
                f"out: {self.output.name} @ {self.output_rate} Hz")

    @property
    def mic_volume(self) -> int:
        """Software capture gain, 0-255 (``getMicVolume``)."""
        return self._mic_volume

    @mic_volume.setter
    def mic_volume(self, volume: int) -> None:
        self._mic_volume = _check_volume(volume)

    @property
    def speaker_volume(self) -> int:
        """Software playout gain, 0-255 (``getSpeakerVolume``)."""
        return self._speaker_volume

    @speaker_volume.setter
    def speaker_volume(self, volume: int) -> None:
        self._speaker_volume = _check_volume(volume)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self._streams)

    @property
    def skipped(self) -> int:
        """Frames lost between the threads (the ``MediaClock.skipped`` of a card)."""
        return self.frames_dropped

    def _block(self, rate: int) -> int:
        samples = self.ptime * rate
        return round(samples) if abs(samples - round(samples)) < 1e-9 else 0

    def start(self, at: float | None = None) -> float:
        """Open and start both streams; frame 0 is stamped ``at`` (default now). Returns it.

        Raises:
            RuntimeError: already running.
            SoundCardError: PortAudio could not open or start a stream.
        """
        if self.running:
            raise RuntimeError("the sound card is already running")
        self.start_time = self.loop.time() if at is None else at
        self._n = 0
        self._dropped_seen = self._dropped_in
        self._pending = silence(0)
        self._inbox.clear()
        self._outbox.clear()
        self._out_rest = silence(0)
        self._in_resampler = (None if self.input_rate == self.sample_rate
                              else StreamingResampler(self.input_rate, self.sample_rate))
        self._out_resampler = (None if self.output_rate == self.sample_rate
                               else StreamingResampler(self.sample_rate, self.output_rate))
        sd = self._sd
        streams: list[Any] = []
        try:
            streams.append(sd.RawOutputStream(
                samplerate=self.output_rate, blocksize=self._block(self.output_rate),
                device=self.output.host_index, channels=1, dtype="int16",
                callback=self._on_output))
            streams.append(sd.RawInputStream(
                samplerate=self.input_rate, blocksize=self._block(self.input_rate),
                device=self.input.host_index, channels=1, dtype="int16",
                callback=self._on_input))
            for stream in streams:
                stream.start()
        except Exception as exc:  # sounddevice.PortAudioError and the like
            for stream in streams:
                stream.close(ignore_errors=True)
            raise SoundCardError(f"cannot start the sound card ({self.describe()}): {exc}") \
                from exc
        self._streams = streams
        return self.start_time

    def stop(self) -> None:
        """Stop and close both streams (PortAudio releases the devices). Safe to call twice.

        No ``on_capture`` runs after this returns; sources and sinks stay open.
        """
        streams, self._streams = self._streams, []
        for stream in streams:
            try:
                stream.abort(ignore_errors=True)
            finally:
                stream.close(ignore_errors=True)
        self._inbox.clear()

    # -- PortAudio's thread --------------------------------------------------------------

    def _on_input(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio thread: copy the chunk into the inbox and wake the loop; never block."""
        inbox = self._inbox
        if len(inbox) >= self.queue_frames:
            self.capture_overflows += 1
            self._dropped_in += frames
            return
        inbox.append(np.frombuffer(indata, dtype=np.int16).copy())
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: nobody to deliver to
            inbox.clear()

    def _on_output(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio thread: fill ``outdata`` from the outbox, silence where it runs dry."""
        out = np.frombuffer(outdata, dtype=np.int16)
        filled = 0
        rest = self._out_rest
        outbox = self._outbox
        while filled < frames:
            if len(rest) == 0:
                if not outbox:
                    break
                rest = outbox.popleft()
            take = min(frames - filled, len(rest))
            out[filled:filled + take] = rest[:take]
            rest = rest[take:]
            filled += take
        self._out_rest = rest
        self.samples_played += filled
        if filled < frames:
            out[filled:] = 0
            self.playout_underruns += 1

    # -- the loop ------------------------------------------------------------------------

    def _drain(self) -> None:
        while self._inbox and self._streams:
            chunk = self._inbox.popleft()
            chunk = apply_volume(chunk, self._mic_volume)
            resampler = self._in_resampler
            if resampler is not None:
                chunk = resampler.process(chunk)
            self._pending = np.concatenate((self._pending, chunk)) if len(self._pending) \
                else chunk
            self._account_drops()
            n = self.frame_samples
            while len(self._pending) >= n and self._streams:
                frame, self._pending = self._pending[:n], self._pending[n:]
                self._tick(frame)

    def _account_drops(self) -> None:
        """Advance the frame counter over microphone audio dropped on PortAudio's thread."""
        dropped = self._dropped_in - self._dropped_seen
        per_frame = self.ptime * self.input_rate
        whole = int(dropped // per_frame)
        if whole:
            self._dropped_seen += round(whole * per_frame)
            self._n += whole
            self.frames_dropped += whole

    def _tick(self, mic: Pcm) -> None:
        n, rate = self.frame_samples, self.sample_rate
        source = self.capture
        frame = mic if isinstance(source, SilenceSource) else mix(
            (mic, source.read_frame(n, rate)))
        assert self.start_time is not None
        deadline = self.start_time + self._n * self.ptime
        self._n += 1
        self.frames_captured += 1
        if self.on_capture is not None:
            try:
                self.on_capture(frame, deadline)
            except Exception:
                self.errors += 1
                logger.exception("sound card on_capture failed at frame %d", self._n - 1)
        played = self.playout_source
        out = played.read_frame(n, rate) if played is not None else silence(n)
        self.playout.write_frame(out, rate)
        self.frames_played += 1
        speaker = apply_volume(out, self._speaker_volume)
        resampler = self._out_resampler
        if resampler is not None:
            speaker = resampler.process(speaker)
        if not self._streams:  # the handler stopped the device: the tick ends, unheard
            return
        if len(self._outbox) >= self.queue_frames:
            self.playout_overflows += 1
        else:
            self._outbox.append(speaker)


__all__ = ["MAX_VOLUME", "SoundCardDevice", "SoundCardError", "apply_volume"]
