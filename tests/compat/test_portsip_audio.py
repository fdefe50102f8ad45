"""The facade's audio functions, between PortSIPLib instances on 127.0.0.1 (real sockets).

Proves, through the vendor-shaped facade:
- clearAudioCodec + addAudioCodec(G722) on both sides makes G722 the negotiated codec
  (onInviteIncoming / onInviteAnswered audioCodecNames); with no codec, call() gives
  CODEC_UNAVAILABLE; codecs this build cannot encode are INVALID_ARGUMENT; a dynamic
  codec is offered with PortSIP's payload type (opus 105) unless setAudioCodecPayloadType
  chose another; setAudioSamples puts a=ptime/a=maxptime in the offer;
- setSrtpPolicy FORCE on both sides connects over RTP/SAVP with a=crypto, and a FORCE
  callee refuses a plain-RTP caller with 488 (onInviteFailure);
- startRecord(WAV, both legs) + stopRecord writes a WAV as long as the time recorded;
  bad folders, AMR, video modes and RECORD_NONE are INVALID_ARGUMENT;
- startPlayingFileToRemote gives onPlayFileFinished(sessionId, fileName) exactly once,
  and the peer receives the file's audio; local playback starts and stops;
- createAudioConference / joinToConference / removeFromConference / destroyConference
  return codes, and a conference carries one call's audio to another call;
- getStatistics raises onStatistics with JSON holding the documented keys;
- enableVAD/CNG/AEC/ANS/AGC return 0 and reach the call: in silence it sends comfort
  noise (cn_sent) and suppresses frames.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import os
import struct
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.compat.conftest import Recorder, sip_port, start

from voipkit.compat.portsip import (
    AUDIOCODEC_TYPE,
    FILE_FORMAT,
    RECORD_MODE,
    SRTP_POLICY,
    ErrorCode,
    PortSIPLib,
)

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]
T = TypeVar("T")


def _connect(caller: PortSIPLib, caller_events: Recorder, callee: PortSIPLib,
             callee_events: Recorder, user: str = "bob") -> tuple[int, int]:
    """Call ``callee`` (which answers in its callback); both sessionIds once connected."""
    callee_events.hooks["onInviteIncoming"] = lambda sid, *rest: callee.answerCall(sid, False)
    before = callee_events.names().count("onInviteConnected")
    sid = caller.call(f"sip:{user}@127.0.0.1:{sip_port(callee)}", True, False)
    assert sid > 0
    caller_events.wait("onInviteConnected", lambda a: a == (sid,))
    callee_sid: int = callee_events.wait("onInviteConnected", count=before + 1)[0]
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


def _stats(lib: PortSIPLib, sid: int) -> dict[str, Any]:
    phone = lib.phone
    assert phone is not None
    return _on_loop(lib, lambda: dict(phone.call_by_id(sid).statistics()))  # type: ignore[union-attr]


def _tone(path: Path, seconds: float, rate: int = 8000, freq: float = 440.0) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i
                                                                       / rate)))
                               for i in range(n)))
    return path


def _rms(path: str) -> float:
    with wave.open(path, "rb") as w:
        data = w.readframes(w.getnframes())
    samples = struct.unpack(f"<{len(data) // 2}h", data)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


@pytest.fixture
def trio(pair: Pair) -> Iterator[tuple[Pair, PortSIPLib, Recorder]]:
    carol_events = Recorder()
    carol = PortSIPLib(carol_events)
    try:
        assert start(carol) == 0
        assert carol.setUser("carol", "Carol", "", "", "", "", 0, "", 0, "", 0) == 0
        yield pair, carol, carol_events
    finally:
        carol.unInitialize()


def test_codec_selection_changes_the_negotiated_codec(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.isAudioCodecEmpty() is False
    for lib in (alice, bob):
        assert lib.clearAudioCodec() == 0
    assert alice.isAudioCodecEmpty() is True
    assert alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, False) == \
        ErrorCode.CODEC_UNAVAILABLE
    assert alice.addAudioCodec(AUDIOCODEC_TYPE.AUDIOCODEC_G729) == ErrorCode.INVALID_ARGUMENT
    assert alice.addAudioCodec(AUDIOCODEC_TYPE.AUDIOCODEC_NONE) == ErrorCode.INVALID_ARGUMENT
    assert alice.addAudioCodec(12345) == ErrorCode.INVALID_ARGUMENT
    for lib in (alice, bob):
        assert lib.addAudioCodec(AUDIOCODEC_TYPE.AUDIOCODEC_G722) == 0
        assert lib.addAudioCodec(AUDIOCODEC_TYPE.AUDIOCODEC_DTMF) == 0
    assert alice.isAudioCodecEmpty() is False

    sid, _bob_sid = _connect(alice, alice_events, bob, bob_events)
    assert bob_events.wait("onInviteIncoming")[5] == "G722"
    answered = alice_events.wait("onInviteAnswered")
    assert answered[0] == sid and answered[5] == "G722"
    assert "m=audio" in answered[9] and "G722/8000" in answered[9]
    assert "telephone-event" in answered[9]
    assert alice.hangUp(sid) == 0


def test_dynamic_payload_types_parameters_and_ptime(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.setAudioCodecPayloadType(AUDIOCODEC_TYPE.AUDIOCODEC_PCMU, 100) == \
        ErrorCode.INVALID_ARGUMENT  # static payload type
    assert alice.setAudioCodecPayloadType(AUDIOCODEC_TYPE.AUDIOCODEC_AMR, 120) == 0
    assert alice.setAudioCodecParameter(AUDIOCODEC_TYPE.AUDIOCODEC_AMR,
                                        "mode-set=0; octet-align=1") == 0
    assert alice.setAudioCodecParameter(AUDIOCODEC_TYPE.AUDIOCODEC_AMR,
                                        "no spaces allowed=1") == ErrorCode.INVALID_ARGUMENT
    assert alice.setAudioCodecParameter(AUDIOCODEC_TYPE.AUDIOCODEC_ILBC, "mode=30") == \
        ErrorCode.INVALID_ARGUMENT
    assert alice.addAudioCodec(AUDIOCODEC_TYPE.AUDIOCODEC_OPUS) == 0
    assert alice.addAudioCodec(AUDIOCODEC_TYPE.AUDIOCODEC_AMR) == 0
    assert alice.setAudioSamples(15, 20) == ErrorCode.INVALID_ARGUMENT
    assert alice.setAudioSamples(30, 20) == ErrorCode.INVALID_ARGUMENT
    assert alice.setAudioSamples(20, 40) == 0

    sid, _bob_sid = _connect(alice, alice_events, bob, bob_events)
    offer = bob_events.wait("onInviteIncoming")[9]
    assert "a=rtpmap:105 opus/48000/2" in offer  # PortSIP's AUDIOCODEC_OPUS number
    assert "a=rtpmap:120 AMR/8000" in offer  # the one chosen above
    assert "a=fmtp:120 mode-set=0; octet-align=1" in offer or \
        "a=fmtp:120 mode-set=0;octet-align=1" in offer
    assert "a=ptime:20" in offer and "a=maxptime:40" in offer
    assert alice.setAudioBitrate(sid, AUDIOCODEC_TYPE.AUDIOCODEC_OPUS, 24) == 0
    assert alice.setAudioBitrate(sid, AUDIOCODEC_TYPE.AUDIOCODEC_G729, 8) == \
        ErrorCode.INVALID_ARGUMENT
    assert alice.setAudioBitrate(9999, AUDIOCODEC_TYPE.AUDIOCODEC_OPUS, 24) == \
        ErrorCode.INVALID_SESSION_ID
    assert alice.setAudioRtcpBandwidth(sid, 800, 2000, 64) == 0
    assert alice.setAudioRtcpBandwidth(sid, -1, 2000, 64) == ErrorCode.INVALID_ARGUMENT
    bob.enableCallbackSignaling(False, True)
    assert alice.updateCall(sid, True, False, False) == 0
    reinvite = bob_events.wait("onReceivedSignaling", lambda a: a[1].startswith("INVITE "))[1]
    assert "b=AS:64" in reinvite and "b=RR:800" in reinvite and "b=RS:2000" in reinvite


def test_srtp_force_on_both_sides_connects(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.setSrtpPolicy(7, True) == ErrorCode.INVALID_ARGUMENT
    for lib in (alice, bob):
        assert lib.setSrtpPolicy(SRTP_POLICY.SRTP_POLICY_FORCE, True) == 0
    _sid, _ = _connect(alice, alice_events, bob, bob_events)
    answer = alice_events.wait("onInviteAnswered")[9]
    assert "RTP/SAVP" in answer and "a=crypto:" in answer


def test_srtp_force_refuses_plain_rtp_with_488(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert bob.setSrtpPolicy(SRTP_POLICY.SRTP_POLICY_FORCE, True) == 0
    answers: list[int] = []
    answered = threading.Event()

    def answer(sid: int, *rest: object) -> None:
        answers.append(bob.answerCall(sid, False))
        answered.set()

    bob_events.hooks["onInviteIncoming"] = answer
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, False)
    failure = alice_events.wait("onInviteFailure")
    assert failure[0] == sid and failure[6] == 488
    # answerCall returns on bob's callback thread, which may be after alice heard the 488
    assert answered.wait(5)
    assert answers == [ErrorCode.MEDIA_ERROR]


def test_record_both_legs_to_wav(pair: Pair, tmp_path: Path) -> None:
    alice, alice_events, bob, bob_events = pair
    sid, _ = _connect(alice, alice_events, bob, bob_events)
    wav = FILE_FORMAT.FILEFORMAT_WAVE
    both, none = RECORD_MODE.RECORD_BOTH, RECORD_MODE.RECORD_NONE
    folder = str(tmp_path)
    assert alice.startRecord(sid, folder + "/missing", "a.wav", False, 1, wav, both, none) \
        == ErrorCode.INVALID_ARGUMENT
    assert alice.startRecord(sid, folder, "a.wav", False, 1, FILE_FORMAT.FILEFORMAT_AMR,
                             both, none) == ErrorCode.INVALID_ARGUMENT
    assert alice.startRecord(sid, folder, "a.mp3", False, 1, wav, both, none) == \
        ErrorCode.INVALID_ARGUMENT
    assert alice.startRecord(sid, folder, "a.wav", False, 1, wav, both, both) == \
        ErrorCode.INVALID_ARGUMENT
    assert alice.startRecord(sid, folder, "a.wav", False, 1, wav, none, none) == \
        ErrorCode.INVALID_ARGUMENT
    assert alice.startRecord(sid, folder, "a.wav", False, 3, wav, both, none) == \
        ErrorCode.INVALID_ARGUMENT
    assert alice.stopRecord(sid) == ErrorCode.INVALID_STATE

    began = time.monotonic()
    assert alice.startRecord(sid, folder, "call", True, 2, wav, both, none) == 0
    time.sleep(0.6)
    assert alice.stopRecord(sid) == 0
    elapsed = time.monotonic() - began
    files = os.listdir(folder)
    assert len(files) == 1 and files[0].startswith("call_") and files[0].endswith(".wav")
    with wave.open(os.path.join(folder, files[0]), "rb") as w:
        assert w.getnchannels() == 2 and w.getframerate() == 8000
        seconds = w.getnframes() / w.getframerate()
    assert elapsed - 0.15 <= seconds <= elapsed + 0.05

    assert alice.startRecord(sid, folder, "call.m4a", False, 1, FILE_FORMAT.FILEFORMAT_MP4,
                             RECORD_MODE.RECORD_SEND, none) == 0
    time.sleep(0.2)
    assert alice.stopRecord(sid) == 0
    assert os.path.getsize(os.path.join(folder, "call.m4a")) > 0


def test_play_file_to_remote_finishes_once_and_is_heard(pair: Pair, tmp_path: Path) -> None:
    alice, alice_events, bob, bob_events = pair
    sid, bob_sid = _connect(alice, alice_events, bob, bob_events)
    tone = str(_tone(tmp_path / "tone.wav", 0.4))
    assert alice.startPlayingFileToRemote(sid, tone, False, 0) == ErrorCode.INVALID_ARGUMENT
    assert alice.startPlayingFileToRemote(sid, str(tmp_path / "none.wav"), False, 1) == \
        ErrorCode.MEDIA_FILE_ERROR
    assert alice.stopPlayingFileToRemote(sid) == ErrorCode.INVALID_STATE
    assert bob.startRecord(bob_sid, str(tmp_path), "heard.wav", False, 1,
                           FILE_FORMAT.FILEFORMAT_WAVE, RECORD_MODE.RECORD_RECV,
                           RECORD_MODE.RECORD_NONE) == 0
    assert alice.startPlayingFileToRemote(sid, tone, False, 1) == 0
    assert alice_events.wait("onPlayFileFinished") == (sid, tone)
    time.sleep(0.3)
    assert bob.stopRecord(bob_sid) == 0
    assert alice_events.names().count("onPlayFileFinished") == 1
    assert _rms(str(tmp_path / "heard.wav")) > 1000

    assert alice.startPlayingFileToRemote(sid, tone, True, 2) == 0
    assert alice.stopPlayingFileToRemote(sid) == 0  # stopped: no onPlayFileFinished
    assert alice.startPlayingFileLocally(tone, True, 1) == ErrorCode.INVALID_ARGUMENT
    assert alice.startPlayingFileLocally(str(tmp_path / "none.wav"), False, 0) == \
        ErrorCode.MEDIA_FILE_ERROR
    assert alice.startPlayingFileLocally(tone, True, None) == 0
    assert alice.stopPlayingFileLocally() == 0
    assert alice.stopPlayingFileLocally() == ErrorCode.INVALID_STATE
    time.sleep(0.1)
    assert alice_events.names().count("onPlayFileFinished") == 1


def test_conference_codes_and_audio_path(trio: tuple[Pair, PortSIPLib, Recorder],
                                         tmp_path: Path) -> None:
    (alice, alice_events, bob, bob_events), carol, carol_events = trio
    to_bob, bob_sid = _connect(alice, alice_events, bob, bob_events)
    to_carol, carol_sid = _connect(alice, alice_events, carol, carol_events, user="carol")
    assert alice.joinToConference(to_bob) == ErrorCode.INVALID_STATE  # no conference yet
    assert alice.destroyConference() == ErrorCode.INVALID_STATE
    assert alice.createAudioConference() == 0
    assert alice.createAudioConference() == ErrorCode.INVALID_STATE
    assert alice.joinToConference(to_bob) == 0
    assert alice.joinToConference(to_bob) == ErrorCode.INVALID_STATE
    assert alice.joinToConference(to_carol) == 0
    assert alice.joinToConference(4242) == ErrorCode.INVALID_SESSION_ID

    tone = str(_tone(tmp_path / "bob.wav", 1.0))
    assert bob.startPlayingFileToRemote(bob_sid, tone, True, 1) == 0
    time.sleep(0.2)
    assert carol.startRecord(carol_sid, str(tmp_path), "carol.wav", False, 1,
                             FILE_FORMAT.FILEFORMAT_WAVE, RECORD_MODE.RECORD_RECV,
                             RECORD_MODE.RECORD_NONE) == 0
    time.sleep(0.4)
    assert carol.stopRecord(carol_sid) == 0
    assert _rms(str(tmp_path / "carol.wav")) > 1000  # Bob's tone reached Carol via Alice

    assert alice.removeFromConference(to_bob) == 0
    assert alice.removeFromConference(to_bob) == ErrorCode.INVALID_STATE
    time.sleep(0.4)  # the tone still in flight: bridge, network, Carol's jitter buffer
    assert carol.startRecord(carol_sid, str(tmp_path), "after.wav", False, 1,
                             FILE_FORMAT.FILEFORMAT_WAVE, RECORD_MODE.RECORD_RECV,
                             RECORD_MODE.RECORD_NONE) == 0
    time.sleep(0.3)
    assert carol.stopRecord(carol_sid) == 0
    assert _rms(str(tmp_path / "after.wav")) < 100  # Bob is out: silence
    assert alice.destroyConference() == 0
    assert alice.destroyConference() == ErrorCode.INVALID_STATE


def test_get_statistics_raises_on_statistics_with_json(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    assert alice.getStatistics(77) == ErrorCode.INVALID_SESSION_ID
    sid, _ = _connect(alice, alice_events, bob, bob_events)
    time.sleep(0.2)
    assert alice.getStatistics(sid) == 0
    session, text = alice_events.wait("onStatistics")
    assert session == sid
    stat = json.loads(text)
    assert {"time", "codec", "e_model", "send", "receive"} <= set(stat)
    assert stat["codec"] == "PCMU"
    for direction in ("send", "receive"):
        assert {"packets", "bytes", "lost", "fraction_lost", "jitter_ms", "rtt_ms",
                "delay_ms", "r_factor", "mos"} <= set(stat[direction])
    assert stat["send"]["packets"] > 0 and stat["receive"]["packets"] > 0


def test_audio_effects_reach_the_call(pair: Pair) -> None:
    alice, alice_events, bob, bob_events = pair
    for lib in (alice, bob):
        assert lib.enableVAD(True) == 0
        assert lib.enableCNG(True) == 0
    assert alice.enableAEC(True) == 0
    assert alice.enableANS(True) == 0
    assert alice.enableAGC(True) == 0
    sid, _ = _connect(alice, alice_events, bob, bob_events)
    assert "CN/8000" in alice_events.wait("onInviteAnswered")[9]
    time.sleep(0.3)  # the virtual device captures silence: VAD suppresses, CNG fills in
    stats = _stats(alice, sid)
    assert stats["cn_sent"] > 0 and stats["suppressed_frames"] > 0
    assert alice.enableVAD(False) == 0
    sent = _stats(alice, sid)["packets_sent"]
    time.sleep(0.2)
    assert _stats(alice, sid)["packets_sent"] - sent >= 5  # every frame goes out again


def test_audio_functions_need_initialize() -> None:
    lib = PortSIPLib(Recorder())
    assert lib.addAudioCodec(AUDIOCODEC_TYPE.AUDIOCODEC_PCMU) == ErrorCode.NOT_INITIALIZED
    assert lib.clearAudioCodec() == ErrorCode.NOT_INITIALIZED
    assert lib.enableVAD(True) == ErrorCode.NOT_INITIALIZED
    assert lib.createAudioConference() == ErrorCode.NOT_INITIALIZED
    assert lib.getStatistics(1) == ErrorCode.NOT_INITIALIZED
