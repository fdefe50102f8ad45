"""`voipkit demo`: the PortSIP manual's P2P sample, for real, on loopback.

Knows: the public ``voipkit.api`` only, like an application. Must not know:
anything below it.

Two user agents, "111" and "222", listen on 127.0.0.1 (ports the kernel picks)
with no server between them. 111 calls 222; 222 rings and answers and records
what it hears; 111 plays a short speech file (made with espeak-ng and shipped in
the package), sends DTMF, holds and resumes the call, then hangs up. Every
callback is printed as it happens, under the manual's callback names, followed
by a report (codec, packets, loss, jitter) and a check that the recording on
disk really contains the speech that was sent.
"""

from __future__ import annotations

import asyncio
import sys
import time
import wave
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from voipkit.api import (
    AccountConfig,
    CallAnswered,
    CallConnected,
    CallEnded,
    CallProgress,
    CallTrying,
    DtmfReceived,
    IncomingCall,
    MediaConfig,
    Phone,
    PhoneConfig,
    PlaybackFinished,
    RemoteHold,
    RemoteUnhold,
)

SPEECH = "speech-8k.wav"
DTMF = "1234#"


class Timeline:
    """Prints events with the time since the demo started."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.lines: list[str] = []

    def __call__(self, who: str, what: str) -> None:
        line = f"[{time.monotonic() - self.start:6.3f}s] {who:<4} {what}"
        self.lines.append(line)
        print(line, flush=True)


def _read_pcm(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def speech_similarity(sent: np.ndarray, received: np.ndarray) -> float:
    """Best Pearson correlation (-1..1) of the 10 ms loudness envelopes over all alignments.

    Robust to the codec and to the delay before the speech starts in the recording:
    the received envelope is slid along the sent one and each window is compared
    with its own mean and deviation.
    """
    def envelope(x: np.ndarray) -> np.ndarray:
        frames = len(x) // 80
        blocks = x[: frames * 80].astype(np.float64).reshape(frames, 80)
        return np.sqrt((blocks**2).mean(axis=1))

    a, b = envelope(sent), envelope(received)
    n = len(a)
    if n < 2 or len(b) < n:
        return 0.0
    a = (a - a.mean()) / (a.std() + 1e-12)
    sums = np.concatenate(([0.0], np.cumsum(b)))
    squares = np.concatenate(([0.0], np.cumsum(b * b)))
    means = (sums[n:] - sums[:-n]) / n
    stds = np.sqrt(np.maximum((squares[n:] - squares[:-n]) / n - means**2, 0.0)) + 1e-12
    dots = np.correlate(b, a, mode="valid") / n  # a has zero mean, so the window mean drops
    return float((dots / stds).max())


async def run(out_dir: Path) -> int:
    timeline = Timeline()
    out_dir.mkdir(parents=True, exist_ok=True)
    recording = out_dir / "recording.wav"
    config = PhoneConfig(listen=("udp:127.0.0.1:0",),
                         media=MediaConfig(rtp_port_range=(40000, 40999)))
    caller, callee = Phone(config), Phone(config)
    await caller.start()
    await callee.start()
    _, host, port = callee.listening[0]
    timeline("222", f"initialized: udp:{host}:{port}")
    timeline("111", f"initialized: udp:{caller.listening[0][1]}:{caller.listening[0][2]}")
    account = await caller.add_account(AccountConfig(user="111", domain=host))
    ended = asyncio.Event()
    played = asyncio.Event()

    @callee.on(IncomingCall)
    async def on_incoming(event: IncomingCall) -> None:
        timeline("222", f"onInviteIncoming from {event.call.remote.uri}")
        await event.call.ring()
        timeline("222", "sent 180 Ringing")
        event.call.record(recording)
        await asyncio.sleep(0.3)
        await event.call.answer()
        timeline("222", "answerCall -> 200 OK")

    callee.on(CallConnected)(lambda e: timeline("222", "onInviteConnected"))
    callee.on(DtmfReceived)(lambda e: timeline("222", f"onRecvDtmfTone {e.digit} ({e.method})"))
    callee.on(RemoteHold)(lambda e: timeline("222", "onRemoteHold"))
    callee.on(RemoteUnhold)(lambda e: timeline("222", "onRemoteUnHold"))
    callee.on(CallEnded)(lambda e: (timeline("222", f"onInviteClosed ({e.reason})"), ended.set()))
    caller.on(CallTrying)(lambda e: timeline("111", "onInviteTrying"))
    caller.on(CallProgress)(lambda e: timeline("111", f"onInviteRinging {e.status} {e.reason}"))
    caller.on(CallAnswered)(lambda e: timeline("111", "onInviteAnswered"))
    caller.on(CallConnected)(lambda e: timeline("111", "onInviteConnected"))
    caller.on(PlaybackFinished)(lambda e: (timeline("111", "onPlayFileFinished"), played.set()))
    caller.on(CallEnded)(lambda e: timeline("111", f"onInviteClosed ({e.reason})"))
    stats: dict[str, object] = {}
    try:
        with as_file(files("voipkit.data") / SPEECH) as speech_path:
            call = await account.call(f"sip:222@{host}:{port}")
            timeline("111", f"call sip:222@{host}:{port} -> session {call.id}")
            await call.answered(timeout=10)
            await asyncio.sleep(0.2)
            call.play(speech_path)
            timeline("111", f"startPlayingFileToRemote {SPEECH}")
            await asyncio.wait_for(played.wait(), 30)
            await asyncio.sleep(0.3)
            await call.send_dtmf(DTMF)
            timeline("111", f"sendDtmf {DTMF} (RFC 4733)")
            await asyncio.sleep(1.2)
            await call.hold()
            timeline("111", "hold")
            await asyncio.sleep(0.8)
            await call.unhold()
            timeline("111", "unHold")
            await asyncio.sleep(0.5)
            stats = dict(call.statistics())
            remote_stats = {}
            for c in callee.calls.values():
                remote_stats = dict(c.statistics())
            await call.hangup()
            timeline("111", "hangUp")
            await asyncio.wait_for(ended.wait(), 10)
            sent, _ = _read_pcm(speech_path)
    finally:
        await caller.close()
        await callee.close()
    received, rate = _read_pcm(recording)
    similarity = speech_similarity(sent, received)
    print("\n=== report ===")
    print(f"  codec            {stats.get('codec')}")
    print(f"  111 sent         {stats.get('packets_sent')} RTP packets")
    print(f"  222 received     {remote_stats.get('packets_received')} RTP packets, "
          f"lost {remote_stats.get('lost')}, jitter {remote_stats.get('jitter_ms', 0):.2f} ms")
    rtt = stats.get("rtt_ms")
    print(f"  round trip       {'n/a' if rtt is None else f'{rtt:.2f} ms'} (RTCP)")
    print(f"  recording        {recording} ({len(received) / rate:.2f} s at {rate} Hz)")
    print(f"  speech check     envelope correlation {similarity:.2f} with the file sent")
    digits = "".join(line.split("onRecvDtmfTone ")[1][0] for line in timeline.lines
                     if "onRecvDtmfTone" in line)
    ok = similarity > 0.6 and digits == DTMF
    print(f"  DTMF received    {digits!r}")
    print("demo OK" if ok else "DEMO FAILED")
    return 0 if ok else 1


def main(out_dir: str = "demo-output") -> int:
    try:
        return asyncio.run(run(Path(out_dir)))
    except Exception as exc:  # a demo failure is reported in one line, not a traceback
        print(f"voipkit demo: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
