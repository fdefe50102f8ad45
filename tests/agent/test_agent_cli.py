"""``python -m voipkit agent`` run as real processes on 127.0.0.1 (sockets, RTP, WAV files).

Proves, from the outside, what a script driving the agent relies on:
- two agents call each other: the callee (``--auto-answer --record``) and the caller
  (``--call --play --dtmf 123 --duration 2``) print the PortSIP callbacks in order with
  the manual's parameter names (onInviteIncoming ... onInviteConnected, onRecvDtmfTone
  with tones 1, 2, 3, onInviteClosed); the caller exits 0 by itself once its call ends;
  the callee's recording is a WAV whose dominant frequency is the played 440 Hz tone;
- stdin commands drive a call: call, answer, hold/unhold (the peer sees onRemoteHold /
  onRemoteUnHold), an unknown command gets an error line and the agent goes on, hangup
  ends both sides, quit exits 0;
- SIGTERM ends an agent with exit code 0;
- bad arguments exit 2 and a port in use exits 1, each with one stderr line naming the
  problem (the address, for the port).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voipkit.media.frames import dominant_frequency

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 8.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


class AgentProcess:
    """A running ``voipkit agent --json``; its stdout lines parsed as they come."""

    def __init__(self, *args: str, stdin: bool = True) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voipkit", "agent", "--json",
             "--rtp-ports", "41000-49999", *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        self.events: list[dict[str, Any]] = []
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self.expect("ready")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)

    @property
    def address(self) -> str:
        """host:port of the first listener, from the ready line."""
        return str(self.ready["listen"][0]).split(":", 1)[1]

    def expect(self, name: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next event called ``name`` (earlier ones are kept in ``events``)."""
        while True:
            try:
                event = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {name} within {timeout} s; saw {self.names}") from None
            if event is None:
                raise AssertionError(f"agent exited before {name}; saw {self.names}; "
                                     f"stderr: {self.stderr()}")
            self.events.append(event)
            if event["event"] == name:
                return event

    @property
    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = TIMEOUT) -> int:
        code = self.proc.wait(timeout=timeout)
        while True:  # collect what was printed up to the exit
            event = self._lines.get(timeout=timeout)
            if event is None:
                return code
            self.events.append(event)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _tone(path: Path, frequency: float, seconds: float) -> None:
    t = np.arange(int(8000 * seconds)) / 8000
    samples = (np.sin(2 * np.pi * frequency * t) * 12000).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())


def _in_order(names: list[str], wanted: list[str]) -> bool:
    """``wanted`` is a subsequence of ``names``."""
    it = iter(names)
    return all(name in it for name in wanted)


def test_two_agents_call_with_audio_and_dtmf(tmp_path: Path) -> None:
    tone, recording = tmp_path / "tone.wav", tmp_path / "rec.wav"
    _tone(tone, 440.0, 3.0)
    callee = AgentProcess("--listen", "udp:127.0.0.1:0", "--auto-answer",
                          "--record", str(recording))
    caller = None
    try:
        caller = AgentProcess("--call", f"sip:bob@{callee.address}", "--play", str(tone),
                              "--dtmf", "123", "--duration", "2", stdin=False)
        assert caller.wait() == 0, caller.stderr()
        incoming = callee.expect("onInviteIncoming")
        callee.expect("onInviteClosed")
        callee.send("quit")
        assert callee.wait() == 0, callee.stderr()
    finally:
        callee.kill()
        if caller is not None:
            caller.kill()

    assert _in_order(caller.names, ["ready", "calling", "onInviteAnswered",
                                    "onInviteConnected", "onInviteClosed"])
    assert "onInviteFailure" not in caller.names
    answered = next(e for e in caller.events if e["event"] == "onInviteAnswered")
    assert answered["sessionId"] == caller.events[1]["sessionId"]
    assert answered["audioCodecNames"].split(",")[0] == "PCMU"
    assert answered["existsAudio"] is True
    assert answered["sipMessage"].startswith("SIP/2.0 200 ")

    assert _in_order(callee.names, ["ready", "onInviteIncoming", "onInviteConnected",
                                    "onRecvDtmfTone", "onRecvDtmfTone", "onRecvDtmfTone",
                                    "onInviteClosed"])
    assert set(incoming) == {"event", "sessionId", "callerDisplayName", "caller",
                             "calleeDisplayName", "callee", "audioCodecNames",
                             "videoCodecNames", "existsAudio", "existsVideo", "sipMessage"}
    assert incoming["callee"].startswith(f"sip:bob@{callee.address}")
    assert incoming["audioCodecNames"] == "PCMU,PCMA" and incoming["existsVideo"] is False
    assert incoming["sipMessage"].startswith("INVITE sip:bob@")
    tones = [e for e in callee.events if e["event"] == "onRecvDtmfTone"]
    assert [(e["sessionId"], e["tone"]) for e in tones] == [(incoming["sessionId"], 1),
                                                            (incoming["sessionId"], 2),
                                                            (incoming["sessionId"], 3)]

    with wave.open(str(recording)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert rate == 8000 and len(samples) > rate  # more than a second recorded
    assert len(samples[np.abs(samples) > 1000]) > rate // 2
    assert abs(dominant_frequency(samples, rate) - 440.0) < 10


def test_stdin_commands_drive_a_call() -> None:
    bob = AgentProcess()
    alice = AgentProcess()
    try:
        alice.send(f"call sip:bob@{bob.address}")
        calling = alice.expect("calling")
        incoming = bob.expect("onInviteIncoming")
        bob.send("answer")
        alice.expect("onInviteConnected")
        bob.expect("onInviteConnected")

        alice.send("hold")
        assert bob.expect("onRemoteHold")["sessionId"] == incoming["sessionId"]
        alice.send(f"unhold {calling['sessionId']}")
        unhold = bob.expect("onRemoteUnHold")
        assert unhold["audioCodecNames"] == "PCMU" and unhold["existsAudio"] is True

        alice.send("frobnicate now")
        error = alice.expect("error")
        assert "unknown command 'frobnicate'" in error["message"]
        alice.send("hold 99")
        assert "no call 99" in alice.expect("error")["message"]

        alice.send("hangup")
        assert alice.expect("onInviteClosed")["sessionId"] == calling["sessionId"]
        assert bob.expect("onInviteClosed")["sessionId"] == incoming["sessionId"]
        alice.send("quit")
        bob.send("quit")
        assert alice.wait() == 0, alice.stderr()
        assert bob.wait() == 0, bob.stderr()
    finally:
        alice.kill()
        bob.kill()


def test_sigterm_exits_zero() -> None:
    agent = AgentProcess()
    try:
        agent.proc.send_signal(signal.SIGTERM)
        assert agent.wait() == 0, agent.stderr()
    finally:
        agent.kill()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voipkit", "agent", *args],
                          capture_output=True, text=True, timeout=TIMEOUT, env=_env(),
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "named"), [
    (["--listen", "udp:localhost:5060"], "'localhost' is not an IP address"),
    (["--codecs", "G729"], "codecs ['G729']"),
    (["--auto-answer", "soon"], "'soon' is not a number"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_bad_arguments_exit_2_with_one_line(args: list[str], named: str) -> None:
    result = _run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("voipkit agent: ")
    assert named in lines[0]


def test_port_in_use_exits_1_naming_the_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        result = _run("--listen", f"udp:127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"voipkit agent: cannot listen on udp:127.0.0.1:{port}: address already in use"]
