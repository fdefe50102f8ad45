"""PcmInput: PCM pushed by the application, sent instead of the microphone.

Knows: 16-bit little-endian mono PCM at one fixed rate, a bounded FIFO and
the zero-delay ``frames.StreamingResampler``. Must not know: calls, RTP,
sockets, threads or the clock — the application pushes bytes, the media clock
reads frames (a passive ``MediaSource``, style-guide example 9).

The PortSIP manual (``sendPcmStreamToRemote``): "It must be 16bit, mono ...
we have 100ms audio buffer only. Once you put too much, data will be lost. It
is recommended to send 20ms audio data every 20ms." So the FIFO holds
``buffer_seconds`` (0.1) of audio at the stream's rate; the samples of a push
that do not fit are dropped (the newest ones; what is queued plays on) and
counted in ``dropped_samples``. A frame read while the FIFO holds too little
is completed with silence and counted in ``underruns``. A stream at another
rate than the call's is resampled (linear interpolation, no added delay).
"""

from __future__ import annotations

import numpy as np

from voipkit.media.frames import Pcm, StreamingResampler, silence

__all__ = ["BUFFER_SECONDS", "PcmInput"]

BUFFER_SECONDS = 0.1
"""The manual's 100 ms buffer."""


class PcmInput:
    """A bounded FIFO of pushed PCM, read as a ``MediaSource`` at any rate.

    Args:
        sample_rate: the rate of the pushed PCM (8000, 16000, 32000, 44100, 48000 ...).
        buffer_seconds: how much audio may wait; more is dropped.

    Attributes:
        pushed_samples: samples accepted into the FIFO.
        dropped_samples: samples dropped because the FIFO was full.
        underruns: frames read while the FIFO held less than a frame (padded with silence).
        frames_read: frames read.
    """

    def __init__(self, sample_rate: int, *, buffer_seconds: float = BUFFER_SECONDS) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) \
                or not 8000 <= sample_rate <= 192000:
            raise ValueError(f"PCM stream rate must be an integer 8000-192000 Hz, "
                             f"got {sample_rate!r}")
        if buffer_seconds <= 0:
            raise ValueError(f"buffer_seconds must be positive, got {buffer_seconds}")
        self.sample_rate = sample_rate
        self.capacity = round(sample_rate * buffer_seconds)
        "Samples (at ``sample_rate``) the FIFO holds at most."
        self._fifo: Pcm = silence(0)
        self._resampler: StreamingResampler | None = None
        self.pushed_samples = 0
        self.dropped_samples = 0
        self.underruns = 0
        self.frames_read = 0

    @property
    def buffered(self) -> int:
        """Samples waiting in the FIFO, at ``sample_rate``."""
        return len(self._fifo)

    def push(self, data: bytes | bytearray | memoryview) -> int:
        """Queue 16-bit little-endian mono samples; returns how many were accepted.

        Raises:
            ValueError: ``data`` is not a whole number of 16-bit samples.
        """
        raw = memoryview(data).cast("B")
        if len(raw) % 2:
            raise ValueError(f"PCM data must be whole 16-bit samples; got {len(raw)} bytes")
        samples: Pcm = np.frombuffer(raw, dtype="<i2").astype(np.int16)
        room = self.capacity - len(self._fifo)
        take = max(0, min(room, len(samples)))
        self.dropped_samples += len(samples) - take
        if take:
            self._fifo = np.concatenate((self._fifo, samples[:take]))
            self.pushed_samples += take
        return take

    def clear(self) -> None:
        """Forget the queued samples (the counters stay)."""
        self._fifo = silence(0)

    def _take(self, n: int) -> Pcm:
        """``n`` samples at ``sample_rate`` from the FIFO, silence after what it holds."""
        fifo = self._fifo
        if len(fifo) >= n:
            out, self._fifo = fifo[:n], fifo[n:]
            return out
        self.underruns += 1
        self._fifo = silence(0)
        return np.concatenate((fifo, silence(n - len(fifo))))

    def read_frame(self, samples: int, sample_rate: int) -> Pcm:
        """``samples`` at ``sample_rate``: the queued PCM, resampled when the rates differ."""
        self.frames_read += 1
        if sample_rate == self.sample_rate:
            return self._take(samples)
        resampler = self._resampler
        if resampler is None or resampler.out_rate != sample_rate:
            resampler = self._resampler = StreamingResampler(self.sample_rate, sample_rate)
        resampler.push(self._take(resampler.input_needed(samples)))
        return resampler.pull(samples)
