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
    summary = proc.stdout.split("=== summary ===", 1)[1]
    for label in ("UDP ", "UDP/IPv6", "TCP ", "TLS "):
        assert f"{label}" in summary and "200 OK" in summary
    assert "malformed  400 CSeq method INVITE" in summary
    assert "all exchanges succeeded" in summary
