"""The pacing driver of a conference bridge: one ``MediaClock`` tick per ptime.

Knows: the loop clock (through ``MediaClock``), the sans-IO
``voipkit.media.conference.ConferenceBridge``, and passive media ports. Must
not know: SIP, calls, RTP or the public API — ``voipkit.api.conference``
decides who joins and wires each member's ports into a call's audio.

Each member gets a ``MemberPort``: a ``MediaSink`` that a call's playout side
writes its received (decoded) frame to, which puts it into the bridge,
and a ``MediaSource`` that the call's capture side reads, which returns what the
bridge mixed for that member. The local sound device is one more member
(``LOCAL_DEVICE``): the driver reads its ``local_capture`` source and writes
its share of the mix to ``local_playout`` on its own tick.

Ordering and latency. Calls and the bridge run on separate clocks of the same
period (every clock is a ``MediaClock`` on the same loop, so they never drift;
only their phases differ). A call's tick first reads its source (the port's
outbox) and then writes its received frame (the bridge's pending input). The
bridge's tick therefore always consumes the frames put *since the previous
bridge tick* — one frame per member — and fills each member's outbox with one
frame, which the member's next call tick sends. Whatever the phases, every
path through the bridge is delayed by less than one ptime on the way in and
less than one ptime on the way out (at most one frame of latency each way,
plus the bridge's resampler leads, ``MemberInfo.delay``). Should two ticks
swap order once (phases a hair apart), the bridge sees one empty tick and the
next holds two frames: the member then runs one frame later, never drifting
further, because the bridge and the outbox both cap what they hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable

import numpy as np

from voipkit.aio.media_clock import MediaClock
from voipkit.media.conference import LOCAL_DEVICE, ConferenceBridge
from voipkit.media.frames import Pcm, silence
from voipkit.media.ports import MediaSink, MediaSource, NullSink, SilenceSource

logger = logging.getLogger(__name__)

OUTBOX_FRAMES = 3
"""How many bridge frames a member's outbox holds before the oldest is dropped."""


class MemberPort:
    """One member's two ports into a running bridge.

    ``write_frame`` queues the member's voice for the next bridge tick;
    ``read_frame`` returns what the bridge mixed for the member (silence, and
    an ``underruns`` count, when the outbox is short). A frame at a rate other
    than the member's re-joins it at that rate (a re-INVITE changed the codec).

    Attributes:
        member_id: the bridge key (a call id, or ``LOCAL_DEVICE``).
        sample_rate: the member's current rate.
        underruns: reads that found less than a frame in the outbox.
        dropped: samples dropped from a full outbox.
    """

    def __init__(self, driver: ConferenceDriver, member_id: Hashable, sample_rate: int) -> None:
        self._driver = driver
        self.member_id = member_id
        self.sample_rate = sample_rate
        self.underruns = 0
        self.dropped = 0
        self._outbox: Pcm = silence(0)
        self.detached = False

    # -- MediaSink: the member's voice into the bridge --------------------------------

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        if self.detached:
            return
        if sample_rate != self.sample_rate:
            self._driver._rejoin(self, sample_rate)
        self._driver.bridge.put(self.member_id, frame)

    # -- MediaSource: the mix for the member ---------------------------------------------

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        if self.detached:
            return silence(samples)
        if sample_rate != self.sample_rate:
            self._driver._rejoin(self, sample_rate)
            return silence(samples)
        have = len(self._outbox)
        if have >= samples:
            out = self._outbox[:samples]
            self._outbox = self._outbox[samples:]
            return out
        self.underruns += 1
        out = np.concatenate((silence(samples - have), self._outbox))
        self._outbox = silence(0)
        return out

    def _deliver(self, frame: Pcm) -> None:
        self._outbox = np.concatenate((self._outbox, frame)) if len(self._outbox) else frame
        cap = OUTBOX_FRAMES * len(frame)
        if len(self._outbox) > cap:
            self.dropped += len(self._outbox) - cap
            self._outbox = self._outbox[-cap:]

    def _reset(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._outbox = silence(0)


class ConferenceDriver:
    """Ticks a ``ConferenceBridge`` once per ``bridge.ptime`` on the loop clock.

    Args:
        loop: the loop whose clock paces the bridge.
        bridge: the bridge to drive (the driver adds and removes members).
        local_capture: the local device's microphone, read once per tick at
            ``local_rate`` (default: silence).
        local_playout: the local device's speaker, written once per tick with
            the mix for the local device (default: a ``NullSink``).
        local_rate: the local device's sample rate.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        bridge: ConferenceBridge,
        *,
        local_capture: MediaSource | None = None,
        local_playout: MediaSink | None = None,
        local_rate: int = 16000,
    ) -> None:
        self.bridge = bridge
        self.local_capture: MediaSource = (
            local_capture if local_capture is not None else SilenceSource())
        self.local_playout: MediaSink = local_playout if local_playout is not None else NullSink()
        self.local_rate = local_rate
        self._ports: dict[Hashable, MemberPort] = {}
        self._local_samples = 0
        self.clock = MediaClock(loop, bridge.ptime, self._tick)

    @property
    def running(self) -> bool:
        return self.clock.running

    def start(self, *, with_local_device: bool = True) -> None:
        """Start ticking; the local device joins first unless told not to."""
        if with_local_device and LOCAL_DEVICE not in self.bridge:
            self.bridge.add(LOCAL_DEVICE, self.local_rate)
            self._local_samples = self.bridge.info(LOCAL_DEVICE).frame_samples
        self.clock.start()

    def stop(self) -> None:
        """Stop ticking and detach every member (``destroyConference``)."""
        self.clock.stop()
        for port in self._ports.values():
            port.detached = True
        self._ports.clear()
        self.bridge.clear()

    def attach(self, member_id: Hashable, sample_rate: int) -> MemberPort:
        """Join a member at ``sample_rate``; returns its ports.

        Raises:
            ValueError: already a member, or the rate does not fit the ptime.
        """
        self.bridge.add(member_id, sample_rate)
        port = MemberPort(self, member_id, sample_rate)
        self._ports[member_id] = port
        return port

    def detach(self, member_id: Hashable) -> None:
        """Take a member out; its ports then read silence and drop what is written."""
        port = self._ports.pop(member_id, None)
        if port is not None:
            port.detached = True
        if member_id in self.bridge:
            self.bridge.remove(member_id)

    def _rejoin(self, port: MemberPort, sample_rate: int) -> None:
        logger.info("conference member %r changed rate %d -> %d Hz",
                    port.member_id, port.sample_rate, sample_rate)
        self.bridge.remove(port.member_id)
        self.bridge.add(port.member_id, sample_rate)
        port._reset(sample_rate)

    def _tick(self, deadline: float) -> None:
        local = LOCAL_DEVICE in self.bridge
        if local:
            self.bridge.put(LOCAL_DEVICE,
                            self.local_capture.read_frame(self._local_samples, self.local_rate))
        mixed = self.bridge.tick()
        for member_id, frame in mixed.items():
            port = self._ports.get(member_id)
            if port is not None:
                port._deliver(frame)
        if local:
            self.local_playout.write_frame(mixed[LOCAL_DEVICE], self.local_rate)


__all__ = ["OUTBOX_FRAMES", "ConferenceDriver", "MemberPort"]
