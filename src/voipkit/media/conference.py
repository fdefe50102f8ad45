"""The audio conference bridge: mix-minus of every member, each leg at its own rate.

Knows: mono int16 frames, one sample rate per member and one for the bridge, the
aumix mix-minus rule (libre ``aumix``; pjmedia ``conference.c``) and the
streaming soxr resampler of ``voipkit.media.resample``. Must not know: SIP,
RTP, codecs, sockets, asyncio, threads or the clock. The bridge never decides
*when* to run: ``voipkit.aio`` calls ``put`` as decoded frames arrive and
``tick`` once every ``ptime`` (style guide example 9), and a test calls them in
a loop.

PortSIP names (the manual, "Conference functions") map as
follows: ``createAudioConference`` builds a ``ConferenceBridge``;
``joinToConference(sessionId)`` is ``add(sessionId, rate)`` (taking the call off
hold is the call layer's job, not the bridge's); ``removeFromConference`` is
``remove``; ``destroyConference`` is ``clear``. The local sound device is one
more member, keyed ``LOCAL_DEVICE``.

Model. Each tick produces one frame of ``ptime`` for every member:

1. *Input.* A member's pending input (a FIFO at the member's rate, filled by
   ``put``) gives exactly one frame; if less than a frame is pending, the member
   contributes silence this tick and the partial frame waits (jitter tolerance:
   the bridge never waits for a late frame). Pending input is capped at
   ``max_pending`` seconds; beyond that the oldest samples are dropped (counted).
2. *To the bridge rate.* One streaming resampler per member and direction:
   by default ``frames.StreamingResampler`` (linear, a sinc low-pass going down,
   about one sample held back); with a soxr quality the output comes in bursts
   (LQ: ~60 ms at 8 kHz <-> 16 kHz, i.e. ~120 ms through the bridge on an 8 kHz
   leg). A FIFO after each resampler starts with a *lead* of zeros,
   the largest shortfall the resampler shows for a steady stream of frames (found
   once per rate pair by running a probe on silence), so every tick takes exactly
   one frame without ever running dry. Should it run dry anyway, the missing
   samples are padded with zeros in front and counted as an underrun.
3. *Mix-minus.* Contributions (int16 x the member's ``gain``, zero when muted)
   are summed once in int32; each member hears ``total - own`` times its
   ``output_gain``, clipped to int16 only then. Cost is O(n), not O(n^2).
   A deafened member hears silence.
4. *Back to the member's rate* through its outbound resampler and FIFO, so the
   frame returned is exactly ``ptime`` at the member's rate.

Members may join and leave between ticks; a member added before a tick gets a
frame from that tick on.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from voipkit.media.frames import Pcm, StreamingResampler, clip_to_int16, silence
from voipkit.media.resample import Quality, Resampler

BridgeQuality = Quality | Literal["linear"]
"""soxr's qualities, or ``"linear"``: ``frames.StreamingResampler`` (no block delay)."""


class _Leg(Protocol):
    def process(self, samples: Pcm) -> Pcm: ...


class _Same:
    """Equal rates: the samples as they are."""

    def process(self, samples: Pcm) -> Pcm:
        return samples


def _resampler(in_rate: int, out_rate: int, quality: BridgeQuality) -> _Leg:
    if in_rate == out_rate:
        return _Same()
    if quality == "linear":
        return StreamingResampler(in_rate, out_rate)
    return Resampler(in_rate, out_rate, quality=quality)

__all__ = [
    "LOCAL_DEVICE",
    "ConferenceBridge",
    "LocalDevice",
    "MemberInfo",
]


class LocalDevice(enum.Enum):
    """The key of the local sound device (microphone in, speaker out) in a bridge."""

    DEVICE = "local device"


LOCAL_DEVICE: Final = LocalDevice.DEVICE
"""Member id of the local sound device; call legs use their call (session) ids."""

_PROBE_SECONDS = 2.0
"""How long a stream of silence the lead probe runs per rate pair."""


def _frame_samples(rate: int, ptime: float) -> int:
    """Samples in one ``ptime`` at ``rate``; the product must be a whole number."""
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")
    exact = rate * ptime
    samples = round(exact)
    if samples <= 0 or not math.isclose(exact, samples, rel_tol=0.0, abs_tol=1e-6):
        raise ValueError(f"{ptime} s at {rate} Hz is not a whole number of samples")
    return samples


