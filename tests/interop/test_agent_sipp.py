"""`voipkit agent` against SIPp, both ways, as the calls issue requires.

Proves:
- `sipp -sn uac` -> `voipkit agent --auto-answer`: 500 calls at 50 calls/s, every call
  successful, none failed, no retransmission needed;
- voipkit -> `sipp -sn uas`: calls placed by the agent (`--call`, repeated) are
  answered by SIPp's UAS and hung up by the agent with BYE; the agent reports the
  manual's callbacks for each (onInviteAnswered, onInviteConnected, onInviteClosed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from interop import peers
from interop.sipp import Sipp

pytestmark = pytest.mark.interop


def _agent(out: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start the agent with its JSON lines going to ``out`` (a pipe nobody reads would
    fill up and block it)."""
    with out.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "voipkit", "agent", *args],
                                stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT)


def _events(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]


def _ready(proc: subprocess.Popen[bytes], out: Path) -> list[str]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for event in _events(out):
            if event.get("event") == "ready":
                return [str(x) for x in event["listen"]]  # type: ignore[attr-defined]
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"agent did not become ready: {out.read_text()[-2000:]}")


def test_sipp_uac_against_auto_answering_agent(tmp_path: Path) -> None:
    peers.require("sipp")
    out = tmp_path / "agent.jsonl"
    agent = _agent(out, "--listen", "udp:127.0.0.1:0", "--auto-answer", "0", "--max-calls",
                   "200", "--json", "--rtp-ports", "41000-43999")
    try:
        listen = _ready(agent, out)
        port = int(listen[0].rsplit(":", 1)[1])
        result = Sipp.uac(tmp_path, f"127.0.0.1:{port}", count=500, rate=50, limit=100,
                          timeout=60).run()
        stats = result.stats
        assert stats is not None, result.describe()
        assert stats.successful == 500, result.describe()
        assert stats.failed == 0
        assert stats.retransmissions == 0
        assert agent.poll() is None  # still serving
        names = [e["event"] for e in _events(out)]
        assert names.count("onInviteIncoming") == 500
        assert names.count("onInviteClosed") == 500
    finally:
        agent.terminate()
        assert agent.wait(15) == 0


def test_agent_calls_sipp_uas(tmp_path: Path) -> None:
    peers.require("sipp")
    uas = Sipp.uas(tmp_path, timeout=60)
    uas.start()
    try:
        target = f"sip:service@127.0.0.1:{uas.port}"
        out = tmp_path / "caller.jsonl"
        agent = _agent(out, "--listen", "udp:127.0.0.1:0", "--json", "--call", target,
                       "--call", target, "--call", target, "--duration", "1",
                       "--rtp-ports", "44000-44999")
        assert agent.wait(60) == 0, out.read_text()[-2000:]
        names = [e["event"] for e in _events(out)]
        assert names.count("onInviteAnswered") == 3, names
        assert names.count("onInviteConnected") == 3
        assert names.count("onInviteClosed") == 3
        assert "onInviteFailure" not in names
    finally:
        result = uas.stop(graceful=True)
    assert result.stats is not None and result.stats.failed == 0, result.describe()
