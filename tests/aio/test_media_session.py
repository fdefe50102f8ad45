"""AudioSession over real UDP sockets on 127.0.0.1, about a second of audio per test.

Proves:
- two sessions configured from a real SDP offer/answer (their local ports in the m=
  lines) exchange audio: A plays a 440 Hz ToneSource, B records to WAV, and the
  recording's dominant frequency is 440 Hz with an RMS level above a floor;
- DTMF "1#" sent by A reaches B's on_dtmf exactly once per digit, in order;
- RTCP flows both ways (short interval) and gives A a round-trip time;
- PCMA works too, playing a 16 kHz WAV file into the call: play_file's future resolves
  True at the end of the file, on_playback_finished is told, and B hears 1 kHz;
- ports come from the configured range (even RTP port, RTCP + 1), a full range raises;
- close() finalises the recording even without stop_recording(), including when the
  owning task is cancelled: the WAV header is valid and its duration matches the frames
  written (about the time recorded); close() sends RTCP BYE (the peer's stream sees
  it) and is idempotent;
- configure() again (hold by re-INVITE to the same address) stops the side that no
  longer sends while the other keeps sending, and keeps the symmetric RTP latch.
"""

from __future__ import annotations

import asyncio
import math
import socket
import wave
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voipkit.aio.errors import TransportError
from voipkit.aio.media_session import AudioSession
from voipkit.base.ids import SequentialIds
from voipkit.media.codecs import DEFAULT_CODECS
from voipkit.media.frames import dominant_frequency, level_dbfs
from voipkit.media.ports import ToneSource
from voipkit.sdp import Direction, create_offer, negotiate_answer, process_answer

HOST = "127.0.0.1"


def _free_range(size: int, start: int = 43000) -> tuple[int, int]:
    """A run of ``size`` ports starting even, all currently bindable."""
    for base in range(start, 60000, 64):
        socks = []
        try:
            for p in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((HOST, p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base, base + size - 1
    raise RuntimeError("no free port run")


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 15))


def connect(a: AudioSession, b: AudioSession, codec: str = "PCMU") -> None:
    """Offer from A, answer from B, each configured with its side of the result."""
    caps = [c for c in DEFAULT_CODECS.capabilities() if c.encoding == codec]
    offer = create_offer(capabilities=caps, address=HOST, port=a.local_port,
                         session_id=1, session_version=1)
    answer, (b_media,) = negotiate_answer(offer, capabilities=caps, address=HOST,
                                          port=b.local_port, session_id=2, session_version=1)
    (a_media,) = process_answer(offer, answer)
    assert a_media.send_codec.encoding == codec and a_media.telephone_event_pt == 101
    a.configure(a_media)
    b.configure(b_media)


