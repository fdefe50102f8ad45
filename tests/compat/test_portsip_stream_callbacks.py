"""The facade's stream callbacks, PCM input and RTP keep-alive between two PortSIPLib on 127.0.0.1.

Proves, through the vendor-shaped facade (PCMU, with and without SDES-SRTP):
- enableSendPcmStreamToRemote + sendPcmStreamToRemote: every sample the caller pushes
  (never zero) is what its onAudioRawCallback(DIRECTION_SEND) reports as sent, in
  order (only silence is inserted, where the pusher was late), at 8000 Hz, 320 bytes
  per frame;
- enableRtpCallback(DIRECTION_SEND): each audio packet's payload is the G.711 µ-law
  code of the frame reported sent in the same tick; the callee's
  enableRtpCallback(DIRECTION_RECV) reports exactly the caller's packets, in order
  (unprotected, also when SRTP is on the wire);
- the callee's onAudioRawCallback(DIRECTION_RECV) frames are the µ-law round trip of
  the caller's sent frames, in order (settings made before answerCall apply);
- the 100 ms buffer: 300 ms pushed at once keeps 800 samples and drops and counts 1600,
  which getStatistics reports (``pcm_input``);
  sendPcmStreamToRemote before enabling is INVALID_STATE, odd sizes INVALID_ARGUMENT,
  video mediaType and unknown directions INVALID_ARGUMENT, an unknown session
  INVALID_SESSION_ID; without initialize NOT_INITIALIZED;
- setRtpKeepAlive: while the callee is held (recvonly) it sends header-only RTP packets
  of payload type 126, none while it sent audio before, and the caller counts them as
  an unknown payload type.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pytest
from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import (
    DIRECTION_MODE,
    SRTP_POLICY,
    ErrorCode,
    PortSIPLib,
    SIPCallbackEvents,
)
from voipkit.media.codecs.g711 import ulaw_decode, ulaw_encode
from voipkit.media.rtp import RtpPacket

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
T = TypeVar("T")
SEND = int(DIRECTION_MODE.DIRECTION_SEND)
RECV = int(DIRECTION_MODE.DIRECTION_RECV)
FRAME = 160


def _on_loop(lib: PortSIPLib, fn: Callable[[], T]) -> T:
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


def _args(events: Recorder, name: str) -> list[tuple[Any, ...]]:
    with events._cond:
        return [args for n, args in events.seen if n == name]


def _count(events: Recorder, name: str, predicate: Callable[[tuple[Any, ...]], bool]) -> int:
    return sum(1 for args in _args(events, name) if predicate(args))


def _connect(pair: Pair, before_answer: Callable[[int], None],
             before_connect: Callable[[int], None]) -> tuple[int, int]:
    caller, caller_events, callee, callee_events = pair
    caller_ready = threading.Event()

    def incoming(sid: int, *rest: Any) -> None:
        before_answer(sid)
        assert caller_ready.wait(5)  # the caller's settings are made before media flows
        callee.answerCall(sid, False)

    callee_events.hooks["onInviteIncoming"] = incoming
    sid = caller.call(f"sip:bob@127.0.0.1:{sip_port(callee)}", True, False)
    assert sid > 0
    before_connect(sid)
    caller_ready.set()
    caller_events.wait("onInviteConnected", lambda a: a == (sid,))
    callee_sid: int = callee_events.wait("onInviteConnected")[0]
    return sid, callee_sid


def _signal(n: int, seed: int = 7) -> np.ndarray:
    """Speech-like noise that is never zero (so inserted silence can be told apart)."""
    rng = np.random.default_rng(seed)
    magnitude = rng.integers(200, 9000, n)
    sign = rng.choice(np.array([-1, 1]), n)
    return (magnitude * sign).astype(np.int16)


@pytest.mark.parametrize("srtp", [False, True], ids=["rtp", "srtp"])
def test_pcm_stream_audio_and_rtp_callbacks_carry_the_exact_data(pair: Pair,
                                                                 srtp: bool) -> None:
    alice, alice_events, bob, bob_events = pair
    if srtp:
        for lib in (alice, bob):
            assert lib.setSrtpPolicy(SRTP_POLICY.SRTP_POLICY_FORCE, True) == 0

    def callee_setup(sid: int) -> None:
        assert bob.enableAudioStreamCallback(sid, True, RECV) == 0
        assert bob.enableRtpCallback(sid, 0, RECV) == 0

    def caller_setup(sid: int) -> None:
        assert alice.enableSendPcmStreamToRemote(sid, True, 8000) == 0
        assert alice.enableAudioStreamCallback(sid, True, SEND) == 0
        assert alice.enableRtpCallback(sid, 0, SEND) == 0

    sid, bob_sid = _connect(pair, callee_setup, caller_setup)
    signal = _signal(8000 * 2)  # 2 s
    pushed = 0
    deadline = time.monotonic() + 20
    # closed loop: keep 40-60 ms queued, as reported sent by onAudioRawCallback
    while pushed < len(signal):
        sent = _count(alice_events, "onAudioRawCallback", lambda a: a[1] == SEND) * FRAME
        if pushed - sent < 3 * FRAME:
            chunk = signal[pushed:pushed + FRAME]
            assert alice.sendPcmStreamToRemote(sid, chunk.tobytes(), 2 * len(chunk)) == 0
            pushed += len(chunk)
            continue
        assert time.monotonic() < deadline, "the media clock stopped"
        alice_events.wait("onAudioRawCallback", lambda a: a[1] == SEND,
                          count=sent // FRAME + 1)
    alice_events.wait("onAudioRawCallback", lambda a: a[1] == SEND,
                      count=sent // FRAME + 8)
    bob_events.wait("onAudioRawCallback", lambda a: a[1] == RECV, count=110)
    assert alice.enableAudioStreamCallback(sid, False, SEND) == 0
    assert alice.enableRtpCallback(sid, 0, DIRECTION_MODE.DIRECTION_NONE) == 0
    assert bob.enableAudioStreamCallback(bob_sid, False, RECV) == 0
    assert bob.enableRtpCallback(bob_sid, 0, DIRECTION_MODE.DIRECTION_NONE) == 0

    # what the caller sent: exactly the pushed samples, silence only in between
    sent_frames = []
    for session, kind, data, length, rate in _args(alice_events, "onAudioRawCallback"):
        assert (session, kind, length, rate) == (sid, SEND, 2 * FRAME, 8000)
        sent_frames.append(np.frombuffer(data, dtype="<i2"))
    sent_audio = np.concatenate(sent_frames)
    voiced = sent_audio[sent_audio != 0]
    assert len(voiced) == len(signal)
    assert np.array_equal(voiced, signal)
    # its RTP packets: the µ-law of those frames, tick by tick
    packets = [RtpPacket.parse(args[3]) for args in _args(alice_events, "onRTPPacketCallback")]
    assert all(args[:3] == (sid, 0, SEND) and args[4] == len(args[3])
               for args in _args(alice_events, "onRTPPacketCallback"))
    audio_packets = [p for p in packets if p.payload_type == 0]
    assert len(audio_packets) >= len(sent_frames) - 1
    for packet, frame in zip(audio_packets, sent_frames, strict=False):
        assert packet.payload == ulaw_encode(frame)
    # the callee accepted exactly those packets (plain, also with SRTP on the wire)
    received = [args[3] for args in _args(bob_events, "onRTPPacketCallback")]
    assert all(args[:3] == (bob_sid, 0, RECV) for args in _args(bob_events,
                                                                "onRTPPacketCallback"))
    sent_bytes = [args[3] for args in _args(alice_events, "onRTPPacketCallback")]
    assert len(received) >= 100
    first = sent_bytes.index(received[0])
    assert received == sent_bytes[first:first + len(received)]
    # and played their µ-law round trip, in order
    round_trip = {ulaw_decode(ulaw_encode(f)).tobytes(): i for i, f in enumerate(sent_frames)}
    played = [args[2] for args in _args(bob_events, "onAudioRawCallback")]
    assert all(args[1] == RECV and args[4] == 8000 for args in _args(bob_events,
                                                                    "onAudioRawCallback"))
    heard = [round_trip.get(p) for p in played if any(p)]
    matched = [i for i in heard if i is not None]
    assert len(matched) >= 0.95 * len(heard) and len(matched) >= 90
    assert matched == sorted(matched) and len(set(matched)) == len(matched)
    assert _on_loop(alice, lambda: alice.phone.call_by_id(sid).audio.statistics()  # type: ignore[union-attr]
                    ["pcm_input_dropped"]) == 0


def test_pcm_buffer_overflow_and_argument_errors(pair: Pair) -> None:
    alice, alice_events, _, _ = pair
    sid, _ = _connect(pair, lambda sid: None, lambda sid: None)
    data = _signal(2400).tobytes()
    assert alice.sendPcmStreamToRemote(sid, data, len(data)) == ErrorCode.INVALID_STATE
    assert alice.enableSendPcmStreamToRemote(sid, True, 4000) == ErrorCode.INVALID_ARGUMENT
    assert alice.enableSendPcmStreamToRemote(sid, True, 8000) == 0

    def push_all() -> tuple[int, int, int]:
        call = alice.phone.call_by_id(sid) if alice.phone is not None else None
        assert call is not None and call.audio is not None
        pcm = call.audio.pcm_input
        assert pcm is not None
        pcm.clear()
        before = pcm.dropped_samples
        accepted = call.audio.push_pcm(data)  # on the loop: no tick in between
        return accepted, pcm.dropped_samples - before, pcm.buffered

    assert _on_loop(alice, push_all) == (800, 1600, 800)
    assert alice.getStatistics(sid) == 0
    stat = json.loads(alice_events.wait("onStatistics", lambda a: a[0] == sid)[1])
    assert stat["pcm_input"]["rate"] == 8000
    assert stat["pcm_input"]["dropped"] >= 1600 and stat["pcm_input"]["samples"] >= 800
    assert alice.sendPcmStreamToRemote(sid, data, 3) == ErrorCode.INVALID_ARGUMENT
    assert alice.sendPcmStreamToRemote(sid, data, len(data) + 2) == ErrorCode.INVALID_ARGUMENT
    assert alice.sendPcmStreamToRemote(sid + 100, data, 320) == ErrorCode.INVALID_SESSION_ID
    assert alice.sendPcmStreamToRemote(sid, data, 320) == 0
    assert alice.enableRtpCallback(sid, 1, SEND) == ErrorCode.INVALID_ARGUMENT
    assert alice.enableRtpCallback(sid, 0, 9) == ErrorCode.INVALID_ARGUMENT
    assert alice.enableAudioStreamCallback(sid, True, 9) == ErrorCode.INVALID_ARGUMENT
    assert alice.enableAudioStreamCallback(sid + 100, True, SEND) \
        == ErrorCode.INVALID_SESSION_ID
    assert alice.setRtpKeepAlive(True, 200, 1000) == ErrorCode.INVALID_ARGUMENT
    assert alice.setRtpKeepAlive(True, 126, 0) == ErrorCode.INVALID_ARGUMENT
    assert alice.enableSendPcmStreamToRemote(sid, False, 8000) == 0
    assert alice.sendPcmStreamToRemote(sid, data, 320) == ErrorCode.INVALID_STATE


def test_not_initialized() -> None:
    lib = PortSIPLib(SIPCallbackEvents())
    assert lib.enableRtpCallback(1, 0, SEND) == ErrorCode.NOT_INITIALIZED
    assert lib.enableAudioStreamCallback(1, True, SEND) == ErrorCode.NOT_INITIALIZED
    assert lib.enableSendPcmStreamToRemote(1, True, 8000) == ErrorCode.NOT_INITIALIZED
    assert lib.sendPcmStreamToRemote(1, b"\0\0", 2) == ErrorCode.NOT_INITIALIZED
    assert lib.setRtpKeepAlive(True, 126, 1000) == ErrorCode.NOT_INITIALIZED


def test_rtp_keepalive_while_held(pair: Pair) -> None:
    alice, _, bob, bob_events = pair
    assert bob.setRtpKeepAlive(True, 126, 200) == 0
    sid, bob_sid = _connect(pair, lambda s: None, lambda s: None)
    assert bob.enableRtpCallback(bob_sid, 0, SEND) == 0
    bob_events.wait("onRTPPacketCallback", lambda a: a[2] == SEND, count=10)
    assert not any(RtpPacket.parse(a[3]).payload_type == 126
                   for a in _args(bob_events, "onRTPPacketCallback"))
    held = threading.Event()
    bob_events.hooks["onRemoteHold"] = lambda *a: held.set()
    assert alice.hold(sid) == 0
    assert held.wait(5)
    bob_events.wait("onRTPPacketCallback",
                    lambda a: RtpPacket.parse(a[3]).payload_type == 126, count=3)
    keepalives = [RtpPacket.parse(a[3]) for a in _args(bob_events, "onRTPPacketCallback")
                  if RtpPacket.parse(a[3]).payload_type == 126]
    assert all(p.payload == b"" for p in keepalives)

    def unknown() -> int:
        call = alice.phone.call_by_id(sid) if alice.phone is not None else None
        assert call is not None and call.audio is not None and call.audio.stream is not None
        return call.audio.stream.counters.unknown_payload_type

    assert _on_loop(alice, unknown) >= 2
