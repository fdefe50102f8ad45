"""Start and drive headless baresip 1.0.0 (Debian) instances on loopback for interop tests.

Knows: baresip's config/accounts/contacts files, its ``ctrl_tcp`` protocol (netstring
framed JSON) and its ``cons`` key input. Must not know voipkit: a failing start here is
a peer problem, never a voipkit bug in disguise.

What :class:`Baresip` starts: ``baresip -f <state>`` with ``stdin=/dev/null``, config from
``baresip/config.in`` (beside this file). Every port is chosen at start time:

- ``sip_port``: SIP over UDP and TCP on 127.0.0.1; baresip also opens TLS on
  ``sip_port + 1`` (libre's convention), so that port is checked to be free as well;
- ``ctrl_port``: ctrl_tcp (commands + events, :class:`BaresipCtrl`);
- ``cons_port``: cons (UDP/TCP keys: digits in a call = RFC 4733 DTMF; the TCP side
  also prints incoming MESSAGE text);
- ``rtp_ports``: a range of free UDP ports for RTP/RTCP;
- ``dns_server 127.0.0.1:<unused UDP port>``: baresip never asks an outside resolver.

Files in ``state`` (a tmp_path directory): ``config``, ``accounts``, ``contacts``,
``uuid``, ``baresip.log`` (stdout+stderr), ``tx.wav`` unless a WAV was given, and
``rec/dump-<YYYY-mm-dd-HH-MM-SS>-{enc,dec}.wav`` from the ``sndfile`` filter:
**``-dec.wav`` is what the peer sent.** :meth:`Baresip.last_received_wav` finds it.

Stopped by SIGTERM to its PID (then SIGKILL), in :meth:`Baresip.stop` / the context
manager exit.

Pitfalls (from the verified recipe):
- ``net_interface lo`` fails; the IP ``127.0.0.1`` is used.
- No ``stdio`` module: with stdin ``/dev/null`` it fails; drive through ctrl_tcp/cons.
- Call commands (``hold``, ``resume``, ``sndcode`` = DTMF, ``transfer``, ``reinvite``,
  ``mute``) exist only while a call is up (``help`` lists them then); the recipe's
  "no DTMF command" is about the idle menu. :meth:`Baresip.send_dtmf` uses ``sndcode``
  (or the ``cons`` keys); the far end sees RFC 4733 events.
- REGISTER_OK of the first REGISTER usually fires before the ctrl_tcp connection is
  up, so :meth:`Baresip.wait_registered` polls ``reginfo`` instead.
- A call closed by the peer's BYE reports CALL_CLOSED with ``param`` "Connection reset
  by peer"; the side that hung up reports "Connection reset by user".
- ``sndfile`` names dumps by the second: two calls within one second overwrite each
  other. :meth:`Baresip.new_recording_second` waits until the next second starts.
- A re-INVITE that updates media (hold/resume, the peer's hold) restarts the sndfile
  dump: the newest ``-dec.wav`` then holds only the audio since that update (and a
  restart within the same second overwrites the earlier dump).
- ``mediaenc="srtp-mand"`` (or ``srtp``, ``srtp-mandf``) loads ``srtp.so`` and offers
  RTP/SAVP with SDES keys; a CALL_MENC event reports the negotiated encryption. Verified
  baresip<->baresip with audio intact.
- ``aufile`` loads the whole WAV and stops at EOF: make the tone longer than the call.
- Incoming MESSAGE text is no ctrl_tcp event; connect to the cons TCP port
  (:meth:`Baresip.console`) before it arrives.
- Contact users look like ``alice-0x5639...``; the AoR is what matters.
- If no contacts file exists baresip writes a default one with *external* URIs, so a
  contacts file is always written here.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interop import audio
from interop.peers import free_port, require, stop_pid

HERE = Path(__file__).resolve().parent
#: colour codes baresip puts into command output (reginfo: OK in green)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def port_is_free(port: int, *, udp: bool = True, tcp: bool = True) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 for the given protocols right now."""
    kinds = ([socket.SOCK_DGRAM] if udp else []) + ([socket.SOCK_STREAM] if tcp else [])
    try:
        with contextlib.ExitStack() as stack:
            for kind in kinds:
                s = stack.enter_context(socket.socket(socket.AF_INET, kind))
                s.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def free_port_range(count: int, *, udp: bool = True, tcp: bool = False) -> int:
    """The first of ``count`` consecutive free ports on 127.0.0.1 (for RTP ranges)."""
    for _ in range(100):
        base = free_port(udp=udp, tcp=True, ipv6=False)
        if base + count > 65535:
            continue
        if all(port_is_free(base + i, udp=udp, tcp=tcp) for i in range(1, count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports on loopback")


def free_port_pair() -> int:
    """A port free for UDP+TCP whose successor is free for TCP (baresip's TLS port)."""
    for _ in range(100):
        port = free_port(ipv6=False)
        if port < 65535 and port_is_free(port + 1, udp=False):
            return port
    raise RuntimeError("no free SIP port pair on loopback")


#: baresip config lines for video (Baresip.video_codecs): libavcodec H.264, libvpx VP8,
#: the fakevideo source and display (headless), snapshot for the received picture.
VIDEO_CONFIG = """
module			avcodec.so
module			vp8.so
module			fakevideo.so
module			snapshot.so
video_source		fakevideo,nil
video_display		fakevideo,nil
video_size		352x288
video_bitrate		500000
video_fps		15.00
avcodec_h264enc		libx264
avcodec_h264dec		h264
"""


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


class BaresipCtrl:
    """A ctrl_tcp connection: sends commands, collects responses and events.

    A reader thread decodes the netstring-framed JSON. Responses look like
    ``{"response": true, "ok": true, "data": "...", "token": "..."}``; events like
    ``{"event": true, "class": "call", "type": "CALL_ESTABLISHED", "accountaor": ...,
    "peeruri": ..., "param": ...}``. Events observed with 1.0.0: REGISTER_OK,
    REGISTER_FAIL, CALL_INCOMING, CALL_RINGING, CALL_PROGRESS, CALL_ESTABLISHED,
    CALL_CLOSED (``param`` = reason), CALL_DTMF_START (``param`` = digit), CALL_DTMF_END,
    CALL_RTCP, ...
    """

    def __init__(self, port: int, *, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(None)
        self.events: list[dict[str, Any]] = []
        self.responses: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._token = 0
        self._closed = False
        self._thread = threading.Thread(target=self._reader, name=f"ctrl_tcp:{port}",
                                        daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buf += chunk
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                size = int(buf[:colon])
                if len(buf) < colon + size + 2:
                    break
                message = json.loads(buf[colon + 1:colon + 1 + size])
                buf = buf[colon + size + 2:]
                with self._cond:
                    if message.get("event"):
                        self.events.append(message)
                    elif message.get("response"):
                        self.responses[str(message.get("token", ""))] = message
                    self._cond.notify_all()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(2)

    def command(self, line: str, *, timeout: float = 5.0) -> dict[str, Any]:
        """Run a baresip long command (``dial sip:..``, ``hangup``, ``reginfo``...).

        Returns the response dict; raises ``TimeoutError`` if none arrives in time.
        ``response["ok"]`` is False when baresip refused the command.
        """
        name, _, params = line.partition(" ")
        with self._cond:
            self._token += 1
            token = f"t{self._token}"
        message: dict[str, str] = {"command": name, "token": token}
        if params:
            message["params"] = params
        self.sock.sendall(netstring(json.dumps(message).encode()))
        deadline = time.monotonic() + timeout
        with self._cond:
            while token not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise TimeoutError(f"baresip: no response to {line!r}")
                self._cond.wait(left)
            return self.responses.pop(token)

    def mark(self) -> int:
        """The current event count; pass it as ``since`` to wait only for newer events."""
        with self._cond:
            return len(self.events)

    def wait_event(self, type_: str, timeout: float = 10.0, *, since: int = 0,
                   **fields: str) -> dict[str, Any]:
        """The first event of ``type_`` (at index >= ``since``) whose fields match.

        Raises ``TimeoutError`` listing the events seen if none arrives within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if event.get("type") == type_ and all(
                            str(event.get(k)) == v for k, v in fields.items()):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    seen = [e.get("type") for e in self.events[since:]]
                    raise TimeoutError(f"baresip: no {type_} event within {timeout}s; "
                                       f"saw {seen}")
                self._cond.wait(left)

    def events_of(self, type_: str, *, since: int = 0) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events[since:] if e.get("type") == type_]

    def dtmf_received(self, *, since: int = 0) -> str:
        """The digits of the CALL_DTMF_START events since ``since``, in order."""
        return "".join(str(e.get("param", "")) for e in self.events_of("CALL_DTMF_START",
                                                                        since=since))


@dataclass
class Baresip:
    """One headless baresip UA with one account (see the module docstring).

    ``registrar_port=None`` makes a peer-to-peer account
    ``<sip:USER@127.0.0.1:SIP_PORT>;regint=0``; otherwise the account registers to
    ``sip:USER@127.0.0.1:REGISTRAR_PORT`` (e.g. ``peers.Kamailio.port``) with
    ``password`` and ``regint``. ``answermode`` is ``auto`` or ``manual``. ``tx_wav`` is
    the microphone (default: a 30 s 440 Hz tone made with numpy). ``mediaenc`` (``srtp``,
    ``srtp-mand``, ...) loads the srtp module and sets the account's media encryption.
    """

    state: Path
    user: str = "alice"
    tx_wav: Path | None = None
    registrar_port: int | None = None
    password: str | None = None
    answermode: str = "auto"
    regint: int = 300
    codecs: str = "PCMU,PCMA"
    mediaenc: str | None = None
    tls_cafile: Path | None = None
    contacts: Sequence[str] = ()
    extra_account_params: str = ""
    rtp_port_count: int = 20
    video_codecs: str | None = None
    "Video codecs of the account (``H264``, ``VP8``): loads avcodec, vp8, fakevideo (a test"
    " source and a display that drops frames) and snapshot (``snapshot_recv <png>``)."
    sip_port: int = 0
    ctrl_port: int = 0
    cons_port: int = 0
    dns_port: int = 0
    rtp_min: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    ctrl: BaresipCtrl | None = field(default=None, repr=False)

    # ---- files and addresses -------------------------------------------------------
    @property
    def log(self) -> Path:
        return self.state / "baresip.log"

    @property
    def rec_dir(self) -> Path:
        return self.state / "rec"

    @property
    def uri(self) -> str:
        """The direct (peer-to-peer) URI of this UA: ``sip:USER@127.0.0.1:SIP_PORT``."""
        return f"sip:{self.user}@127.0.0.1:{self.sip_port}"

    @property
    def aor(self) -> str:
        """The account's address of record as baresip reports it in events."""
        port = self.registrar_port if self.registrar_port is not None else self.sip_port
        return f"sip:{self.user}@127.0.0.1:{port}"

    @property
    def rtp_ports(self) -> range:
        return range(self.rtp_min, self.rtp_min + self.rtp_port_count)

    def account_line(self) -> str:
        params = [f"answermode={self.answermode}", f"audio_codecs={self.codecs}"]
        if self.mediaenc:
            params.append(f"mediaenc={self.mediaenc}")
        if self.video_codecs:
            params.append(f"video_codecs={self.video_codecs}")
        if self.registrar_port is None:
            head = f"<sip:{self.user}@127.0.0.1:{self.sip_port}>"
            params.insert(0, "regint=0")
        else:
            head = f"<sip:{self.user}@127.0.0.1:{self.registrar_port};transport=udp>"
            if self.password is not None:
                params.insert(0, f"auth_pass={self.password}")
            params.insert(1 if self.password is not None else 0, f"regint={self.regint}")
        line = head + "".join(f";{p}" for p in params)
        return line + (f";{self.extra_account_params}" if self.extra_account_params else "")

    # ---- life cycle ----------------------------------------------------------------
    def start(self, *, timeout: float = 10.0) -> None:
        binary = require("baresip")
        self.state.mkdir(parents=True, exist_ok=True)
        self.rec_dir.mkdir(exist_ok=True)
        if self.tx_wav is None:
            self.tx_wav = audio.write_tone(self.state / "tx.wav", 440.0, 30.0)
        self.sip_port = free_port_pair()
        self.ctrl_port = free_port(udp=False, ipv6=False)
        self.cons_port = free_port(ipv6=False)
        self.dns_port = free_port(tcp=False, ipv6=False)
        self.rtp_min = free_port_range(self.rtp_port_count)
        extra = "module\t\t\tsrtp.so" if self.mediaenc else ""
        if self.video_codecs:
            extra += VIDEO_CONFIG
        cafile = f"sip_cafile\t\t{self.tls_cafile}" if self.tls_cafile else ""
        config = (
            (HERE / "baresip" / "config.in").read_text()
            .replace("@SIP_PORT@", str(self.sip_port))
            .replace("@SIP_CAFILE@", cafile)
            .replace("@DNS_PORT@", str(self.dns_port))
            .replace("@TX_WAV@", str(self.tx_wav))
            .replace("@RTP_MIN@", str(self.rtp_min))
            .replace("@RTP_MAX@", str(self.rtp_min + self.rtp_port_count - 1))
            .replace("@EXTRA_MODULES@", extra)
            .replace("@CONS_PORT@", str(self.cons_port))
            .replace("@CTRL_PORT@", str(self.ctrl_port))
            .replace("@STATE@", str(self.state))
        )
        (self.state / "config").write_text(config)
        (self.state / "accounts").write_text(self.account_line() + "\n")
        (self.state / "contacts").write_text(
            "# written by tests/interop/baresip.py (no external default contacts)\n"
            + "".join(f"{c}\n" for c in self.contacts))
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([binary, "-f", str(self.state)], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, cwd=self.state)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"baresip exited at start:\n{self.log_text()[-2000:]}")
            try:
                self.ctrl = BaresipCtrl(self.ctrl_port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"baresip ctrl_tcp not up:\n{self.log_text()[-2000:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.ctrl is not None:
            self.ctrl.close()
            self.ctrl = None
        if self.proc is not None:
            stop_pid(self.proc)
            self.proc = None

    def __enter__(self) -> Baresip:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # ---- control -------------------------------------------------------------------
    def _ctrl(self) -> BaresipCtrl:
        if self.ctrl is None:
            raise RuntimeError("baresip is not running")
        return self.ctrl

    def command(self, line: str, *, timeout: float = 5.0) -> dict[str, Any]:
        return self._ctrl().command(line, timeout=timeout)

    def mark(self) -> int:
        return self._ctrl().mark()

    def wait_event(self, type_: str, timeout: float = 10.0, *, since: int = 0,
                   **fields: str) -> dict[str, Any]:
        return self._ctrl().wait_event(type_, timeout, since=since, **fields)

    def registered(self) -> bool:
        """Whether ``reginfo`` shows the account's binding as OK (200 from the registrar)."""
        data = ANSI.sub("", self.command("reginfo")["data"])
        return re.search(r"\sOK\s", data) is not None

    def wait_registered(self, timeout: float = 10.0) -> None:
        """Wait until the account is registered; raises TimeoutError otherwise.

        Polls ``reginfo`` rather than waiting for REGISTER_OK: the first REGISTER often
        completes before the ctrl_tcp connection exists, and that event is then lost.
        """
        deadline = time.monotonic() + timeout
        while not self.registered():
            failed = self._ctrl().events_of("REGISTER_FAIL")
            if failed or time.monotonic() > deadline:
                raise TimeoutError(f"baresip {self.user} not registered: {failed}\n"
                                   f"{self.log_text()[-1500:]}")
            time.sleep(0.05)

    def dial(self, uri: str) -> dict[str, Any]:
        return self.command(f"dial {uri}")

    def accept(self) -> dict[str, Any]:
        """Answer the incoming call (answermode=manual)."""
        return self.command("accept")

    def hangup(self) -> dict[str, Any]:
        return self.command("hangup")

    def hold(self) -> dict[str, Any]:
        """Put the current call on hold (re-INVITE with a=sendonly)."""
        return self.command("hold")

    def resume(self) -> dict[str, Any]:
        return self.command("resume")

    def message(self, text: str) -> dict[str, Any]:
        """Send a SIP MESSAGE to the *current contact*: 1.0.0's ``message`` has no URI
        parameter, so pass the destination as the first entry of ``contacts`` (e.g.
        ``'"bob" <sip:bob@127.0.0.1:5070>'``) or move with ``contact_next``."""
        return self.command(f"message {text}")

    def send_dtmf(self, digits: str, *, gap: float = 0.3, via_cons: bool = False) -> None:
        """Send ``digits`` as RFC 4733 DTMF in the current call, ``gap`` seconds apart.

        Uses the ``sndcode`` command (present in 1.0.0 only while a call is up, though
        the recipe README says there is none); ``via_cons=True`` types the digits into
        the cons UDP port instead, as the recipe did. The peer's baresip reports each
        digit as CALL_DTMF_START (see :meth:`BaresipCtrl.dtmf_received`).
        """
        if via_cons:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for digit in digits:
                    s.sendto(digit.encode(), ("127.0.0.1", self.cons_port))
                    time.sleep(gap)
            return
        for digit in digits:
            response = self.command(f"sndcode {digit}")
            if not response.get("ok"):
                raise RuntimeError(f"baresip refused sndcode {digit}: {response}")
            time.sleep(gap)

    @contextlib.contextmanager
    def console(self, timeout: float = 5.0) -> Iterator[socket.socket]:
        """A TCP connection to cons: baresip prints UI output (incoming MESSAGE text) to it."""
        s = socket.create_connection(("127.0.0.1", self.cons_port), timeout)
        try:
            yield s
        finally:
            s.close()

    # ---- recordings ----------------------------------------------------------------
    def last_received_wav(self) -> Path | None:
        """The ``-dec.wav`` dump (audio received from the peer) of the newest call."""
        return audio.baresip_received(self.rec_dir)

    def last_sent_wav(self) -> Path | None:
        return audio.newest(self.rec_dir, "dump-*-enc.wav")

    @staticmethod
    def new_recording_second() -> None:
        """Sleep into the next wall-clock second, so sndfile's next dump gets a new name."""
        now = time.time()
        time.sleep(1.0 - (now % 1.0) + 0.02)


@contextlib.contextmanager
def baresip(state: Path, **options: Any) -> Iterator[Baresip]:
    """``with baresip(tmp_path / "alice", user="alice") as ua:`` -- started and stopped."""
    ua = Baresip(state=state, **options)
    ua.start()
    try:
        yield ua
    finally:
        ua.stop()
