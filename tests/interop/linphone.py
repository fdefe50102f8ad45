"""Start and drive headless linphonec (Debian linphone-cli 5.1.65) on loopback.

Knows: linphonec's command line interface (stdin commands, stdout messages) and its
linphonerc. Must not know voipkit.

What :class:`Linphonec` starts: ``HOME=<state> linphonec -c <state>/linphonerc -d 0``
(plus ``-a`` for auto-answer) with stdin a pipe held open by this object (so linphonec
never sees EOF between commands) and stdout/stderr read by a thread into
``<state>/linphonec.log`` and an in-memory transcript that :meth:`Linphonec.wait_for`
searches. Ports chosen at start: ``sip_port`` (UDP on 127.0.0.1) and ``rtp_port``
(audio RTP; RTCP is rtp_port+1; the unused video port is rtp_port+2, all checked free).

Files in ``state``: ``linphonerc`` (from ``linphone/linphonerc.in``), ``tx.wav`` (the
microphone unless a WAV was given), ``rec.wav`` (received audio), ``linphonec.log``,
``.local/share/linphone/`` (its DB). At start it sends ``soundcard use files``,
``play <tx.wav>``, ``record <rec.wav>`` and, with ``autoanswer=True``, ``autoanswer
enable``.

Stopped by ``quit`` on stdin, then SIGTERM/SIGKILL to its PID (:meth:`Linphonec.stop`).

Pitfalls (from the verified recipe):
- Without ``$HOME/.local/share/linphone/`` liblinphone does not start its SIP stack:
  ``register`` then fails with "No listening point". HOME is the state dir and the
  directory is created.
- ``[sip] auto_net_state_mon=0`` keeps the network "down"; it is left unset.
- ``bind_address=127.0.0.1`` keeps SIP, Contact and SDP ``c=`` on loopback.
- The ``rec.wav`` header is complete only after linphonec quits; use
  :func:`interop.audio.read_wav` (tolerant) or call :meth:`Linphonec.stop` first.
- GRUU: the registrar must have GRUU disabled (our Kamailio has), else ACK/BYE to
  linphone's pub-gruu Contact are lost and linphone keeps the call up.
- Single digits typed while a call is up are sent as RFC 2833/4733 DTMF.
- On a pipe linphonec 5.1 prints call progress ("Receiving new incoming call from ...",
  "Call N with URI connected.", "Call N with URI ended (...)", "Call N ... is now
  paused.") but no registration progress: :meth:`Linphonec.register` polls
  ``status register`` ("registered, identity=..." / "registered=-1").
- Every line it reads is echoed after the ``linphonec>`` prompt; match on its replies.
- "Could not find a suitable soundcard" and ALSA errors at start are harmless.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from interop import audio
from interop.baresip import free_port_range
from interop.peers import free_port, require, stop_pid

HERE = Path(__file__).resolve().parent
#: linphonerc [video] for Linphonec(video=True): mediastreamer2's static picture camera,
#: the external display (draws nothing, needs no X server), video on in both directions.
VIDEO_SECTION = """[video]
enabled=1
capture=1
display=1
device=StaticImage: Static picture
size=vga
displaytype=MSExtDisplay
automatically_initiate=1
automatically_accept=1
"""


@dataclass
class Linphonec:
    """One linphonec process (see the module docstring).

    ``tx_wav`` is the microphone (default a 30 s 700 Hz tone); ``autoanswer`` answers
    incoming calls at once, otherwise call :meth:`answer`.
    """

    state: Path
    tx_wav: Path | None = None
    autoanswer: bool = True
    video: bool = False
    "Enable video (-V): a static-picture camera and a display that shows nothing."
    debug: int = 0
    sip_port: int = 0
    rtp_port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _out: list[str] = field(default_factory=list, repr=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.state / "linphonec.log"

    @property
    def rec_wav(self) -> Path:
        """What linphonec received (its ``record`` file); complete only after stop()."""
        return self.state / "rec.wav"

    @property
    def uri(self) -> str:
        """A direct URI for peer-to-peer calls to this linphonec."""
        return f"sip:linphone@127.0.0.1:{self.sip_port}"

    # ---- life cycle ----------------------------------------------------------------
    def start(self, *, settle: float = 0.5) -> None:
        binary = require("linphonec")
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        if self.tx_wav is None:
            self.tx_wav = audio.write_tone(self.state / "tx.wav", 700.0, 30.0)
        self.sip_port = free_port(tcp=False, ipv6=False)
        self.rtp_port = free_port_range(4)
        rc = (
            (HERE / "linphone" / "linphonerc.in").read_text()
            .replace("@SIP_PORT@", str(self.sip_port))
            .replace("@RTP_PORT@", str(self.rtp_port))
            .replace("@VRTP_PORT@", str(self.rtp_port + 2))
        )
        if self.video:
            rc = rc.replace("[video]\nenabled=0\ncapture=0\ndisplay=0\n", VIDEO_SECTION)
        (self.state / "linphonerc").write_text(rc)
        env = dict(os.environ, HOME=str(self.state))
        args = [binary, "-c", str(self.state / "linphonerc"), "-d", str(self.debug)]
        if self.autoanswer:
            args.append("-a")
        if self.video:
            args.append("-V")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.state)
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,),
                                        name="linphonec-out", daemon=True)
        self._reader.start()
        self.send("soundcard use files")
        self.send(f"play {self.tx_wav}")
        self.send(f"record {self.rec_wav}")
        if self.autoanswer:
            self.send("autoanswer enable")
        try:
            self.wait_for(r"Auto answer enabled" if self.autoanswer
                          else r"Using wav files instead of soundcard", timeout=10)
        except TimeoutError:
            self.stop()
            raise
        time.sleep(settle)
        if self.proc.poll() is not None:
            raise RuntimeError(f"linphonec exited at start:\n{self.transcript()[-2000:]}")

    def _read(self, stream: IO[bytes]) -> None:
        with self.log.open("ab") as log:
            for raw in iter(stream.readline, b""):
                log.write(raw)
                log.flush()
                with self._cond:
                    self._out.append(raw.decode(errors="replace"))
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        """``quit``, wait up to 5 s (that finalises rec.wav), then stop the PID."""
        if self.proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.send("quit")
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            stop_pid(self.proc)
        if self._reader is not None:
            self._reader.join(2)
        self.proc = None

    def __enter__(self) -> Linphonec:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- I/O -----------------------------------------------------------------------
    def send(self, line: str) -> None:
        """Write one command line to linphonec's stdin."""
        if self.proc is None or self.proc.stdin is None:
            raise RuntimeError("linphonec is not running")
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def transcript(self) -> str:
        with self._cond:
            return "".join(self._out)

    def mark(self) -> int:
        """The current transcript position; pass as ``since`` to match only newer output."""
        with self._cond:
            return len("".join(self._out))

    def wait_for(self, pattern: str, *, timeout: float = 10.0, since: int = 0,
                 ) -> re.Match[str]:
        """The first match of the regex ``pattern`` in the output after ``since``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = "".join(self._out)
                match = regex.search(text, since)
                if match:
                    return match
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    raise TimeoutError(f"linphonec: no /{pattern}/ within {timeout}s; output "
                                       f"since mark:\n{text[since:][-2000:]}")
                self._cond.wait(min(left, 0.2))

    def command(self, line: str, pattern: str, *, timeout: float = 10.0) -> re.Match[str]:
        """Send ``line`` and wait for ``pattern`` in the output it causes."""
        since = self.mark()
        self.send(line)
        return self.wait_for(pattern, timeout=timeout, since=since)

    # ---- SIP actions ---------------------------------------------------------------
    def register(self, user: str, proxy_port: int, password: str, *,
                 timeout: float = 10.0) -> str:
        """Register ``sip:USER@127.0.0.1`` at ``sip:127.0.0.1:PROXY_PORT`` (digest).

        linphonec 5.1 prints no asynchronous registration message on a pipe, so this polls
        ``status register`` until it says ``registered, identity=...``; returns that line.
        """
        self.send(f"register sip:{user}@127.0.0.1 sip:127.0.0.1:{proxy_port} {password}")
        deadline = time.monotonic() + timeout
        while True:
            match = self.command("status register", r"(?m)^(registered.*|unregistered.*)$")
            if match.group(1).startswith("registered,"):
                return match.group(1)
            if time.monotonic() > deadline:
                raise TimeoutError(f"linphonec not registered: {match.group(1)}")
            time.sleep(0.1)

    def call(self, uri: str) -> int:
        """Start a call; returns linphonec's output position before it (for wait_for)."""
        since = self.mark()
        self.send(f"call {uri}")
        return since

    def wait_connected(self, *, since: int = 0, timeout: float = 10.0) -> re.Match[str]:
        return self.wait_for(r"Call \d+ with .* connected", since=since, timeout=timeout)

    def wait_incoming(self, *, since: int = 0, timeout: float = 10.0) -> re.Match[str]:
        return self.wait_for(r"Receiving new incoming call from .*", since=since,
                             timeout=timeout)

    def wait_ended(self, *, since: int = 0, timeout: float = 10.0) -> re.Match[str]:
        return self.wait_for(r"Call \d+ with .* (ended|error)|Call ended", since=since,
                             timeout=timeout)

    def answer(self) -> None:
        self.send("answer")

    def terminate(self) -> None:
        self.send("terminate")

    def pause(self) -> None:
        """Put the current call on hold (linphonec ``pause``: re-INVITE a=sendonly)."""
        self.send("pause")

    def resume(self) -> None:
        self.send("resume")

    def calls(self, *, settle: float = 0.3) -> str:
        """The output of ``calls`` (the call table, or "No active call."); linphonec marks
        no end of a command's output, so this waits ``settle`` seconds after it starts."""
        since = self.mark()
        self.send("calls")
        self.wait_for(r"No active call|\|", since=since, timeout=5)
        time.sleep(settle)
        return self.transcript()[since:]

    def send_dtmf(self, digits: str, *, gap: float = 0.5) -> None:
        """Type digits during a call: each single-character line is sent as RFC 2833 DTMF."""
        for digit in digits:
            self.send(digit)
            time.sleep(gap)

    def chat(self, uri: str, text: str) -> None:
        """Send a SIP MESSAGE (plain text) to ``uri``."""
        self.send(f"chat {uri} {text}")

    def received_stats(self) -> audio.ToneStats:
        """Tone statistics of rec.wav (stop() first for the complete file)."""
        return audio.analyse(self.rec_wav)


@contextlib.contextmanager
def linphonec(state: Path, **options: Any) -> Iterator[Linphonec]:
    """``with linphonec(tmp_path / "lp") as lp:`` -- started and stopped."""
    ua = Linphonec(state=state, **options)
    ua.start()
    try:
        yield ua
    finally:
        ua.stop()
