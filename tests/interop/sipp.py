"""Run SIPp 3.6.1 (Debian sip-tester) on loopback: one-shot UACs, background UASes, load.

Knows: SIPp's command line, its ``-trace_stat`` CSV and the scenario files in
``sipp/`` beside this module. Must not know voipkit.

What :class:`Sipp` runs: ``sipp [REMOTE] (-sn uac|uas | -sf <xml>) -i 127.0.0.1
-p <free port> -nostdin -trace_stat -stf <stat.csv> -fd 1 -trace_err -error_file
<err.log> ...`` with cwd ``workdir`` (SIPp drops its own ``*_messages/_screen`` files
there). Media options (``-mi 127.0.0.1 -mp <free port>``) are always given, so the SDP
of the built-in scenarios names 127.0.0.1. ``-timeout`` is always set, so a hung peer
cannot hang the test.

- :meth:`Sipp.run`: foreground to completion; returns a :class:`SippResult` (exit code
  0 = every call succeeded, 1 = some failed; stats from the CSV).
- :meth:`Sipp.start` / :meth:`Sipp.stop` (or ``with``): background, e.g. a UAS the
  voipkit UA calls. ``start`` returns once the SIP port is bound. ``stop`` waits for
  the process if it was given ``count`` (``-m``) and it finishes by itself, else sends
  SIGUSR1 (SIPp's "stop gracefully"), then SIGTERM/SIGKILL to its PID.

Scenarios shipped here (``sipp/``): ``uas_rr.xml`` (a UAS that copies Record-Route into
its 180/200, needed behind a Record-Routing proxy), ``uac_auth.xml`` (INVITE through an
authenticating proxy: 407 answered with -au/-ap, caller from ``-key caller``),
``uac_pcap.xml`` / ``uas_pcap.xml`` (real RTP: 7 s of PCMA from
``/usr/share/sip-tester/g711a.pcap``; uac also plays RFC 2833 DTMF "123").

Pitfalls (from the verified recipe):
- This build has no TLS.
- The built-in ``-sn uas`` does not copy Record-Route: through a Record-Routing proxy
  its BYE fails with 404; use ``uas_rr.xml``.
- ``play_pcap_audio`` / ``play_dtmf`` need a raw socket (root); ``play_dtmf`` sends PT
  96, so the SDP must map 96 to telephone-event; leave ~3 s after it before the BYE.
- ``-bg`` forks away from its PID: never used here.
- ``ElapsedTime(C)`` has 1 s resolution: :class:`SippStats` computes ``elapsed`` from the
  StartTime/CurrentTime epochs.
- SIPp's own ceiling here is ~4000 cps with default UDP buffers (~8000 with
  ``-buff_size 4194304``), lower when the machine is busy: keep load tests well below.
"""

from __future__ import annotations

import contextlib
import csv
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interop.baresip import port_is_free
from interop.peers import free_port, require, run_tool, stop_pid

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "sipp"
BUILTIN = ("uac", "uas", "regexp", "branchc", "branchs")


def scenario(name: str) -> Path:
    """The path of a scenario shipped in ``tests/interop/sipp/`` (``"uas_rr"``)."""
    path = SCENARIOS / (name if name.endswith(".xml") else f"{name}.xml")
    if not path.exists():
        raise FileNotFoundError(path)
    return path


def _epoch(value: str) -> float:
    """StartTime/CurrentTime look like ``2026-11-26\\t17:44:41.123456\\t1764175481.123456``."""
    return float(value.split()[-1])


@dataclass(frozen=True)
class SippStats:
    """The last row of a ``-trace_stat`` CSV (cumulative counters)."""

    successful: int
    failed: int
    retransmissions: int
    call_rate: float  # CallRate(C): calls created per second, cumulative
    total_created: int
    current_calls: int
    elapsed: float  # seconds between StartTime and CurrentTime (sub-second resolution)
    row: dict[str, str]

    @property
    def achieved_rate(self) -> float:
        """Successful calls per second over the whole run."""
        return self.successful / self.elapsed if self.elapsed > 0 else 0.0

    @classmethod
    def from_csv(cls, path: Path) -> SippStats | None:
        """Parse the CSV (``;``-separated); None when it does not exist or has no data row."""
        if not path.exists():
            return None
        with path.open(newline="") as f:
            rows = list(csv.reader(f, delimiter=";"))
        if len(rows) < 2:
            return None
        head, last = rows[0], rows[-1]
        row = dict(zip(head, last, strict=False))

        def num(name: str) -> float:
            value = row.get(name, "").strip()
            return float(value) if value else 0.0

        try:
            elapsed = _epoch(row["CurrentTime"]) - _epoch(row["StartTime"])
        except (KeyError, ValueError, IndexError):
            elapsed = num("ElapsedTime(C)")
        return cls(
            successful=int(num("SuccessfulCall(C)")),
            failed=int(num("FailedCall(C)")),
            retransmissions=int(num("Retransmissions(C)")),
            call_rate=num("CallRate(C)"),
            total_created=int(num("TotalCallCreated")),
            current_calls=int(num("CurrentCall")),
            elapsed=elapsed,
            row=row,
        )


