"""Speech quality of voipkit <-> voipkit calls on 127.0.0.1, measured with PESQ (ITU-T P.862).

PESQ depends on the speech and on the codec itself, so each call is compared with the
same codec's encode -> decode chain on the same speech, computed here: the caller's
stream configuration driven sans-IO into the callee's (same encoder, decoder and
resamplers, a perfect network). The speech is ``voipkit/data/speech-8k.wav``, sent as
the caller's microphone from the first tick; the reference is what the caller encoded
(the ``send`` tap) and the degraded signal what the callee played (the ``recv`` tap).

Proves:
- at 0 % loss, PCMU (narrowband), G.722 and Opus (wideband) calls score within 0.1 PESQ
  of their chain, and within 0.02 of its STOI (intelligibility, pystoi);
- with 5 % random loss (seeded, by RTP sequence number, the same packets in both calls),
  PCMU with packet-loss concealment scores at least 0.4 above the same call playing
  silence for the lost packets;
- with the same 5 % loss, an Opus call whose phones ask for ``useinbandfec=1`` (so the
  sender codes LBRR; not the default) that rebuilds lost frames from the next packet's
  in-band FEC scores higher than the same call using libopus PLC alone;
- the one-way mouth-to-ear delay the call adds on loopback (capture tick to playout
  tick, jitter buffer included) is under 60 ms at 0 % loss.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pesq import pesq  # type: ignore[import-untyped]
from pystoi import stoi  # type: ignore[import-untyped]

from voipkit import api
from voipkit.api import IncomingCall, Phone, PhoneConfig
from voipkit.base.ids import SequentialIds
from voipkit.media.frames import Pcm
from voipkit.media.ports import WavFileSource
from voipkit.media.rtp import RtpPacket, is_rtcp
from voipkit.media.stream import RtpStream, StreamConfig

SPEECH = Path(str(files("voipkit.data") / "speech-8k.wav"))
PTIME = 0.02
TAIL = 1.0
"Seconds of the call after the speech, so its end has reached the callee."


@dataclass
class Taken:
    """What one side's tap saw: (tick time, frame) pairs at ``rate``."""

    rate: int
    frames: list[tuple[float, Pcm]]

    @property
    def pcm(self) -> Pcm:
        return np.concatenate([f for _, f in self.frames])

    def time_of(self, sample: int) -> float:
        n = len(self.frames[0][1])
        return self.frames[sample // n][0] + (sample % n) / self.rate


@dataclass
class CallResult:
    sent: Taken
    played: Taken
    send_config: StreamConfig
    receive_config: StreamConfig
    stats: dict[str, Any]


def _config(codec: str, parameters: str | None = None) -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(codecs=(codec,), rtp_port_range=(40000, 44999),
                                             codec_parameters={} if parameters is None
                                             else {codec: parameters}))


def _speech_frames() -> int:
    source = WavFileSource(SPEECH)
    try:
        count = 0
        while not source.finished:
            source.read_frame(160, 8000)
            count += 1
        return count
    finally:
        source.close()


