"""``voipkit agent`` audio options: --srtp, --record-mode, --record-stereo, --conference.

Proves, with agents as separate processes on 127.0.0.1:
- two agents with ``--srtp force`` connect over SDES-SRTP (the INVITE and the 200 carry
  RTP/SAVP and a=crypto); the callee's ``--record FILE --record-mode both
  --record-stereo`` WAV is stereo with its own tone (600 Hz) left and the caller's
  (440 Hz) right;
- a caller with ``--srtp force`` calling an agent with ``--srtp none`` is refused with
  488 (onInviteFailure);
- an agent with ``--conference`` joins the calls it answers: a third agent's recording
  of what it hears holds the tone another caller plays into the conference;
- the options are checked at parse time (a bad ``--srtp`` is a usage error).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from agent.test_agent_cli import AgentProcess, _tone
from voipkit.agent import AgentError, parse_options
from voipkit.media.frames import dominant_frequency


def _wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return w.getframerate(), data.reshape(-1, w.getnchannels())


def test_srtp_force_and_a_stereo_recording_of_both_legs(tmp_path: Path) -> None:
    caller_tone, callee_tone = tmp_path / "440.wav", tmp_path / "600.wav"
    _tone(caller_tone, 440.0, 4.0)
    _tone(callee_tone, 600.0, 4.0)
    recording = tmp_path / "both.wav"
    callee = AgentProcess("--auto-answer", "--srtp", "force", "--play", str(callee_tone),
                          "--record", str(recording), "--record-mode", "both",
                          "--record-stereo")
    caller = None
    try:
        caller = AgentProcess("--srtp", "force", "--call", f"sip:bob@{callee.address}",
                              "--play", str(caller_tone), "--duration", "2", stdin=False)
        assert caller.wait() == 0, caller.stderr()
        incoming = callee.expect("onInviteIncoming")
        callee.expect("onInviteClosed")
        callee.send("quit")
        assert callee.wait() == 0, callee.stderr()
    finally:
        callee.kill()
        if caller is not None:
            caller.kill()
    assert "RTP/SAVP" in incoming["sipMessage"] and "a=crypto:" in incoming["sipMessage"]
    answered = next(e for e in caller.events if e["event"] == "onInviteAnswered")
    assert "RTP/SAVP" in answered["sipMessage"] and "a=crypto:" in answered["sipMessage"]
    rate, data = _wav(recording)
    assert data.shape[1] == 2 and len(data) > rate
    ours, theirs = data[rate // 2:, 0], data[rate // 2:, 1]
    assert dominant_frequency(ours, rate) == pytest.approx(600.0, abs=10)
    assert dominant_frequency(theirs, rate) == pytest.approx(440.0, abs=10)


def test_srtp_force_against_none_is_refused_with_488() -> None:
    callee = AgentProcess("--auto-answer", "--srtp", "none")
    caller = None
    try:
        caller = AgentProcess("--srtp", "force")
        caller.send(f"call sip:bob@{callee.address}")
        failure = caller.expect("onInviteFailure")
        assert failure["code"] == 488, failure
        caller.send("quit")
        callee.send("quit")
        assert caller.wait() == 0 and callee.wait() == 0
    finally:
        callee.kill()
        if caller is not None:
            caller.kill()


def test_conference_agent_mixes_its_callers(tmp_path: Path) -> None:
    tone, heard = tmp_path / "440.wav", tmp_path / "heard.wav"
    _tone(tone, 440.0, 6.0)
    host = AgentProcess("--auto-answer", "--conference")
    listener = speaker = None
    try:
        listener = AgentProcess("--record", str(heard))
        listener.send(f"call sip:conf@{host.address}")
        listener.expect("onInviteConnected")
        speaker = AgentProcess("--call", f"sip:conf@{host.address}", "--play", str(tone),
                               "--duration", "2", stdin=False)
        assert speaker.wait() == 0, speaker.stderr()
        listener.send("hangup all")
        listener.expect("onInviteClosed")
        for agent in (listener, host):
            agent.send("quit")
            assert agent.wait() == 0, agent.stderr()
    finally:
        for agent in (host, listener, speaker):
            if agent is not None:
                agent.kill()
    rate, data = _wav(heard)
    samples = data[:, 0]
    loud = samples[np.abs(samples.astype(np.int32)) > 1000]
    assert len(loud) > rate // 2, "the listener heard nothing through the conference"
    assert dominant_frequency(samples, rate) == pytest.approx(440.0, abs=10)


def test_bad_audio_options_are_usage_errors() -> None:
    with pytest.raises((AgentError, SystemExit)):
        parse_options(["--srtp", "always"])
    options = parse_options(["--srtp", "prefer", "--record-mode", "send", "--conference"])
    assert (options.audio.srtp, options.audio.record_mode, options.audio.conference) == \
        ("prefer", "send", True)