@dataclass(frozen=True)
class SippResult:
    """How a SIPp run ended: exit code, console output, error file and final stats."""

    returncode: int | None
    output: str
    errors: str
    stats: SippStats | None

    @property
    def ok(self) -> bool:
        """Exit code 0 and no failed call."""
        return self.returncode == 0 and (self.stats is None or self.stats.failed == 0)

    def describe(self) -> str:
        """A failure message with the useful tails of output and error file."""
        return (f"sipp rc={self.returncode} stats={self.stats and self.stats.row}\n"
                f"--- output\n{self.output[-1500:]}\n--- errors\n{self.errors[-1500:]}")


@dataclass
class Sipp:
    """One SIPp process (see the module docstring).

    ``scenario`` is a built-in name (``"uac"``, ``"uas"``) or an XML path (see
    :func:`scenario`). ``remote`` is ``"127.0.0.1:PORT"`` for UACs (None for a UAS).
    ``count`` = ``-m`` (calls, then exit), ``rate`` = ``-r`` (calls/s), ``limit`` = ``-l``
    (max simultaneous calls), ``call_duration_ms`` = ``-d``. ``keys`` become ``-key k v``,
    ``auth`` = (user, password) for ``-au/-ap``. ``timeout`` is SIPp's *global* ``-timeout``
    (the whole run, not one call; with ``-timeout_error`` it then exits non-zero), so give
    a background UAS one longer than the test. After run/wait/stop, ``result`` holds the
    :class:`SippResult`. ``extra`` is appended verbatim
    (e.g. ``("-buff_size", "4194304")`` or ``("-rtp_echo",)``).
    """

    workdir: Path
    scenario: str | Path = "uac"
    remote: str | None = None
    service: str | None = None
    count: int | None = None
    rate: float | None = None
    limit: int | None = None
    call_duration_ms: int | None = None
    keys: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    timeout: float = 60.0
    transport: str = "u1"
    extra: Sequence[str] = ()
    name: str = "sipp"
    port: int = 0
    media_port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    result: SippResult | None = field(default=None, repr=False)

    @property
    def stat_file(self) -> Path:
        return self.workdir / f"{self.name}_stat.csv"

    @property
    def error_file(self) -> Path:
        return self.workdir / f"{self.name}_err.log"

    @property
    def output_file(self) -> Path:
        return self.workdir / f"{self.name}.out"

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT`` of this SIPp's SIP socket (valid after start/run)."""
        return f"127.0.0.1:{self.port}"

    def uri(self, user: str = "service") -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        """The full command line (allocates the ports on first use)."""
        if not self.port:
            self.port = free_port(ipv6=False)
        if not self.media_port:
            self.media_port = free_port(tcp=False, ipv6=False)
        args = [require("sipp")]
        if self.remote:
            args.append(self.remote)
        if isinstance(self.scenario, str) and self.scenario in BUILTIN:
            args += ["-sn", self.scenario]
        else:
            args += ["-sf", str(self.scenario)]
        args += ["-i", "127.0.0.1", "-p", str(self.port), "-t", self.transport,
                 "-mi", "127.0.0.1", "-mp", str(self.media_port),
                 "-nostdin", "-timeout", f"{self.timeout:g}s", "-timeout_error",
                 "-trace_stat", "-stf", str(self.stat_file), "-fd", "1",
                 "-trace_err", "-error_file", str(self.error_file)]
        if self.service is not None:
            args += ["-s", self.service]
        if self.count is not None:
            args += ["-m", str(self.count)]
        if self.rate is not None:
            args += ["-r", f"{self.rate:g}"]
        if self.limit is not None:
            args += ["-l", str(self.limit)]
        if self.call_duration_ms is not None:
            args += ["-d", str(self.call_duration_ms)]
        if self.auth is not None:
            args += ["-au", self.auth[0], "-ap", self.auth[1]]
        for key, value in self.keys.items():
            args += ["-key", key, value]
        return args + list(self.extra)

    def _result(self, returncode: int | None) -> SippResult:
        output = (self.output_file.read_text(errors="replace")
                  if self.output_file.exists() else "")
        errors = self.error_file.read_text(errors="replace") if self.error_file.exists() else ""
        self.result = SippResult(returncode, output, errors, SippStats.from_csv(self.stat_file))
        return self.result

    # ---- foreground ----------------------------------------------------------------
    def run(self, *, wall_timeout: float | None = None) -> SippResult:
        """Run to completion (``wall_timeout`` defaults to ``timeout`` + 30 s)."""
        self.start(wait_bound=False)
        assert self.proc is not None
        try:
            returncode: int | None = self.proc.wait(wall_timeout or self.timeout + 30)
        except subprocess.TimeoutExpired:
            stop_pid(self.proc)
            returncode = None
        self.proc = None
        return self._result(returncode)

    # ---- background ----------------------------------------------------------------
    def start(self, *, wait_bound: bool = True, timeout: float = 5.0) -> None:
        """Start in the background; return once the SIP UDP port is bound."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = self.args()
        with self.output_file.open("wb") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        if not wait_bound:
            return
        deadline = time.monotonic() + timeout
        while port_is_free(self.port, tcp=False):
            if self.proc.poll() is not None:
                raise RuntimeError(f"sipp exited at start:\n{self._result(None).describe()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("sipp did not bind its port")
            time.sleep(0.02)

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for a background SIPp (given ``count``) to finish by itself."""
        if self.proc is None:
            raise RuntimeError("sipp is not running")
        returncode = self.proc.wait(timeout or self.timeout + 30)
        self.proc = None
        return self._result(returncode)

    def stop(self, *, graceful: bool = True, grace: float = 6.0) -> SippResult:
        """Stop a background SIPp by its PID and return its result.

        ``graceful``: SIGUSR1 first (SIPp creates no new calls and exits when the current
        ones have ended; the built-in uas keeps each call 4 s in ``timewait``, so its
        SuccessfulCall counter only moves then), waiting up to ``grace`` seconds; then
        SIGTERM/SIGKILL. ``returncode`` is then SIPp's exit code, or negative for a signal.
        """
        if self.proc is None:
            return self.result or self._result(None)
        proc, self.proc = self.proc, None
        if graceful and proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
        stop_pid(proc)
        return self._result(proc.wait())

    def __enter__(self) -> Sipp:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- ready-made configurations -------------------------------------------------
    @classmethod
    def uas(cls, workdir: Path, **options: Any) -> Sipp:
        """The built-in UAS (no Record-Route copying: P2P only)."""
        options.setdefault("name", "uas")
        return cls(workdir=workdir, scenario="uas", **options)

    @classmethod
    def uas_rr(cls, workdir: Path, **options: Any) -> Sipp:
        """A UAS that copies Record-Route (for calls through Kamailio)."""
        options.setdefault("name", "uas_rr")
        return cls(workdir=workdir, scenario=scenario("uas_rr"), **options)

    @classmethod
    def uas_pcap(cls, workdir: Path, **options: Any) -> Sipp:
        """A UAS that answers PCMA and plays 7 s of real RTP from a pcap (needs root)."""
        options.setdefault("name", "uas_pcap")
        return cls(workdir=workdir, scenario=scenario("uas_pcap"), **options)

    @classmethod
    def uac(cls, workdir: Path, remote: str, **options: Any) -> Sipp:
        """The built-in UAC towards ``remote`` (``127.0.0.1:PORT``)."""
        options.setdefault("name", "uac")
        return cls(workdir=workdir, scenario="uac", remote=remote, **options)

    @classmethod
    def uac_pcap(cls, workdir: Path, remote: str, **options: Any) -> Sipp:
        """A UAC that plays 7 s of PCMA from a pcap plus DTMF "123", then BYE (root)."""
        options.setdefault("name", "uac_pcap")
        return cls(workdir=workdir, scenario=scenario("uac_pcap"), remote=remote, **options)

    @classmethod
    def uac_auth(cls, workdir: Path, proxy: str, callee: str, caller: str, password: str,
                 **options: Any) -> Sipp:
        """A UAC calling ``callee`` through an authenticating proxy as ``caller``."""
        options.setdefault("name", "uac_auth")
        return cls(workdir=workdir, scenario=scenario("uac_auth"), remote=proxy,
                   service=callee, keys={"caller": caller}, auth=(caller, password),
                   **options)


