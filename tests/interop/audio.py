"""Tone WAV files for the interop peers' "microphones" and analysis of what they recorded.

Knows: 16-bit PCM WAV (RIFF) as written by Python's ``wave``, libsndfile (baresip's
``sndfile`` filter) and mediastreamer2 (linphonec ``record``); numpy FFT/RMS maths.
Must not know: any peer or voipkit API. sox is deliberately not used: it is not on
every user's machine, numpy and the stdlib are.

Pitfalls handled here:
- A WAV written by a process that is still running (linphonec's ``record`` file before
  ``quit``, baresip's dump during a call) can have a zero or bogus length in its RIFF
  header. :func:`read_wav` then takes the data chunk to the end of the file.
- ``sox stat``'s "Rough frequency" is only rough (437 Hz for 440 Hz). The FFT estimate
  here interpolates between bins and is within about 1 Hz for a clean tone; still compare
  against the sent tone with a tolerance, because G.711 and jitter buffers add a little
  noise and the start/end of a call add silence.
"""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float64]


def write_tone(path: Path, frequency: float, seconds: float, *, rate: int = 8000,
               amplitude: float = 0.5) -> Path:
    """Write a mono 16-bit PCM sine of ``frequency`` Hz; peak ``amplitude`` of full scale.

    baresip's ``aufile`` stops at EOF and linphonec's ``play`` too, so make the tone
    longer than the call it feeds. A 0.5 amplitude sine has RMS 0.354 (-9.0 dBFS).
    """
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    pcm = np.round(amplitude * 32767.0 * np.sin(2.0 * math.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def write_silence(path: Path, seconds: float, *, rate: int = 8000) -> Path:
    """A mono 16-bit WAV of digital silence (a muted "microphone")."""
    return write_tone(path, 0.0, seconds, rate=rate, amplitude=0.0)


@dataclass(frozen=True)
class Wav:
    """Decoded PCM: samples in [-1, 1) (channels mixed down to mono) and the sample rate."""

    samples: Samples
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


def read_wav(path: Path) -> Wav:
    """Read a 16-bit (or 8-bit / 32-bit) PCM WAV, tolerating an unfinished header.

    Walks the RIFF chunks itself rather than using ``wave``: a writer that has not closed
    its file yet leaves the data chunk length at 0 (or larger than the file); the samples
    are then everything after the chunk header.
    """
    data = Path(path).read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file ({len(data)} bytes)")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise ValueError(f"{path}: data chunk before fmt chunk")
            end = body + size if 0 < size <= len(data) - body else len(data)
            return _decode(data[body:end], *fmt, path=path)
        pos = body + size + (size & 1)
    if fmt is not None:  # header written, no data chunk yet: nothing recorded
        return Wav(np.zeros(0), fmt[2])
    raise ValueError(f"{path}: no fmt/data chunk")


def _decode(raw: bytes, tag: int, channels: int, rate: int, bits: int, *, path: Path) -> Wav:
    if tag == 3 and bits == 32:  # IEEE float
        frames = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<f4").astype(np.float64)
    elif tag in (1, 0xFFFE) and bits == 16:
        frames = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2") / 32768.0
    elif tag in (1, 0xFFFE) and bits == 32:
        frames = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<i4") / 2147483648.0
    elif tag == 1 and bits == 8:
        frames = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    else:
        raise ValueError(f"{path}: unsupported WAV format tag={tag} bits={bits}")
    channels = max(channels, 1)
    usable = len(frames) // channels * channels
    mono = frames[:usable].reshape(-1, channels).mean(axis=1)
    return Wav(np.asarray(mono, dtype=np.float64), rate)


def rms(samples: Samples) -> float:
    """Root mean square in full-scale units (0.354 for a 0.5-amplitude sine)."""
    if len(samples) == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples))))


def rms_dbfs(samples: Samples) -> float:
    """RMS in dBFS (0 dBFS = a full-scale square wave); -inf for silence."""
    value = rms(samples)
    return 20.0 * math.log10(value) if value > 0 else float("-inf")


def dominant_frequency(samples: Samples, rate: int) -> float:
    """The frequency (Hz) of the strongest spectral peak, DC excluded.

    Hann-windowed real FFT with parabolic interpolation on the log magnitude of the peak
    bin and its neighbours. 0.0 for silence or fewer than 64 samples.
    """
    if len(samples) < 64 or rms(samples) == 0.0:
        return 0.0
    x = samples - np.mean(samples)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    offset = 0.0
    if 0 < k < len(spectrum) - 1:
        a, b, c = (math.log(max(float(v), 1e-12)) for v in spectrum[k - 1:k + 2])
        denom = a - 2 * b + c
        if denom != 0:
            offset = 0.5 * (a - c) / denom
    return (k + offset) * rate / len(x)


def active(samples: Samples, rate: int, *, threshold_dbfs: float = -40.0,
           window: float = 0.02) -> Samples:
    """The samples from the first to the last 20 ms window louder than ``threshold_dbfs``.

    Trims the silence a recorder writes before media starts and after it stops, so the
    RMS of a received tone is comparable with the RMS of the sent one.
    """
    step = max(1, int(rate * window))
    n = len(samples) // step
    if n == 0:
        return samples[:0]
    blocks = samples[: n * step].reshape(n, step)
    level = np.sqrt(np.mean(np.square(blocks), axis=1))
    loud = np.nonzero(level > 10 ** (threshold_dbfs / 20.0))[0]
    if len(loud) == 0:
        return samples[:0]
    return samples[loud[0] * step:(loud[-1] + 1) * step]


@dataclass(frozen=True)
class ToneStats:
    """What a WAV contains: total length, and frequency/level of its non-silent part."""

    seconds: float
    active_seconds: float
    frequency: float
    rms: float
    dbfs: float

    def matches(self, frequency: float, *, tolerance: float = 0.05, min_rms: float = 0.05,
                min_seconds: float = 1.0) -> bool:
        """A tone of ``frequency`` (within ``tolerance``, relative) and audible length/level."""
        return (abs(self.frequency - frequency) <= tolerance * frequency
                and self.rms >= min_rms and self.active_seconds >= min_seconds)


def analyse(path: Path) -> ToneStats:
    """Length, dominant frequency and RMS of a WAV file (leading/trailing silence trimmed)."""
    wav = read_wav(path)
    loud = active(wav.samples, wav.rate)
    return ToneStats(
        seconds=wav.seconds,
        active_seconds=len(loud) / wav.rate if wav.rate else 0.0,
        frequency=dominant_frequency(loud, wav.rate),
        rms=rms(loud),
        dbfs=rms_dbfs(loud),
    )


def duration(path: Path) -> float:
    """Length in seconds of a (possibly unfinished) WAV file."""
    return read_wav(path).seconds


def newest(directory: Path, pattern: str) -> Path | None:
    """The most recently modified file matching ``pattern`` in ``directory``, if any."""
    files = sorted(Path(directory).glob(pattern), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return files[-1] if files else None


def baresip_received(snd_path: Path) -> Path | None:
    """baresip's dump of what the peer sent in the newest call (``dump-<time>-dec.wav``).

    The ``sndfile`` filter writes ``-enc.wav`` (what baresip sent) and ``-dec.wav``
    (what it received, decoded) per call, named by the second the call's audio started.
    """
    return newest(snd_path, "dump-*-dec.wav")
