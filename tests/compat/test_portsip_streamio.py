"""The facade's stream I/O functions between PortSIPLib instances on 127.0.0.1.

Proves, through the vendor-shaped facade:
- muteMicrophone(true) silences the caller's microphone (the callee records silence)
  while a file played with startPlayingFileToRemote is still recorded by the callee;
  muteMicrophone(false) brings the microphone back;
- muteSpeaker(true) gives the device's speaker silence while startRecord still records
  the caller's audio;
- setChannelOutputVolumeScaling(50) halves the received level (within 1 dB) and
  setChannelInputVolumeScaling(200) doubles the sent one; values outside [0, 1000]
  are INVALID_ARGUMENT, an unknown session INVALID_SESSION_ID;
- without initialize the functions return NOT_INITIALIZED.
"""

from __future__ import annotations

import concurrent.futures
import math
import struct
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import FILE_FORMAT, RECORD_MODE, ErrorCode, PortSIPLib
from voipkit.media.frames import Pcm
from voipkit.media.ports import ToneSource

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
T = TypeVar("T")


def _connect(pair: Pair) -> tuple[int, int]:
    caller, caller_events, callee, callee_events = pair
    callee_events.hooks["onInviteIncoming"] = lambda sid, *rest: callee.answerCall(sid, False)
    sid = caller.call(f"sip:bob@127.0.0.1:{sip_port(callee)}", True, False)
    assert sid > 0
    caller_events.wait("onInviteConnected", lambda a: a == (sid,))
    callee_sid: int = callee_events.wait("onInviteConnected")[0]
    return sid, callee_sid


def _on_loop(lib: PortSIPLib, fn: Callable[[], T]) -> T:
    """Run ``fn`` on the library's I/O loop (where voipkit objects live)."""
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


def _set_microphone(lib: PortSIPLib, sid: int, hz: float, dbfs: float) -> None:
    def run() -> None:
        call = lib.phone.call_by_id(sid) if lib.phone is not None else None
        assert call is not None and call.audio is not None
        call.audio.microphone = ToneSource(hz, dbfs)
    _on_loop(lib, run)


class _Collect:
    def __init__(self) -> None:
        self.frames: list[Pcm] = []

    def write_frame(self, frame: Pcm, sample_rate: int) -> None:
        self.frames.append(frame.copy())


def _tone(path: Path, seconds: float, freq: float, rate: int = 8000) -> str:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i
                                                                       / rate)))
                               for i in range(int(seconds * rate))))
    return str(path)


def _rms(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(np.square(data[800:])))) if len(data) > 800 else 0.0


def _record(lib: PortSIPLib, sid: int, folder: Path, name: str, seconds: float) -> float:
    """The RMS of what ``sid`` receives for ``seconds`` (after 0.3 s to settle)."""
    time.sleep(0.3)
    assert lib.startRecord(sid, str(folder), name, False, 1, FILE_FORMAT.FILEFORMAT_WAVE,
                           RECORD_MODE.RECORD_RECV, RECORD_MODE.RECORD_NONE) == 0
    time.sleep(seconds)
    assert lib.stopRecord(sid) == 0
    return _rms(folder / name)


def test_mute_microphone_keeps_the_file_and_mute_speaker_keeps_the_recording(
        pair: Pair, tmp_path: Path) -> None:
    alice, _, bob, _ = pair
    assert alice.muteMicrophone(True) == 0
    sid, bob_sid = _connect(pair)
    _set_microphone(alice, sid, 440.0, -10.0)
    assert _record(bob, bob_sid, tmp_path, "muted.wav", 0.6) < 30
    song = _tone(tmp_path / "song.wav", 3.0, 600.0)
    assert alice.startPlayingFileToRemote(sid, song, True, 2) == 0
    assert _record(bob, bob_sid, tmp_path, "file.wav", 0.6) > 3000
    assert alice.stopPlayingFileToRemote(sid) == 0
    assert alice.muteMicrophone(False) == 0
    assert _record(bob, bob_sid, tmp_path, "mic.wav", 0.6) > 3000

    speaker = _Collect()

    def attach() -> None:
        call = bob.phone.call_by_id(bob_sid) if bob.phone is not None else None
        assert call is not None and call.audio is not None
        call.audio.speaker = speaker
    _on_loop(bob, attach)
    assert bob.muteSpeaker(True) == 0
    time.sleep(0.2)
    speaker.frames.clear()
    assert _record(bob, bob_sid, tmp_path, "kept.wav", 0.6) > 3000
    assert len(speaker.frames) >= 20 and not any(f.any() for f in speaker.frames)
    assert bob.muteSpeaker(False) == 0
    time.sleep(0.2)
    assert any(f.any() for f in speaker.frames[-5:])


def test_channel_volume_scaling(pair: Pair, tmp_path: Path) -> None:
    alice, _, bob, _ = pair
    sid, bob_sid = _connect(pair)
    _set_microphone(alice, sid, 440.0, -20.0)
    base = _record(bob, bob_sid, tmp_path, "base.wav", 0.6)
    assert bob.setChannelOutputVolumeScaling(bob_sid, 50) == 0
    half = _record(bob, bob_sid, tmp_path, "half.wav", 0.6)
    assert abs(20 * math.log10(half / base) + 6.02) < 1.0
    assert bob.setChannelOutputVolumeScaling(bob_sid, 100) == 0
    assert alice.setChannelInputVolumeScaling(sid, 200) == 0
    double = _record(bob, bob_sid, tmp_path, "double.wav", 0.6)
    assert abs(20 * math.log10(double / base) - 6.02) < 1.0

    for bad in (-1, 1001):
        assert alice.setChannelInputVolumeScaling(sid, bad) == ErrorCode.INVALID_ARGUMENT
        assert alice.setChannelOutputVolumeScaling(sid, bad) == ErrorCode.INVALID_ARGUMENT
    assert alice.setChannelInputVolumeScaling(sid + 999, 100) == ErrorCode.INVALID_SESSION_ID


def test_stream_io_needs_initialize() -> None:
    lib = PortSIPLib(Recorder())
    assert lib.muteMicrophone(True) == ErrorCode.NOT_INITIALIZED
    assert lib.muteSpeaker(True) == ErrorCode.NOT_INITIALIZED
    assert lib.setChannelInputVolumeScaling(1, 100) == ErrorCode.NOT_INITIALIZED
    assert lib.setChannelOutputVolumeScaling(1, 100) == ErrorCode.NOT_INITIALIZED
