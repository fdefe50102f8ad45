"""AudioSession: the asyncio owner of one call's audio stream.

Knows: the loop, its clock, UDP sockets through ``RtpSocketPair`` (port range,
symmetric RTP), the audio device (``default_audio_device``: the sound card when
PortAudio lists one, else the clock-paced virtual device), the capture-side
``ProcessingChain`` (VAD/CNG/AEC/ANS/AGC), the passive media ports (tone, WAV
player, WAV recorder), and how to drive a sans-IO ``voipkit.media.stream.RtpStream``
with them. Must not know: SIP, SDP text, dialogs or calls — it is configured from a
``voipkit.sdp.NegotiatedMedia`` and ``api`` decides when (answer, re-INVITE, hold).

The device runs at 8000 Hz, or 16000 Hz for a wideband codec (G.722, Opus); the
stream resamples between that and the codec's own rate (one resampler per leg).

One tick per ptime (the device's clock, drift-free): read a frame from the capture
source, run it through the processing chain (the far-end reference for echo
cancellation is the frame played out last), encode and send it, a comfort-noise
packet or nothing as the chain decides (unless our direction does not send), send
RTCP when due, then pull a frame from the stream's jitter buffer into the playout
sinks (a recorder, if one runs). Received datagrams are handed to the stream as
they arrive, stamped with the loop clock; received DTMF digits are reported to
``on_dtmf`` at once.

Files. ``play_file`` and ``start_recording`` open WAV files; ``close()`` (also
on ``async with`` exit, cancellation or error) stops the clock and always closes
them, so a recording's header is final. The WAV writer also keeps the header
valid after every frame, so even a process that dies mid-call leaves a playable
file up to the last tick.

Stream I/O controls (the manual's muteMicrophone, muteSpeaker and
setChannelInput/OutputVolumeScaling). The *microphone* is the bottom of the
capture chain: ``microphone`` (the device's capture as opened; silence on the
virtual device unless the application gives it a source) read through a gain
stage that yields silence while ``microphone_muted``. ``source`` starts as that
stage; whatever wraps it (a file played over it, the conference mix of
``api.media_files``) keeps flowing when only the microphone is muted. The
*speaker* is the device's playout: ``speaker`` (a sink, the virtual device's
loudspeaker) and, with a sound card, the card's output; ``speaker_muted``
silences only that, never ``sinks`` (recordings, the conference bridge).
``input_scaling`` / ``output_scaling`` (percent, 0-1000, 100 = unchanged)
scale the sent / received frames in int32 and clip them to int16.

Stream taps and injection (the manual's enableAudioStreamCallback,
enableRtpCallback, enableSendPcmStreamToRemote, setRtpKeepAlive).
``on_audio(direction, pcm, rate)`` sees each frame exactly as it is encoded
(``"send"``: after mute, scaling and the processing chain) and as it is played
(``"recv"``: after the jitter buffer, mute and scaling, before the speaker
mute). ``on_rtp(direction, packet)`` sees each plain RTP packet sent and
accepted (SRTP is removed). ``enable_pcm_input(rate)`` puts a ``PcmInput``
(100 ms FIFO fed by ``push_pcm``) in the microphone's place at the bottom of
the capture chain; ``muteMicrophone`` does not silence it. ``set_rtp_keepalive``
sends RFC 6263 keep-alives while nothing else is sent.

Device settings. ``device_settings`` (``AudioDeviceSettings``, shared by a
phone's calls) chooses the card's devices and software volumes when the device
is a sound card; on the virtual device the same volumes are applied here: the
microphone gain to ``microphone`` and the speaker gain to ``speaker``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from collections.abc import Callable, Mapping
from types import TracebackType

import numpy as np

from voipkit.aio.audio_device import (
    MAX_VOLUME,
    AudioDevice,
    AudioDeviceSettings,
    apply_volume,
    default_audio_device,
)
from voipkit.aio.rtp_socket import Address, RtpSocketPair
from voipkit.base.ids import IdSource, RandomIds
from voipkit.media.codecs import DEFAULT_CODECS, CodecRegistry, CodecSpec
from voipkit.media.dsp import ProcessingChain
from voipkit.media.frames import Pcm, clip_to_int16, silence
from voipkit.media.pcm_input import PcmInput
from voipkit.media.ports import (
    MediaSink,
    MediaSource,
    NullSink,
    SilenceSource,
    WavFileSink,
    WavFileSource,
)
from voipkit.media.rtp import is_rtcp
from voipkit.media.stream import RtpStream, RtpTap, StreamConfig
from voipkit.sdp import NegotiatedMedia

logger = logging.getLogger(__name__)

DtmfHandler = Callable[[str], None]
PlaybackHandler = Callable[[str, bool], None]
"""``(path, played to the end)``."""
AudioTap = Callable[[str, Pcm, int], None]
"""``("send" | "recv", frame, sample rate)``."""

NARROWBAND_RATE = 8000
WIDEBAND_RATE = 16000


def device_rate_for(codec: CodecSpec) -> int:
    """The device rate for a call sending ``codec``: 16000 for wideband codecs
    (G.722's 16 kHz audio, Opus' 48 kHz), else 8000."""
    return WIDEBAND_RATE if codec.sample_rate >= WIDEBAND_RATE else NARROWBAND_RATE


_PROCESSING_SWITCHES = ("vad", "cng", "aec", "ans", "agc")

MAX_SCALING = 1000
"""The largest volume scaling, in percent (the manual's range is [0, 1000])."""


def scale_volume(frame: Pcm, scaling: int) -> Pcm:
    """``frame`` times ``scaling`` percent: int32 product, floor division, int16 clip."""
    if scaling == 100:
        return frame
    return clip_to_int16((frame.astype(np.int32) * scaling) // 100)


def check_scaling(scaling: int) -> int:
    """``scaling`` when it is an int in [0, MAX_SCALING], else ValueError."""
    if isinstance(scaling, bool) or not isinstance(scaling, int) \
            or not 0 <= scaling <= MAX_SCALING:
        raise ValueError(f"volume scaling must be an integer 0-{MAX_SCALING}, got {scaling!r}")
    return scaling


class _Microphone:
    """The bottom of the capture chain: the device's microphone, silent while muted.

    The microphone is read even while muted, so a live source keeps its timeline.
    """

    def __init__(self, session: AudioSession) -> None:
        self._session = weakref.proxy(session)  # no cycle: a closed call is freed at once

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        session = self._session
        pcm_input = session.pcm_input
        if pcm_input is not None:  # the application's stream replaces the microphone
            return pcm_input.read_frame(samples, sample_rate)
        frame = session.microphone.read_frame(samples, sample_rate)
        if session.microphone_muted:
            return silence(samples)
        if not session._card:  # a card applies its own microphone gain
            frame = apply_volume(frame, session.device_settings.mic_volume)
        return frame


class _Playout:
    """The device's playout side: what the stream decoded goes to the sinks as is, and
    to the speaker (the device's output, ``speaker``) silenced while ``speaker_muted``."""

    def __init__(self, session: AudioSession) -> None:
        self._session = weakref.proxy(session)

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        session = self._session
        pcm = session._pull(samples)
        session._received = pcm
        tap = session.on_audio
        if tap is not None:
            session._tap(tap, "recv", pcm)
        return silence(samples) if session.speaker_muted else pcm

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        session = self._session
        received, session._received = session._received, None
        if received is None or len(received) != len(frame):
            received = frame
        session._far_end = frame  # what the speaker played: the echo canceller's reference
        for sink in list(session.sinks):
            sink.write_frame(received, sample_rate)
        if not session._card:  # a card applies its own speaker gain
            frame = apply_volume(frame, session.device_settings.speaker_volume)
        session.speaker.write_frame(frame, sample_rate)


class AudioSession:
    """One call's audio: sockets, clock, RTP stream, a capture source and playout sinks.

    Create with ``await AudioSession.open(local_ip, port_range, ids)``, put
    ``local_port`` in the SDP, then ``configure(negotiated)`` and ``start()``.
    ``configure`` may be called again for a re-INVITE or hold.

    Attributes:
        on_dtmf: called with each received DTMF character, once per event.
        on_playback_finished: called with ``(path, completed)`` when a file
            started by ``play_file`` ends or is replaced.
        sinks: extra playout sinks written every tick (the recorder is added here),
            with the received audio whether or not the speaker is muted.
        microphone: the device's capture (default silence); ``source`` reads it
            through the microphone stage until something replaces the source.
        speaker: the device's loudspeaker (default discarded), written every tick
            with what the device plays (silence while ``speaker_muted``).
        microphone_muted, speaker_muted: muteMicrophone / muteSpeaker.
        input_scaling, output_scaling: percent applied to the sent / received audio
            (setChannelInputVolumeScaling / setChannelOutputVolumeScaling).
        vad, cng, aec, ans, agc: the capture chain's switches (enableVAD, enableCNG,
            enableAEC, enableANS, enableAGC); set them with ``set_processing``.
    """

    def __init__(
        self,
        pair: RtpSocketPair,
        *,
        ids: IdSource,
        loop: asyncio.AbstractEventLoop,
        cname: str | None = None,
        registry: CodecRegistry = DEFAULT_CODECS,
    ) -> None:
        self._pair = pair
        self._ids = ids
        self._loop = loop
        self._cname = cname
        self._registry = registry
        self._stream: RtpStream | None = None
        self._device: AudioDevice | None = None
        self._device_is_card = False
        self._chain: ProcessingChain | None = None
        self._far_end: Pcm | None = None
        self._switches = dict.fromkeys(_PROCESSING_SWITCHES, False)
        self._local_fmtp: Mapping[str, Mapping[str, str]] = {}
        self._bitrates: Mapping[str, int] = {}
        self._remote: tuple[Address | None, Address | None] | None = None
        self._mux = False
        self.microphone: MediaSource = SilenceSource()
        self._microphone_stage = _Microphone(self)
        self._source: MediaSource = self._microphone_stage
        self._received: Pcm | None = None
        self._playback: tuple[WavFileSource, asyncio.Future[bool]] | None = None
        self._recorder: WavFileSink | None = None
        self._tick_time = 0.0
        self._closed = False
        self._started = False
        self.sinks: list[MediaSink] = []
        self.on_dtmf: DtmfHandler | None = None
        self.on_playback_finished: PlaybackHandler | None = None
        self.received_while_unconfigured = 0
        self.mute_outgoing = False
        "Send silence instead of the source (muteSession's outgoing audio)."
        self.mute_incoming = False
        "Play (and record) silence instead of the peer's audio (muteSession's incoming audio)."
        self.speaker: MediaSink = NullSink()
        self._microphone_muted = False
        self.speaker_muted = False
        "The device plays silence (muteSpeaker); ``sinks`` still get the received audio."
        self.input_scaling = 100
        "Percent applied to what is sent (setChannelInputVolumeScaling)."
        self.output_scaling = 100
        "Percent applied to what is received (setChannelOutputVolumeScaling)."
        self.on_audio: AudioTap | None = None
        "Sees every frame encoded (``send``) and played (``recv``): enableAudioStreamCallback."
        self._rtp_handler: RtpTap | None = None
        self._keepalive: tuple[int, float] | None = None
        self._pcm_input: PcmInput | None = None
        self.device_settings = AudioDeviceSettings()
        "The device choice and volumes (a phone shares one among its calls)."
        self.tap_errors = 0
        "Calls of ``on_audio`` / ``on_rtp`` that raised (logged)."
        pair.on_rtp = self._on_rtp
        pair.on_rtcp = self._on_rtcp

    @classmethod
    async def open(
        cls,
        local_ip: str,
        port_range: tuple[int, int] = (10000, 20000),
        ids: IdSource | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        cname: str | None = None,
        registry: CodecRegistry = DEFAULT_CODECS,
        symmetric: bool = True,
        dscp: int | None = None,
        first_port: int | None = None,
    ) -> AudioSession:
        """Bind an RTP/RTCP port pair from ``port_range`` on ``local_ip`` (never guessed).

        Raises:
            TransportError: no free pair in the range, or the address cannot be bound.
        """
        running = loop if loop is not None else asyncio.get_running_loop()
        pair = RtpSocketPair.open(local_ip, port_range=port_range, loop=running,
                                  symmetric=symmetric, dscp=dscp, first_port=first_port)
        return cls(pair, ids=ids if ids is not None else RandomIds(), loop=running,
                   cname=cname, registry=registry)

    # -- properties ----------------------------------------------------------------------

    @property
    def local_ip(self) -> str:
        return self._pair.local_ip

    @property
    def local_port(self) -> int:
        """The RTP port to put in the SDP m= line (RTCP is this + 1)."""
        return self._pair.rtp_port

    @property
    def sockets(self) -> RtpSocketPair:
        return self._pair

    @property
    def stream(self) -> RtpStream | None:
        """The sans-IO stream, once configured."""
        return self._stream

    @property
    def running(self) -> bool:
        return self._device is not None and self._device.running

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    @property
    def sample_rate(self) -> int:
        """The device rate of this call (what sources are read and sinks written at)."""
        return NARROWBAND_RATE if self._stream is None else self._stream.config.audio_rate

    @property
    def tick_time(self) -> float:
        """The scheduled time (loop clock) of the current or last tick: what a frame
        handed to ``on_audio`` was captured or played at."""
        return self._tick_time

    @property
    def processing(self) -> dict[str, bool]:
        """The capture chain's switches: vad, cng, aec, ans, agc."""
        return dict(self._switches)

    def set_processing(self, *, vad: bool | None = None, cng: bool | None = None,
                       aec: bool | None = None, ans: bool | None = None,
                       agc: bool | None = None) -> None:
        """Turn capture processing on or off from the next tick; None: unchanged.

        ``cng`` sends RFC 3389 comfort noise in the silences ``vad`` finds (when CN was
        negotiated; otherwise silence sends nothing). ``aec`` cancels the echo of what
        is played out; ``ans`` suppresses noise; ``agc`` evens the level.
        """
        for name, value in (("vad", vad), ("cng", cng), ("aec", aec), ("ans", ans),
                            ("agc", agc)):
            if value is not None:
                self._switches[name] = bool(value)
        chain = self._chain
        if chain is not None:
            self._apply_switches(chain)
            if not any(self._switches.values()):
                chain.close()
        elif self._device is not None and any(self._switches.values()):
            self._chain = self._new_chain()  # the first switch turned on mid-call

    def _apply_switches(self, chain: ProcessingChain) -> None:
        chain.vad = self._switches["vad"]
        chain.cng = self._switches["cng"]
        chain.aec = self._switches["aec"]
        chain.ans = self._switches["ans"]
        chain.agc = self._switches["agc"]

    # -- configuration -------------------------------------------------------------------

    def configure(self, media: NegotiatedMedia, *,
                  local_fmtp: Mapping[str, Mapping[str, str]] | None = None,
                  bitrates: Mapping[str, int] | None = None) -> None:
        """Apply a negotiated audio stream (first answer, re-INVITE, hold, resume).

        The remote address changes only when the SDP changes it, so a symmetric
        RTP latch survives a hold/resume re-INVITE to the same address. SDES keys
        in ``media`` turn SRTP on. ``local_fmtp`` (our fmtp parameters) and
        ``bitrates`` are keyed by lower-case codec name; they are kept for later
        re-negotiations when omitted.

        Raises:
            ValueError: the negotiated codec is not in the registry, a crypto line
                cannot be used (``SrtpError``), or the session is closed.
        """
        if self._closed:
            raise ValueError("the audio session is closed")
        if local_fmtp is not None:
            self._local_fmtp = local_fmtp
        if bitrates is not None:
            self._bitrates = bitrates
        send = media.send_codec
        spec = self._registry.find(send.encoding, send.clock_rate, send.channels)
        config = StreamConfig.from_negotiated(
            media, self._registry, local_fmtp=self._local_fmtp, bitrates=self._bitrates,
            device_rate=None if spec is None else device_rate_for(spec))
        rtp: Address | None = (media.remote_address, media.remote_port)
        rtcp: Address | None = media.remote_rtcp
        if media.remote_port == 0 or media.remote_address in ("0.0.0.0", "::"):
            rtp = rtcp = None  # RFC 3264 §8.4 (old-style hold): nowhere to send
        if self._remote != (rtp, rtcp):
            self._pair.set_remote(rtp, rtcp)
            self._remote = (rtp, rtcp)
        self._mux = media.rtcp_mux
        now = self._loop.time()
        if self._stream is None:
            self._stream = RtpStream(config, ids=self._ids, cname=self._cname,
                                     wallclock_offset=time.time() - now, now=now)
            self._stream.rtp_tap = self._rtp_tap if self._rtp_handler is not None else None
            if self._keepalive is not None:
                self._stream.set_keepalive(*self._keepalive)
        else:
            old = self._stream.config
            self._stream.reconfigure(config)
            if self._device is not None and (old.ptime != config.ptime
                                             or old.audio_rate != config.audio_rate):
                self._device.stop()
                self._device = None
                if self._started:
                    self._start_device()

    def start(self) -> None:
        """Start the media clock: capture, send and play out every ptime.

        Raises:
            RuntimeError: not configured yet, or closed.
        """
        if self._closed:
            raise RuntimeError("the audio session is closed")
        if self._stream is None:
            raise RuntimeError("configure() the audio session before start()")
        self._started = True
        if self._device is None or not self._device.running:
            self._start_device()

    def _start_device(self) -> None:
        assert self._stream is not None
        cfg = self._stream.config
        if self._chain is not None:
            self._chain.close()
        # built when a switch is on: a call that processes nothing never needs one
        self._chain = self._new_chain() if any(self._switches.values()) else None
        self._far_end = None
        playout = _Playout(self)
        self._device = default_audio_device(
            self._loop, ptime=cfg.ptime, sample_rate=cfg.audio_rate,
            capture=self._source, playout=playout, on_capture=self._on_capture,
            playout_source=playout, settings=self.device_settings)
        # asked once per device, not twice per tick
        self._device_is_card = hasattr(self._device, "mic_volume")
        self._mute_card_microphone()
        # the first frame is the first ptime of sound, ready when that ptime has passed
        self._device.start(self._loop.time() + cfg.ptime)

    def stop(self) -> None:
        """Stop the media clock (sockets, recorder and player stay open)."""
        self._started = False
        if self._device is not None:
            self._device.stop()

    def _new_chain(self) -> ProcessingChain:
        assert self._stream is not None
        cfg = self._stream.config
        chain = ProcessingChain(sample_rate=cfg.audio_rate, frame_samples=cfg.device_samples)
        self._apply_switches(chain)
        return chain

    # -- the tick ------------------------------------------------------------------------

    def _on_capture(self, frame: Pcm, deadline: float) -> None:
        stream = self._stream
        if stream is None:
            return
        self._tick_time = deadline
        if self.mute_outgoing:
            frame = silence(len(frame))
        elif self.input_scaling != 100:
            frame = scale_volume(frame, self.input_scaling)
        decision = None
        chain = self._chain
        if chain is not None and any(self._switches.values()) and len(frame) == \
                chain.frame_samples:
            far_end = self._far_end
            if far_end is not None and len(far_end) != len(frame):
                far_end = None
            frame, decision = chain.process_capture(frame, far_end)
        tap = self.on_audio
        if tap is not None:
            self._tap(tap, "send", frame)
        for data in stream.encode_frame(frame, now=deadline, decision=decision):
            self._pair.send_rtp(data)
        if stream.rtcp_due(deadline):
            self._send_rtcp(stream.build_rtcp(now=deadline))
        playback = self._playback
        if playback is not None and playback[0].finished:
            self._end_playback(completed=True)

    def _pull(self, samples: int) -> Pcm:
        stream = self._stream
        if stream is None:
            return silence(samples)
        pcm = stream.pull_audio(samples, now=self._tick_time)
        if self.mute_incoming:
            return silence(samples)
        return scale_volume(pcm, self.output_scaling)

    def _send_rtcp(self, data: bytes) -> None:
        if self._mux:  # RFC 5761: RTCP goes to the RTP port
            self._pair.send_rtp(data)
        else:
            self._pair.send_rtcp(data)

    # -- received packets ----------------------------------------------------------------

    def _on_rtp(self, data: bytes, source: Address, arrival: float) -> None:
        stream = self._stream
        if stream is None:
            self.received_while_unconfigured += 1
            return
        if self._mux and is_rtcp(data):
            stream.receive_rtcp(data, arrival=arrival)
            return
        stream.receive_rtp(data, arrival=arrival)
        for digit in stream.pop_dtmf():
            handler = self.on_dtmf
            if handler is None:
                continue
            try:
                handler(digit.char)
            except Exception:
                logger.exception("on_dtmf handler failed for digit %r", digit.char)

    def _on_rtcp(self, data: bytes, source: Address, arrival: float) -> None:
        if self._stream is None:
            self.received_while_unconfigured += 1
            return
        self._stream.receive_rtcp(data, arrival=arrival)

    # -- sources: what we send -----------------------------------------------------------

    @property
    def source(self) -> MediaSource:
        return self._source

    @property
    def microphone_muted(self) -> bool:
        """The microphone stage yields silence (muteMicrophone); files and mixes still
        flow. A sound card mixes its own microphone in the device: its ``mic_volume`` is
        0 while muted and given back afterwards."""
        return self._microphone_muted

    @microphone_muted.setter
    def microphone_muted(self, muted: bool) -> None:
        self._microphone_muted = bool(muted)
        self._mute_card_microphone()

    @property
    def _card(self) -> bool:
        """True when the device is a sound card (it applies the volumes itself)."""
        return self._device is not None and self._device_is_card

    def _mute_card_microphone(self) -> None:
        """A card mixes its microphone itself: its gain is 0 while the microphone is
        muted or a PCM stream replaces it, ``device_settings.mic_volume`` otherwise."""
        device = self._device
        if device is None or not hasattr(device, "mic_volume"):
            return
        silent = self._microphone_muted or self._pcm_input is not None
        device.mic_volume = 0 if silent else self.device_settings.mic_volume

    def apply_device_settings(self) -> None:
        """Apply a change of ``device_settings`` to a running sound card now (volumes;
        other devices reopen the card). The virtual device reads them every tick."""
        device = self._device
        if device is None or not hasattr(device, "mic_volume"):
            return
        settings = self.device_settings
        self._mute_card_microphone()
        setattr(device, "speaker_volume", settings.speaker_volume)  # noqa: B010 (a card)
        set_devices = getattr(device, "set_devices", None)
        if set_devices is not None and (
                getattr(device, "chosen", None) != (settings.recording_device,
                                                    settings.playout_device)):
            set_devices(settings.recording_device, settings.playout_device)

    # -- taps and injection ------------------------------------------------------------------

    def _tap(self, tap: AudioTap, direction: str, frame: Pcm) -> None:
        try:
            tap(direction, frame, self.sample_rate)
        except Exception:
            self.tap_errors += 1
            logger.exception("on_audio handler failed")

    def _rtp_tap(self, direction: str, packet: bytes) -> None:
        tap = self._rtp_handler
        if tap is None:
            return
        try:
            tap(direction, packet)
        except Exception:
            self.tap_errors += 1
            logger.exception("on_rtp handler failed")

    @property
    def on_rtp(self) -> RtpTap | None:
        """Sees every plain RTP packet sent (``send``) and accepted (``recv``):
        enableRtpCallback. With SRTP the packets are shown unprotected."""
        return self._rtp_handler

    @on_rtp.setter
    def on_rtp(self, tap: RtpTap | None) -> None:
        self._rtp_handler = tap
        if self._stream is not None:
            self._stream.rtp_tap = self._rtp_tap if tap is not None else None

    def set_rtp_keepalive(self, payload_type: int | None, interval: float = 0.0) -> None:
        """RFC 6263 keep-alives of ``payload_type`` every ``interval`` s of sending nothing
        (setRtpKeepAlive); None turns them off.

        Raises:
            ValueError: payload type not 0-127 or interval not positive.
        """
        if payload_type is None:
            self._keepalive = None
        else:
            if not 0 <= payload_type <= 127:
                raise ValueError(f"keep-alive payload type {payload_type} is not 0-127")
            if interval <= 0:
                raise ValueError(f"keep-alive interval must be positive, got {interval}")
            self._keepalive = (payload_type, interval)
        if self._stream is not None:
            if self._keepalive is None:
                self._stream.set_keepalive(None)
            else:
                self._stream.set_keepalive(*self._keepalive)

    @property
    def pcm_input(self) -> PcmInput | None:
        """The application's PCM stream sent instead of the microphone, if enabled."""
        return self._pcm_input

    def enable_pcm_input(self, sample_rate: int) -> PcmInput:
        """Send PCM pushed with ``push_pcm`` (16-bit mono at ``sample_rate``) instead of
        the microphone (enableSendPcmStreamToRemote); a new rate starts a new buffer.

        Raises:
            ValueError: the rate is not an integer 8000-192000.
        """
        current = self._pcm_input
        if current is None or current.sample_rate != sample_rate:
            self._pcm_input = PcmInput(sample_rate)
        self._mute_card_microphone()
        assert self._pcm_input is not None
        return self._pcm_input

    def disable_pcm_input(self) -> PcmInput | None:
        """The microphone again; returns the stream's buffer (for its counters)."""
        pcm_input, self._pcm_input = self._pcm_input, None
        self._mute_card_microphone()
        return pcm_input

    def push_pcm(self, data: bytes | bytearray | memoryview) -> int:
        """Queue PCM for sending (sendPcmStreamToRemote); returns the samples accepted
        (what does not fit in the 100 ms buffer is dropped and counted).

        Raises:
            RuntimeError: ``enable_pcm_input`` was not called.
            ValueError: an odd number of bytes.
        """
        pcm_input = self._pcm_input
        if pcm_input is None:
            raise RuntimeError("enable_pcm_input() before pushing PCM")
        return pcm_input.push(data)

    @property
    def microphone_source(self) -> MediaSource:
        """The microphone stage (``microphone`` behind the mute), the source as opened."""
        return self._microphone_stage

    def set_source(self, source: MediaSource, *, keep_playback: bool = False) -> None:
        """Send this source from the next tick on; a file being played is stopped, unless
        ``keep_playback`` (the new source reads the current one, e.g. a recording tap)."""
        if self._playback is not None and self._playback[0] is not source \
                and not keep_playback:
            self._end_playback(completed=False)
        self._source = source
        if self._device is not None:
            self._device.capture = source

    def play_file(
        self, path: str | os.PathLike[str], *, loop: bool = False
    ) -> asyncio.Future[bool]:
        """Play a WAV file into the call (any rate, any channel count).

        Returns:
            A future: True when the file played to its end, False when it was
            replaced (``set_source``, another ``play_file``) or the session closed.
            A looping file ends only then.

        Raises:
            OSError, wave.Error, ValueError: the file cannot be read as PCM WAV.
        """
        player = WavFileSource(path, loop=loop)
        if self._playback is not None:
            self._end_playback(completed=False)
        done: asyncio.Future[bool] = self._loop.create_future()
        self.set_source(player)
        self._playback = (player, done)
        return done

    def _end_playback(self, *, completed: bool) -> None:
        playback = self._playback
        if playback is None:
            return
        self._playback = None
        player, done = playback
        player.close()
        if self._source is player:
            self._source = self._microphone_stage
            if self._device is not None:
                self._device.capture = self._source
        if not done.done():
            done.set_result(completed)
        handler = self.on_playback_finished
        if handler is not None:
            try:
                handler(player.path, completed)
            except Exception:
                logger.exception("on_playback_finished handler failed for %s", player.path)

    # -- recording: what we receive ------------------------------------------------------

    def start_recording(self, path: str | os.PathLike[str]) -> WavFileSink:
        """Record the received audio (after the jitter buffer) to a 16-bit WAV file.

        A recording already running is finalised first.

        Raises:
            RuntimeError: the session is not configured (the sample rate is unknown) or closed.
            OSError: the file cannot be created.
        """
        if self._closed:
            raise RuntimeError("the audio session is closed")
        if self._stream is None:
            raise RuntimeError("configure() the audio session before recording")
        self.stop_recording()
        sink = WavFileSink(path, self._stream.config.audio_rate)
        self._recorder = sink
        self.sinks.append(sink)
        return sink

    def stop_recording(self) -> str | None:
        """Finalise and close the recording; returns its path (None if none was running)."""
        sink = self._recorder
        if sink is None:
            return None
        self._recorder = None
        if sink in self.sinks:
            self.sinks.remove(sink)
        sink.close()
        return sink.path

    # -- DTMF and statistics -------------------------------------------------------------

    def send_dtmf(self, digits: str, duration: float = 0.1) -> None:
        """Send RFC 4733 events for each character of ``digits``, in the following ticks.

        Raises:
            RuntimeError: not configured.
            ValueError: telephone-event was not negotiated, or a character is not DTMF.
        """
        if self._stream is None:
            raise RuntimeError("configure() the audio session before sending DTMF")
        self._stream.send_dtmf(digits, duration=duration, now=self._loop.time())

    def statistics(self) -> dict[str, int | float | str | None]:
        """The stream's statistics now, plus the socket counters and addresses."""
        counters = self._pair.counters
        stats: dict[str, int | float | str | None] = (
            {} if self._stream is None else self._stream.statistics(self._loop.time()))
        remote = self._pair.remote_rtp
        stats.update({
            "local_address": f"{self.local_ip}:{self.local_port}",
            "remote_address": None if remote is None else f"{remote[0]}:{remote[1]}",
            "latched": int(self._pair.latched),
            "socket_dropped": counters.dropped,
            "rtp_datagrams_sent": counters.rtp_sent,
            "rtp_datagrams_received": counters.rtp_received,
            "clock_skipped": 0 if self._device is None else self._device.skipped,
        })
        pcm_input = self._pcm_input
        if pcm_input is not None:
            stats.update({"pcm_input_rate": pcm_input.sample_rate,
                          "pcm_input_samples": pcm_input.pushed_samples,
                          "pcm_input_dropped": pcm_input.dropped_samples,
                          "pcm_input_underruns": pcm_input.underruns})
        return stats

    # -- closing ----------------------------------------------------------------------------

    async def close(self, reason: str | None = None) -> None:
        """Send RTCP BYE, stop the clock, finalise the recording and the player, close sockets.

        Safe to call twice; every step runs even when an earlier one fails.
        """
        self.abort(reason)
        await asyncio.sleep(0)

    def abort(self, reason: str | None = None) -> None:
        """``close()`` without awaiting: for finalizers and synchronous error paths."""
        if self._closed:
            return
        self._closed = True
        self._started = False
        try:
            if self._device is not None:
                self._device.stop()
            if self._chain is not None:
                self._chain.close()
            stream = self._stream
            # RFC 3550 §6.3.7: one that never sent RTP or RTCP MUST NOT send a BYE
            if (stream is not None and not self._pair.closed
                    and (stream.counters.packets_sent or stream.counters.rtcp_sent)):
                self._send_rtcp(stream.build_bye(now=self._loop.time(), reason=reason))
        except Exception:
            logger.exception("sending RTCP BYE failed")
        finally:
            try:
                self.stop_recording()
            finally:
                try:
                    self._end_playback(completed=False)
                    if isinstance(self._source, WavFileSource):
                        self._source.close()
                finally:
                    self._pair.close()
                    self._unlink()

    def _unlink(self) -> None:
        """Drop what points back at this closed session (socket handlers, the device's
        capture callback), so reference counting frees the call at once instead of
        leaving a cycle for the garbage collector (which a busy UAS pays for)."""
        self._pair.on_rtp = self._pair.on_rtcp = None
        device, self._device = self._device, None
        if device is not None:
            device.on_capture = None
            device.playout_source = None

    async def __aenter__(self) -> AudioSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


__all__ = ["MAX_SCALING", "MAX_VOLUME", "NARROWBAND_RATE", "WIDEBAND_RATE", "AudioSession",
           "AudioTap", "DtmfHandler", "PlaybackHandler", "check_scaling", "device_rate_for",
           "scale_volume"]