async def _call(codec: str, *, loss: float = 0.0, seed: int = 5,
                concealment: bool = True, fec: bool = True,
                parameters: str | None = None) -> CallResult:
    alice, bob = Phone(_config(codec, parameters)), Phone(_config(codec, parameters))
    await alice.start()
    await bob.start()
    loop = asyncio.get_running_loop()
    frames_wanted = _speech_frames() + round(TAIL / PTIME)
    done = loop.create_future()
    sent: list[tuple[float, Pcm]] = []
    played: list[tuple[float, Pcm]] = []
    rates: dict[str, int] = {}
    try:
        answered: asyncio.Future[api.Call] = loop.create_future()

        def lossy(handler: Any) -> Any:
            rng = random.Random(seed)
            drops: dict[int, bool] = {}
            first: list[int] = []

            def on_rtp(data: bytes, source: tuple[str, int], arrival: float) -> None:
                if not is_rtcp(data):
                    seq = RtpPacket.parse(data).sequence_number
                    if not first:
                        first.append(seq)
                    index = (seq - first[0]) & 0xFFFF
                    while len(drops) <= index:  # one draw per packet, in sequence order
                        drops[len(drops)] = rng.random() < loss
                    if drops[index]:
                        return
                handler(data, source, arrival)
            return on_rtp

        @bob.bus.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer()
            audio = event.call.audio
            assert audio is not None and audio.stream is not None
            audio.stream.concealment = concealment
            audio.stream.fec = fec
            if loss:
                audio.sockets.on_rtp = lossy(audio.sockets.on_rtp)

            def on_played(direction: str, frame: Pcm, rate: int) -> None:
                if direction == "recv":
                    rates["recv"] = rate
                    played.append((audio.tick_time, frame.copy()))
                    if len(played) >= frames_wanted + 10 and not done.done():
                        done.set_result(None)
            audio.on_audio = on_played
            answered.set_result(event.call)

        _, host, port = bob.listening[0]
        call = await alice.call(f"sip:bob@{host}:{port}")
        audio = call.audio
        assert audio is not None
        audio.microphone = WavFileSource(SPEECH)  # the speech starts with the first tick

        def on_sent(direction: str, frame: Pcm, rate: int) -> None:
            if direction == "send":
                rates["send"] = rate
                sent.append((audio.tick_time, frame.copy()))
        audio.on_audio = on_sent
        await call.answered(timeout=5)
        bob_call = await asyncio.wait_for(answered, 5)
        await asyncio.wait_for(done, frames_wanted * PTIME + 10)
        assert audio.stream is not None and bob_call.audio is not None
        assert bob_call.audio.stream is not None
        stats = bob_call.audio.statistics()
        assert stats["clock_skipped"] == 0 and audio.statistics()["clock_skipped"] == 0
        return CallResult(Taken(rates["send"], sent[:frames_wanted]),
                          Taken(rates["recv"], played), audio.stream.config,
                          bob_call.audio.stream.config, stats)
    finally:
        await alice.close()
        await bob.close()


def _chain(result: CallResult) -> Pcm:
    """The sent frames through the call's encoder and decoder, sans-IO, without loss."""
    a = RtpStream(result.send_config, ids=SequentialIds("a"), now=0.0)
    b = RtpStream(result.receive_config, ids=SequentialIds("b"), now=0.0, jitter_delay=0.0)
    out = []
    for n, (_, frame) in enumerate(result.sent.frames):
        now = n * PTIME
        for data in a.encode_frame(frame, now=now):
            b.receive_rtp(data, arrival=now)
        out.append(b.pull_audio(len(frame), now=now))
    for n in range(len(result.sent.frames), len(result.sent.frames) + 10):
        out.append(b.pull_audio(len(result.sent.frames[0][1]), now=n * PTIME))
    return np.concatenate(out)


def _lag(reference: npt.NDArray[np.int16], degraded: npt.NDArray[np.int16]) -> int:
    """The offset of ``reference`` inside ``degraded`` (cross-correlation peak)."""
    ref = reference.astype(np.float64)
    deg = degraded.astype(np.float64)
    size = 1 << (len(ref) + len(deg)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(deg, size) * np.conj(np.fft.rfft(ref, size)), size)
    lag = int(np.argmax(corr[:len(deg)]))
    return lag


def _aligned(reference: Pcm, degraded: Pcm) -> tuple[Pcm, int]:
    lag = _lag(reference, degraded)
    aligned = degraded[lag:lag + len(reference)]
    if len(aligned) < len(reference):
        aligned = np.concatenate((aligned, np.zeros(len(reference) - len(aligned), np.int16)))
    return aligned, lag


def _pesq(rate: int, reference: Pcm, degraded: Pcm) -> tuple[float, int]:
    """PESQ (nb at 8 kHz, wb at 16 kHz) of ``degraded`` aligned on ``reference``, and the lag."""
    aligned, lag = _aligned(reference, degraded)
    mode = "nb" if rate == 8000 else "wb"
    return float(pesq(rate, reference.astype(np.float32), aligned.astype(np.float32), mode)), lag


