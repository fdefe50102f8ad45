"""Start and stop real third-party SIP peers on loopback for the interop tests.

Written from the verified recipes the team keeps beside the project, but
self-contained: every peer gets ports chosen at run time, a private state
directory under the test's tmp_path, and is stopped by its PID. Nothing here
depends on voipkit, so a failing peer start is never a voipkit bug in disguise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Users of the test registrar: user -> password (auth_db calculate_ha1=yes).
USERS = {
    "alice": "alicepw",
    "bob": "bobpw",
    "carol": "carolpw",
    "1001": "1001pw",
    "1002": "1002pw",
    "1003": "1003pw",
}


def require(command: str) -> str:
    """The path of ``command``, or a failure naming the Debian package to install."""
    path = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if path is None:
        raise RuntimeError(
            f"{command} is not installed: `make test` installs the interop peers as root "
            "(or run `VOIPKIT_NO_PEERS=1 make test` to leave the interop tests out)"
        )
    return path


def free_port(*, udp: bool = True, tcp: bool = True, ipv6: bool = True) -> int:
    """A port free for UDP and TCP on 127.0.0.1 (and ::1), chosen by the kernel."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        kinds = [(socket.AF_INET, "127.0.0.1")] + ([(socket.AF_INET6, "::1")] if ipv6 else [])
        socktypes = ([socket.SOCK_DGRAM] if udp else []) + ([socket.SOCK_STREAM] if tcp else [])
        try:
            with contextlib.ExitStack() as stack:
                for family, host in kinds:
                    for st in socktypes:
                        s = stack.enter_context(socket.socket(family, st))
                        s.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port found on loopback")


def sip_options_probe(host: str, port: int, *, timeout: float = 0.3) -> bytes | None:
    """Send a bare OPTIONS over UDP and return the response bytes, if any."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        lport = s.getsockname()[1]
        sent_by = f"[{host}]:{lport}" if ":" in host else f"{host}:{lport}"
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        msg = (
            f"OPTIONS sip:{target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {sent_by};branch=z9hG4bK-probe-{time.monotonic_ns()};rport\r\n"
            f"Max-Forwards: 70\r\nTo: <sip:{target}>\r\n"
            f"From: <sip:probe@{sent_by}>;tag=probe\r\nCall-ID: probe-{time.monotonic_ns()}\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        s.settimeout(timeout)
        s.sendto(msg, (host, port))
        try:
            return s.recv(65535)
        except OSError:
            return None


def stop_pid(proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
    """SIGTERM, wait, then SIGKILL: never leave a peer running."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


@dataclass
class Kamailio:
    """Registrar + authenticating proxy (+ presence server) on loopback."""

    state: Path
    defines: tuple[str, ...] = ()
    port: int = 0
    tls_port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def cert(self) -> Path:
        """The self-signed certificate of the TLS listener (CN/SAN 127.0.0.1, ::1, localhost)."""
        return self.state / "cert.pem"

    @property
    def log(self) -> Path:
        return self.state / "kamailio.log"

    def _make_state(self) -> None:
        sqlite = require("sqlite3")
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "run").mkdir(exist_ok=True)
        db = self.state / "kamailio.sqlite"
        sql_dir = Path("/usr/share/kamailio/db_sqlite")
        schema = "".join(
            (sql_dir / f"{name}-create.sql").read_text()
            for name in ("standard", "auth_db", "usrloc", "presence", "dialog")
        )
        users = ",".join(f"('{u}','127.0.0.1','{p}')" for u, p in USERS.items())
        script = (
            "PRAGMA journal_mode=WAL;\n" + schema
            + f"\nINSERT INTO subscriber (username, domain, password) VALUES {users};\n"
        )
        subprocess.run([sqlite, str(db)], input=script.encode(), check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(
            [require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(self.state / "key.pem"), "-out", str(self.cert),
             "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        binary = require("kamailio")
        self._make_state()
        self.port = free_port()
        self.tls_port = free_port(udp=False, ipv6=False)
        cfg = (HERE / "kamailio.cfg.in").read_text()
        cfg = (cfg.replace("@STATE@", str(self.state)).replace("@TLS_PORT@", str(self.tls_port))
               .replace("@PORT@", str(self.port)))
        (self.state / "kamailio.cfg").write_text(cfg)
        args = [binary, "-f", str(self.state / "kamailio.cfg"), "-DD", "-E", "-m", "64", "-M", "8",
                "-Y", str(self.state / "run"), "-P", str(self.state / "run/kamailio.pid"),
                "-w", str(self.state)]
        for d in self.defines:
            args += ["-A", d]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited at start:\n{self.log.read_text()[-2000:]}")
            reply = sip_options_probe("127.0.0.1", self.port)
            if reply and reply.startswith(b"SIP/2.0 200"):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"kamailio did not answer OPTIONS:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc = None

    def errors_in_log(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if " ERROR:" in line or "CRITICAL" in line]


@contextlib.contextmanager
def kamailio(state: Path, *defines: str) -> Iterator[Kamailio]:
    server = Kamailio(state=state, defines=defines)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run_tool(args: list[str], *, timeout: float = 60.0, cwd: Path | None = None,
             ) -> subprocess.CompletedProcess[bytes]:
    """Run a peer tool to completion (SIPp, sipsak) with a hard time limit."""
    env = dict(os.environ)
    return subprocess.run(args, capture_output=True, timeout=timeout, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, check=False)