@contextlib.contextmanager
def background(sipp: Sipp) -> Iterator[Sipp]:
    """``with background(Sipp.uas(tmp_path)) as uas:`` -- started, then stopped by PID."""
    sipp.start()
    try:
        yield sipp
    finally:
        sipp.stop()


def register_contact(registrar_port: int, user: str, password: str, contact: str, *,
                     expires: int = 300) -> subprocess.CompletedProcess[bytes]:
    """Register ``contact`` (e.g. a background SIPp UAS's ``uri("bob")``) as ``user`` at a
    registrar on 127.0.0.1 with sipsak (digest); raises if sipsak fails.

    SIPp cannot register for another scenario, so the recipe lets sipsak do it; calls to
    ``sip:USER@127.0.0.1:REGISTRAR_PORT`` then reach the UAS through the proxy (use
    :meth:`Sipp.uas_rr` there: the built-in uas does not copy Record-Route).
    """
    local = free_port(tcp=False, ipv6=False)
    done = run_tool([require("sipsak"), "-U", "-C", contact,
                     "-s", f"sip:{user}@127.0.0.1:{registrar_port}", "-u", user,
                     "-a", password, "-x", str(expires), "-l", str(local), "-H", "127.0.0.1"],
                    timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"sipsak REGISTER failed ({done.returncode}): "
                           f"{done.stdout.decode(errors='replace')[-1500:]}")
    return done