@functools.lru_cache(maxsize=128)
def _lead(in_rate: int, out_rate: int, chunk_in: int, quality: BridgeQuality) -> int:
    """Zeros to hold in front of a resampler's output so that a fixed-size pull never starves.

    Pushes ``_PROBE_SECONDS`` of silence through a fresh resampler ``chunk_in``
    samples at a time and returns the largest shortfall between what a steady
    consumer would have taken by then and what the filter has released. soxr's
    block pattern depends only on the chunk sizes, not on the samples, so the
    probe is exact for any signal.
    """
    if in_rate == out_rate:
        return 0
    chunk_out = chunk_in * out_rate // in_rate
    probe = _resampler(in_rate, out_rate, quality)
    zeros = np.zeros(chunk_in, dtype=np.int16)
    produced = 0
    worst = 0
    ticks = max(1, math.ceil(_PROBE_SECONDS * in_rate / chunk_in))
    for k in range(1, ticks + 1):
        produced += len(probe.process(zeros))
        worst = max(worst, k * chunk_out - produced)
    return worst


class _Fifo:
    """A first-in first-out queue of int16 samples."""

    __slots__ = ("_data",)

    def __init__(self, lead: int = 0) -> None:
        self._data: Pcm = silence(lead)

    def __len__(self) -> int:
        return len(self._data)

    def append(self, samples: Pcm) -> None:
        if len(samples):
            self._data = np.concatenate((self._data, samples)) if len(self._data) else samples

    def take(self, n: int) -> Pcm:
        """Exactly ``n`` samples; the caller checks there are enough."""
        out = self._data[:n]
        self._data = self._data[n:]
        return out

    def drop_oldest(self, keep: int) -> int:
        """Keep only the newest ``keep`` samples; return how many were dropped."""
        dropped = max(0, len(self._data) - keep)
        if dropped:
            self._data = self._data[dropped:]
        return dropped


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A snapshot of one member's settings and counters.

    Attributes:
        member_id: the key the member was added with.
        sample_rate: the member's own rate (its codec's audio rate).
        frame_samples: samples in one ``ptime`` at that rate, the size of every
            frame ``tick`` returns for it.
        muted: its voice is left out of the mix.
        deafened: it hears silence.
        gain: linear factor on its voice before mixing.
        output_gain: linear factor on what it hears, before clipping.
        frames_in: frames given to ``put``.
        missed_ticks: ticks at which less than a frame was pending (it
            contributed silence).
        dropped_samples: pending input discarded because more than
            ``max_pending`` seconds had queued up.
        underruns: ticks at which a resampler FIFO ran short and was padded
            with zeros (zero in steady operation).
        delay: the fixed delay the bridge adds through this member's path in
            and out, in seconds (the two FIFO leads; excludes the resampler
            filters' own group delay).
    """

    member_id: Hashable
    sample_rate: int
    frame_samples: int
    muted: bool
    deafened: bool
    gain: float
    output_gain: float
    frames_in: int
    missed_ticks: int
    dropped_samples: int
    underruns: int
    delay: float


class _Member:
    """Per-member state: settings, pending input, the two resamplers and their FIFOs."""

    __slots__ = (
        "deafened",
        "dropped_samples",
        "frame_samples",
        "frames_in",
        "from_bridge",
        "gain",
        "lead_in",
        "lead_out",
        "member_id",
        "missed_ticks",
        "muted",
        "out_fifo",
        "output_gain",
        "pending",
        "rate",
        "to_bridge",
        "to_bridge_fifo",
        "underruns",
    )

    def __init__(
        self,
        member_id: Hashable,
        rate: int,
        frame_samples: int,
        bridge_rate: int,
        bridge_samples: int,
        quality: BridgeQuality,
    ) -> None:
        self.member_id = member_id
        self.rate = rate
        self.frame_samples = frame_samples
        self.muted = False
        self.deafened = False
        self.gain = 1.0
        self.output_gain = 1.0
        self.frames_in = 0
        self.missed_ticks = 0
        self.dropped_samples = 0
        self.underruns = 0
        self.pending = _Fifo()
        self.to_bridge = _resampler(rate, bridge_rate, quality)
        self.from_bridge = _resampler(bridge_rate, rate, quality)
        self.lead_in = _lead(rate, bridge_rate, frame_samples, quality)
        self.lead_out = _lead(bridge_rate, rate, bridge_samples, quality)
        self.to_bridge_fifo = _Fifo(self.lead_in)
        self.out_fifo = _Fifo(self.lead_out)

    def pull(self, fifo: _Fifo, n: int) -> Pcm:
        """Exactly ``n`` samples from ``fifo``, zero-padded in front if it ran short."""
        have = len(fifo)
        if have >= n:
            return fifo.take(n)
        self.underruns += 1
        return np.concatenate((silence(n - have), fifo.take(have)))


def _check_gain(gain: float) -> float:
    if not math.isfinite(gain) or gain < 0.0:
        raise ValueError(f"gain must be a finite number >= 0, got {gain}")
    return float(gain)


class ConferenceBridge:
    """Mixes any number of members so that each hears all the others, never itself.

    Args:
        sample_rate: the bridge's internal rate; members are resampled to it and
            back. 16 kHz carries wideband legs without waste.
        ptime: the length of one tick in seconds; ``sample_rate * ptime`` and
            every member's ``rate * ptime`` must be whole numbers of samples.
        quality: the per-member resamplers: ``"linear"`` (the default,
            ``frames.StreamingResampler``: no block delay) or a soxr quality ("LQ"
            keeps 96 % of the band but holds back ~60 ms at 8 <-> 16 kHz; see
            ``voipkit.media.resample`` for the latency of each).
        max_pending: the most input, in seconds, a member may have queued ahead
            of the ticks; older samples are dropped beyond it.

    Raises:
        ValueError: a non-positive rate, a ``ptime`` that does not divide the
            rate into whole samples, or ``max_pending`` shorter than one tick.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        ptime: float = 0.02,
        *,
        quality: BridgeQuality = "linear",
        max_pending: float = 0.1,
    ) -> None:
        self.sample_rate = sample_rate
        self.ptime = ptime
        self.frame_samples = _frame_samples(sample_rate, ptime)
        "Samples in one tick at the bridge rate."
        if max_pending < ptime:
            raise ValueError(f"max_pending ({max_pending} s) is shorter than ptime ({ptime} s)")
        self.quality: BridgeQuality = quality
        self.max_pending = max_pending
        self.ticks = 0
        "Ticks run so far."
        self._members: dict[Hashable, _Member] = {}

    # -- membership ---------------------------------------------------------

    def add(
        self,
        member_id: Hashable,
        rate: int,
        *,
        muted: bool = False,
        deafened: bool = False,
        gain: float = 1.0,
        output_gain: float = 1.0,
    ) -> None:
        """Join a member (``joinToConference``); it takes part from the next tick.

        Args:
            member_id: a call (session) id, or ``LOCAL_DEVICE``.
            rate: the member's own sample rate; its ``put`` frames and the
                frames ``tick`` returns for it are at this rate.

        Raises:
            ValueError: the member is already in the bridge, or the rate is unusable.
        """
        if member_id in self._members:
            raise ValueError(f"{member_id!r} is already in the conference")
        samples = _frame_samples(rate, self.ptime)
        member = _Member(
            member_id, rate, samples, self.sample_rate, self.frame_samples, self.quality
        )
        member.muted = muted
        member.deafened = deafened
        member.gain = _check_gain(gain)
        member.output_gain = _check_gain(output_gain)
        self._members[member_id] = member

    def remove(self, member_id: Hashable) -> None:
        """Take a member out (``removeFromConference``); its pending audio is discarded.

        Raises:
            KeyError: no such member.
        """
        del self._members[self._get(member_id).member_id]

    def clear(self) -> None:
        """Remove every member (``destroyConference``)."""
        self._members.clear()

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._members

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._members))

    def _get(self, member_id: Hashable) -> _Member:
        try:
            return self._members[member_id]
        except KeyError:
            raise KeyError(f"{member_id!r} is not in the conference") from None

    # -- per-member settings ------------------------------------------------

    def set_muted(self, member_id: Hashable, muted: bool = True) -> None:
        """Leave the member's voice out of everyone's mix (or put it back)."""
        self._get(member_id).muted = muted

    def set_deafened(self, member_id: Hashable, deafened: bool = True) -> None:
        """Send the member silence (or the mix again)."""
        self._get(member_id).deafened = deafened

    def set_gain(self, member_id: Hashable, gain: float) -> None:
        """Scale the member's voice by ``gain`` (linear) before it is mixed."""
        self._get(member_id).gain = _check_gain(gain)

    def set_output_gain(self, member_id: Hashable, gain: float) -> None:
        """Scale what the member hears by ``gain`` (linear), before clipping."""
        self._get(member_id).output_gain = _check_gain(gain)

    def info(self, member_id: Hashable) -> MemberInfo:
        """A snapshot of the member's settings and counters.

        Raises:
            KeyError: no such member.
        """
        m = self._get(member_id)
        return MemberInfo(
            member_id=m.member_id,
            sample_rate=m.rate,
            frame_samples=m.frame_samples,
            muted=m.muted,
            deafened=m.deafened,
            gain=m.gain,
            output_gain=m.output_gain,
            frames_in=m.frames_in,
            missed_ticks=m.missed_ticks,
            dropped_samples=m.dropped_samples,
            underruns=m.underruns,
            delay=m.lead_in / self.sample_rate + m.lead_out / m.rate,
        )

    # -- media --------------------------------------------------------------

    def put(self, member_id: Hashable, frame: Pcm) -> None:
        """Queue audio from a member, at the member's rate, for the coming ticks.

        Any length is accepted (a leg whose ptime differs from the bridge's just
        queues more or less per packet); one bridge frame's worth is used per tick.

        Raises:
            KeyError: no such member.
            ValueError: the frame is not one-dimensional int16.
        """
        m = self._get(member_id)
        if frame.dtype != np.int16 or frame.ndim != 1:
            raise ValueError(f"frames are 1-D int16, got {frame.dtype} with shape {frame.shape}")
        m.pending.append(frame.copy())
        m.frames_in += 1
        cap = max(m.frame_samples, round(self.max_pending * m.rate))
        m.dropped_samples += m.pending.drop_oldest(cap)

    def tick(self) -> dict[Hashable, Pcm]:
        """Run one ``ptime``: mix-minus for every member, at each member's own rate.

        Returns:
            For every member, exactly ``frame_samples`` int16 samples at its
            rate: the sum of all other members' voices (the local device
            included), or silence if it is deafened.
        """
        self.ticks += 1
        n = self.frame_samples
        members = list(self._members.values())
        total = np.zeros(n, dtype=np.int32)
        own: list[npt.NDArray[np.int32] | None] = []
        for m in members:
            if len(m.pending) >= m.frame_samples:
                voice = m.pending.take(m.frame_samples)
            else:
                voice = silence(m.frame_samples)
                m.missed_ticks += 1
            m.to_bridge_fifo.append(m.to_bridge.process(voice))
            at_bridge = m.pull(m.to_bridge_fifo, n)
            if m.muted or m.gain == 0.0:
                own.append(None)
                continue
            if m.gain == 1.0:
                contribution = at_bridge.astype(np.int32)
            else:
                contribution = np.rint(at_bridge * m.gain).astype(np.int32)
            total += contribution
            own.append(contribution)
        out: dict[Hashable, Pcm] = {}
        for m, mine in zip(members, own, strict=True):
            if m.deafened:
                # keep the outbound resampler's timeline going, but send nothing of
                # what it still holds: a deafened member hears silence at once
                m.out_fifo.append(m.from_bridge.process(silence(n)))
                m.pull(m.out_fifo, m.frame_samples)
                out[m.member_id] = silence(m.frame_samples)
                continue
            mixed = total if mine is None else total - mine
            heard = clip_to_int16(mixed if m.output_gain == 1.0 else mixed * m.output_gain)
            m.out_fifo.append(m.from_bridge.process(heard))
            out[m.member_id] = m.pull(m.out_fifo, m.frame_samples)
        return out
