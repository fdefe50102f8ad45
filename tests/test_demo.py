"""`make demo` (python -m voipkit demo) runs for real and succeeds.

Proves the demo's exchanges all complete over real loopback sockets (UDP,
UDP on ::1, TCP, TLS with a certificate made by openssl) and that the malformed
request gets its 400, by running the same entry point `make demo` runs.
"""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_every_exchange() -> None:
    proc = subprocess.run([sys.executable, "-m", "voipkit", "demo", "-q"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.split("=== summary ===", 1)[1].strip().splitlines()
    outcomes = {line.split()[0]: line.split(None, 1)[1] for line in summary[:-1]}
    assert set(outcomes) == {"UDP", "UDP/IPv6", "TCP", "TLS", "malformed"}
    for label in ("UDP", "UDP/IPv6", "TCP", "TLS"):
        assert outcomes[label].startswith("200 OK"), outcomes
    assert outcomes["malformed"].startswith("400 CSeq method INVITE does not match")
    assert summary[-1] == "all exchanges succeeded"