def read_wav(path: Path) -> tuple[np.ndarray[Any, np.dtype[np.int16]], int, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        frames = w.getnframes()
        pcm = np.frombuffer(w.readframes(frames), dtype="<i2").astype(np.int16)
        return pcm, w.getframerate(), frames


def test_tone_reaches_the_recording_and_dtmf_arrives_once(tmp_path: Path) -> None:
    record = tmp_path / "b.wav"
    digits: list[str] = []

    async def main() -> None:
        low, high = _free_range(8)
        a = await AudioSession.open(HOST, (low, high), SequentialIds("a"))
        b = await AudioSession.open(HOST, (low, high), SequentialIds("b"))
        try:
            connect(a, b)
            for s in (a, b):
                assert s.stream is not None
                s.stream.rtcp_interval = 0.2
                s.stream.next_rtcp_at = 0.0
            b.on_dtmf = digits.append
            a.set_source(ToneSource(440, level_dbfs=-10.0))
            b.start_recording(record)
            a.start()
            b.start()
            await asyncio.sleep(0.8)
            a.send_dtmf("1#", 0.1)
            await asyncio.sleep(0.7)
            stats_a, stats_b = a.statistics(), b.statistics()
        finally:
            await a.close()
            await b.close()
        assert digits == ["1", "#"]
        assert stats_b["codec"] == "PCMU" and stats_b["dtmf_received"] == 2
        assert isinstance(stats_b["packets_received"], int) and stats_b["packets_received"] > 50
        assert stats_b["lost"] == 0 and stats_b["malformed"] == 0
        assert stats_a["dtmf_sent"] == 2
        assert stats_a["latched"] == 1 and stats_b["latched"] == 1  # symmetric RTP
        assert isinstance(stats_a["rtt_ms"], float) and 0 <= stats_a["rtt_ms"] < 100
        assert isinstance(stats_b["rtcp_received"], int) and stats_b["rtcp_received"] >= 2
        assert not b.recording and a.closed and b.closed

    run(main)
    pcm, rate, frames = read_wav(record)
    assert rate == 8000
    assert 1.2 < frames / rate < 1.8  # about the 1.5 s recorded
    steady = pcm[rate // 5: int(0.75 * rate)]  # after the jitter delay, before DTMF
    assert abs(dominant_frequency(steady, rate) - 440) < 3
    assert level_dbfs(steady) > -14  # a -10 dBFS tone through G.711


def test_pcma_plays_a_wav_file_into_the_call(tmp_path: Path) -> None:
    source = tmp_path / "tone.wav"
    rate_in = 16000
    t = np.arange(int(0.6 * rate_in)) / rate_in
    with wave.open(str(source), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_in)
        w.writeframes((8000 * np.sin(2 * math.pi * 1000 * t)).astype("<i2").tobytes())
    record = tmp_path / "heard.wav"
    finished: list[tuple[str, bool]] = []

    async def main() -> None:
        low, high = _free_range(8, start=45000)
        async with (await AudioSession.open(HOST, (low, high), SequentialIds("a")) as a,
                    await AudioSession.open(HOST, (low, high), SequentialIds("b")) as b):
            connect(a, b, "PCMA")
            a.on_playback_finished = lambda path, done: finished.append((path, done))
            b.start_recording(record)
            done = a.play_file(source)
            a.start()
            b.start()
            assert await asyncio.wait_for(done, 3) is True
            await asyncio.sleep(0.15)
            assert b.stop_recording() == str(record)
            assert a.statistics()["codec"] == "PCMA" and b.statistics()["payload_type"] == 8

    run(main)
    assert finished == [(str(source), True)]
    pcm, rate, _ = read_wav(record)
    heard = pcm[np.abs(pcm) > 500]
    assert len(heard) > 0.4 * rate
    assert abs(dominant_frequency(pcm, rate) - 1000) < 5


def test_ports_come_from_the_range() -> None:
    async def main() -> None:
        low, high = _free_range(4, start=47000)
        first = await AudioSession.open(HOST, (low, high), SequentialIds("a"))
        second = await AudioSession.open(HOST, (low, high), SequentialIds("b"))
        try:
            assert {first.local_port, second.local_port} == {low, low + 2}
            for s in (first, second):
                assert s.sockets.rtcp_port == s.local_port + 1 and s.local_ip == HOST
            with pytest.raises(TransportError, match=f"{low}-{high}"):
                await AudioSession.open(HOST, (low, high), SequentialIds("c"))
        finally:
            await first.close()
            await second.close()
        again = await AudioSession.open(HOST, (low, high), SequentialIds("d"))
        assert again.local_port == low  # closed sessions give their ports back
        await again.close()

    run(main)


def test_close_finalises_the_recording_even_when_cancelled(tmp_path: Path) -> None:
    record = tmp_path / "cut.wav"

    async def main() -> None:
        low, high = _free_range(8, start=49000)
        a = await AudioSession.open(HOST, (low, high), SequentialIds("a"))
        b = await AudioSession.open(HOST, (low, high), SequentialIds("b"))
        connect(a, b)
        a.set_source(ToneSource(440))
        a.start()
        started = asyncio.Event()

        async def owner() -> None:
            async with b:
                b.start_recording(record)
                b.start()
                started.set()
                await asyncio.sleep(30)  # cancelled long before

        task = asyncio.create_task(owner())
        await started.wait()
        await asyncio.sleep(0.6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert b.closed and not b.recording and b.sockets.closed
        await b.close()  # idempotent
        await asyncio.sleep(0.05)
        assert a.stream is not None and a.stream.remote_bye  # B's RTCP BYE arrived
        await a.close()

    run(main)
    pcm, rate, frames = read_wav(record)
    assert frames == len(pcm) and 0.5 < frames / rate < 0.8
    assert abs(dominant_frequency(pcm[rate // 5:], rate) - 440) < 3


def test_reconfigure_for_hold_stops_sending_and_keeps_the_latch() -> None:
    async def main() -> None:
        low, high = _free_range(8, start=51000)
        async with (await AudioSession.open(HOST, (low, high), SequentialIds("a")) as a,
                    await AudioSession.open(HOST, (low, high), SequentialIds("b")) as b):
            caps = [c for c in DEFAULT_CODECS.capabilities() if c.encoding == "PCMU"]
            offer = create_offer(capabilities=caps, address=HOST, port=a.local_port,
                                 session_id=1, session_version=1)
            answer, (b_media,) = negotiate_answer(offer, capabilities=caps, address=HOST,
                                                  port=b.local_port, session_id=2,
                                                  session_version=1)
            (a_media,) = process_answer(offer, answer)
            a.configure(a_media)
            b.configure(b_media)
            a.set_source(ToneSource(440))
            a.start()
            b.start()
            await asyncio.sleep(0.3)
            assert a.sockets.latched and b.sockets.latched
            # B is put on hold: A now only sends (sendonly), B only receives (recvonly)
            a.configure(replace(a_media, direction=Direction.SENDONLY))
            b.configure(replace(b_media, direction=Direction.RECVONLY))
            assert a.sockets.latched and b.sockets.latched  # same address: latch kept
            sent_by_b = b.statistics()["packets_sent"]
            received_by_b = b.statistics()["packets_received"]
            await asyncio.sleep(0.3)
            assert b.statistics()["packets_sent"] == sent_by_b
            assert isinstance(received_by_b, int)
            received_now = b.statistics()["packets_received"]
            assert isinstance(received_now, int) and received_now > received_by_b + 5
            assert b.running and a.running

    run(main)