def _stoi(rate: int, reference: Pcm, degraded: Pcm) -> float:
    aligned, _ = _aligned(reference, degraded)
    return float(stoi(reference.astype(np.float64), aligned.astype(np.float64), rate))


@pytest.mark.parametrize(("codec", "rate"), [("PCMU", 8000), ("G722", 16000),
                                             ("opus", 16000)])
def test_call_scores_within_0_1_pesq_of_the_codec_chain(codec: str, rate: int) -> None:
    result = asyncio.run(_call(codec))
    assert result.sent.rate == result.played.rate == rate
    reference = result.sent.pcm
    chain, _ = _pesq(rate, reference, _chain(result))
    call, lag = _pesq(rate, reference, result.played.pcm)
    print(f"{codec}: chain {chain:.3f}, call {call:.3f}")
    assert chain > 2.5  # the chain itself is sane (the speech got through the codec)
    assert call >= chain - 0.1, (codec, chain, call)
    chain_stoi = _stoi(rate, reference, _chain(result))
    call_stoi = _stoi(rate, reference, result.played.pcm)
    print(f"{codec}: STOI chain {chain_stoi:.3f}, call {call_stoi:.3f}")
    assert call_stoi >= chain_stoi - 0.02
    # mouth to ear: the tick that played a sample minus the tick that captured it
    delays = [result.played.time_of(i + lag) - result.sent.time_of(i)
              for i in range(0, len(reference), rate // 10)]
    delay = float(np.median(delays))
    print(f"{codec}: mouth-to-ear {1000 * delay:.1f} ms")
    assert 0 <= delay < 0.060, delay


def test_concealment_beats_silence_by_0_4_pesq_at_5_percent_loss() -> None:
    concealed = asyncio.run(_call("PCMU", loss=0.05, concealment=True))
    silent = asyncio.run(_call("PCMU", loss=0.05, concealment=False))
    for result in (concealed, silent):
        lost = result.stats["lost"]
        assert isinstance(lost, int) and 0.03 * len(result.sent.frames) < lost \
            < 0.08 * len(result.sent.frames)
    # the same packets are dropped (seeded by sequence number); a call may end one packet
    # earlier than the other, which can leave its last drop unseen
    assert abs(concealed.stats["lost"] - silent.stats["lost"]) <= 1, (  # type: ignore[operator]
        concealed.stats["lost"], silent.stats["lost"])
    with_plc, _ = _pesq(8000, concealed.sent.pcm, concealed.played.pcm)
    without, _ = _pesq(8000, silent.sent.pcm, silent.played.pcm)
    print(f"5 % loss: PLC {with_plc:.3f}, silence {without:.3f}")
    assert with_plc >= without + 0.4, (with_plc, without)


def test_opus_fec_beats_plc_alone_at_5_percent_loss() -> None:
    # both calls send LBRR (asked for); only the receiver's use of it differs
    with_fec = asyncio.run(_call("opus", loss=0.05, fec=True, parameters="useinbandfec=1"))
    plc_only = asyncio.run(_call("opus", loss=0.05, fec=False, parameters="useinbandfec=1"))
    lost = (with_fec.stats["lost"], plc_only.stats["lost"])
    assert isinstance(lost[0], int) and isinstance(lost[1], int) and lost[0] > 0
    # the same seeded drops by sequence number; the calls may stop a packet apart
    assert abs(lost[0] - lost[1]) <= 1, lost
    assert with_fec.stats["fec_frames"] > 0 and plc_only.stats["fec_frames"] == 0
    rate = with_fec.played.rate
    fec_score, _ = _pesq(rate, with_fec.sent.pcm, with_fec.played.pcm)
    plc_score, _ = _pesq(rate, plc_only.sent.pcm, plc_only.played.pcm)
    print(f"opus 5 % loss: FEC {fec_score:.3f} ({with_fec.stats['fec_frames']} frames), "
          f"PLC alone {plc_score:.3f}")
    assert fec_score > plc_score + 0.2, (fec_score, plc_score)
