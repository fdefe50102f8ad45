"""``voipkit agent``: a headless, scriptable SIP user agent (like pjsua or baresip).

Knows: the public API ``voipkit.api`` (Phone, Account, Call, their events, config and
errors) and, for the choice of event loop only, ``voipkit.aio.loop`` (uvloop when it is
installed). Must not know: the SIP, SDP or media layers — everything it does goes
through ``voipkit.api``, so it is also a working example of that API.

It is driven three ways: options (``--call``, ``--auto-answer``, ``--play`` ...), commands
on stdin (one per line: ``call URI``, ``answer [ID]``, ``hangup [ID|all]``, ``hold [ID]``,
``unhold [ID]``, ``dtmf DIGITS [ID]``, ``register``, ``unregister``, ``quit``, and the
subscription commands of ``agent_subscriptions``: ``subscribe``, ``unsubscribe``,
``publish``, ``presence``, ``watcher``, ``mwi``, ``pickup``, and the transfer and
messaging commands of ``agent_transfer``: ``transfer``, ``attended``, ``message``,
``send``) and signals
(SIGINT/SIGTERM: hang up, unregister, exit 0). It reports on stdout, one line per event:
readable text, or with ``--json`` one JSON object whose ``"event"`` is the PortSIP
manual's callback name and whose keys are that callback's parameter names. docs/agent.md
is the user's guide.

Exit codes: 0 after ``quit``, a signal, or (with ``--call`` and ``--duration``) the last
call's end; 2 for a usage error; 1 for a runtime failure (a port in use, an unreachable
or refusing registrar). Either failure prints one line ``voipkit agent: ...`` on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

from voipkit import agent_audio, agent_subscriptions, agent_transfer, agent_video
from voipkit.aio.loop import run as run_loop
from voipkit.api import (
    Account,
    AccountConfig,
    AccountRegistered,
    AccountRegistrationFailed,
    AccountUnregistered,
    Call,
    CallAnswered,
    CallConnected,
    CallEnded,
    CallFailure,
    CallForwarded,
    CallProgress,
    CallRefused,
    CallState,
    CallTrying,
    CallUpdated,
    ConfigurationError,
    DtmfReceived,
    IncomingCall,
    InfoReceived,
    Listen,
    MediaConfig,
    OptionsReceived,
    Phone,
    PhoneConfig,
    PhoneEvent,
    PlaybackFinished,
    ReferReceived,
    RemoteHold,
    RemoteUnhold,
    TlsSettings,
    TransportError,
    VoipkitError,
    screen_stream,
)

#: What voipkit raises on purpose (``TransportError`` does not derive from ``VoipkitError``).
FAILURES = (VoipkitError, TransportError)

PROG = "voipkit agent"
USAGE_ERROR = 2
RUNTIME_ERROR = 1

#: RFC 4733 §3.2 event codes, which are also the manual's ``tone`` values of onRecvDtmfTone.
DTMF_TONES = {d: i for i, d in enumerate("0123456789*#ABCD")} | {"!": 16}

_RTPMAP = re.compile(rb"^a=rtpmap:\d+\s+([^/\s]+)/", re.MULTILINE)

logger = logging.getLogger(__name__)


class AgentError(Exception):
    """Ends the agent with a one-line message and an exit code (2: usage, 1: runtime)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# --- options ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (``AgentError``), not usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise AgentError(message, USAGE_ERROR)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < 1e6:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The agent's options, added to ``parser`` (the ``agent`` subcommand) or a new parser."""
    p = parser if parser is not None else _Parser(prog=PROG)
    p.description = "A headless, scriptable SIP user agent; commands on stdin (see docs/agent.md)."
    add = p.add_argument
    add("--listen", action="append", metavar="KIND:IP:PORT",
        help="SIP listener, repeatable: udp:|tcp:|tls:IP:PORT, port 0 = any free port "
             "(default udp:127.0.0.1:0)")
    add("--user", help="SIP user name of our account")
    add("--password", help="digest password")
    add("--auth-name", help="digest user name when it differs from --user")
    add("--display-name", help="display name of our address")
    add("--domain", help="SIP domain (default: the host of --server)")
    add("--server", metavar="HOST[:PORT]", help="registrar / proxy")
    add("--outbound", metavar="HOST[:PORT]", help="outbound proxy every request goes through")
    add("--stun", metavar="HOST[:PORT]", help="STUN server (passed to the account)")
    add("--transport", choices=("udp", "tcp", "tls"),
        help="transport towards --server (default: that of the first --listen)")
    add("--register", action="store_true", help="register with --server at start")
    add("--expires", type=int, default=3600, metavar="N", help="registration lifetime (s)")
    add("--auto-answer", type=_non_negative, nargs="?", const=0.0, default=None,
        metavar="SECONDS", help="answer incoming calls after SECONDS (default 0)")
    add("--call", action="append", metavar="URI", help="call URI at start (repeatable)")
    add("--refer", choices=("accept", "reject", "ask"), default="accept",
        help="incoming REFERs: accept at once (default), reject (603), or ask: wait for "
             "'refer accept|reject ID'")
    add("--play", metavar="FILE", help="WAV file played into every call once connected")
    add("--record", metavar="FILE",
        help="record received audio to FILE (.wav); later calls add -ID before the extension")
    add("--codecs", metavar="LIST", help="comma list of audio codecs, e.g. PCMU,PCMA")
    agent_video.add_options(add)
    agent_audio.add_options(add)
    add("--dtmf", metavar="DIGITS", help="DTMF digits sent once a call is connected")
    add("--dtmf-method", choices=("rfc4733", "info"), default="rfc4733",
        help="how --dtmf and the dtmf command send digits (default rfc4733)")
    add("--duration", type=_non_negative, metavar="SECONDS",
        help="hang up each call this long after it connects; with --call, exit once "
             "the last call has ended")
    add("--max-calls", type=int, metavar="N", help="concurrent calls; more get 486 Busy Here")
    add("--tls-ca", metavar="FILE", help="extra trust anchors (PEM)")
    add("--no-tls-verify", action="store_true", help="do not verify TLS peers")
    add("--tls-cert", metavar="FILE", help="our certificate chain (PEM), for tls: listeners")
    add("--tls-key", metavar="FILE", help="our private key (PEM)")
    add("--rtp-ports", metavar="MIN-MAX", help="RTP port range (default 20000-40000)")
    add("--rtp-ip", metavar="IP", help="RTP address announced in SDP (default: first listener)")
    add("--json", action="store_true", help="one JSON object per line per event")
    add("-q", "--quiet", action="store_true",
        help="print only ready, errors and command replies (for load tests)")
    add("--log-level", default="WARNING",
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        help="voipkit's own log on stderr (default WARNING)")
    return p


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """Everything the agent was asked to do, checked."""

    phone: PhoneConfig
    account: AccountConfig | None
    register: bool
    auto_answer: float | None
    calls: tuple[str, ...]
    play: str | None
    record: str | None
    dtmf: str | None
    dtmf_method: str
    duration: float | None
    json: bool
    quiet: bool
    log_level: str
    refer: str = "accept"
    "What to do with an incoming REFER: accept, reject or ask (agent_transfer.on_refer)."
    video: agent_video.VideoOptions = field(default_factory=agent_video.VideoOptions)
    "--video, --video-codecs, --video-size, --record-video (agent_video)."
    audio: agent_audio.AudioOptions = field(default_factory=agent_audio.AudioOptions)
    "--srtp, --record-mode, --record-stereo, --conference (agent_audio)."


def parse_options(argv: list[str]) -> AgentOptions:
    """Parse and check the command line of ``voipkit agent`` (without the ``agent`` word).

    Raises:
        AgentError: code 2, the message naming the bad argument.
    """
    args = build_parser().parse_args(argv)
    return options_from_args(args)


def options_from_args(args: argparse.Namespace) -> AgentOptions:
    """Turn parsed arguments into checked settings (``AgentError`` code 2 when they clash)."""
    try:
        return _options(args)
    except ConfigurationError as exc:
        raise AgentError(str(exc), USAGE_ERROR) from None


def _options(args: argparse.Namespace) -> AgentOptions:
    def usage(message: str) -> NoReturn:
        raise AgentError(message, USAGE_ERROR)

    listen = tuple(Listen.parse(text) for text in (args.listen or ["udp:127.0.0.1:0"]))
    media: dict[str, Any] = {}
    if args.codecs is not None:
        codecs = tuple(c.strip().upper() for c in args.codecs.split(",") if c.strip())
        if not codecs:
            usage("--codecs: give a comma list such as PCMU,PCMA")
        media["codecs"] = codecs
    if args.rtp_ports is not None:
        low, sep, high = args.rtp_ports.partition("-")
        if not sep or not low.isdigit() or not high.isdigit():
            usage(f"--rtp-ports {args.rtp_ports!r} is not MIN-MAX (e.g. 20000-40000)")
        media["rtp_port_range"] = (int(low), int(high))
    if args.rtp_ip is not None:
        media["rtp_ip"] = args.rtp_ip
    for flag, path in (("--tls-ca", args.tls_ca), ("--tls-cert", args.tls_cert),
                       ("--tls-key", args.tls_key), ("--play", args.play)):
        if path is not None and not os.path.isfile(path):
            usage(f"{flag} {path!r}: no such file")
    if (args.tls_cert is None) != (args.tls_key is None):
        usage("--tls-cert and --tls-key go together")
    if args.record is not None:
        parent = Path(args.record).parent
        if not parent.is_dir():
            usage(f"--record {args.record!r}: directory {str(parent)!r} does not exist")
    if args.dtmf is not None:
        bad = [d for d in args.dtmf if d.upper() not in DTMF_TONES]
        if bad or not args.dtmf:
            usage(f"--dtmf {args.dtmf!r}: digits are 0-9, *, #, A-D and !")
    phone_kw: dict[str, Any] = {}
    if args.max_calls is not None:
        phone_kw["max_calls"] = args.max_calls
    phone = PhoneConfig(
        listen=listen, media=MediaConfig(**media),
        tls=TlsSettings(verify=not args.no_tls_verify, ca_file=args.tls_ca,
                        cert_file=args.tls_cert, key_file=args.tls_key),
        **phone_kw)
    account = None
    if args.register and args.user is None:
        usage("--register needs --user (and --server or --domain)")
    if args.user is not None:
        domain = args.domain
        if domain is None and args.server is not None:
            domain = _host_of(args.server)
        if domain is None:
            usage("--user needs --domain or --server")
        account = AccountConfig(
            user=args.user, domain=domain, password=args.password, auth_name=args.auth_name,
            display_name=args.display_name, server=args.server, outbound_proxy=args.outbound,
            stun=args.stun, expires=args.expires,
            transport=args.transport or listen[0].transport)
    else:
        for flag, value in (("--password", args.password), ("--auth-name", args.auth_name),
                            ("--server", args.server), ("--outbound", args.outbound)):
            if value is not None:
                usage(f"{flag} needs --user")
    return AgentOptions(
        phone=phone, account=account, register=args.register, auto_answer=args.auto_answer,
        calls=tuple(args.call or ()), play=args.play, record=args.record, dtmf=args.dtmf,
        dtmf_method=args.dtmf_method, duration=args.duration, json=args.json,
        quiet=args.quiet, log_level=args.log_level, refer=args.refer,
        video=agent_video.options(args), audio=agent_audio.options(args))


def _host_of(hostport: str) -> str:
    text = hostport.strip()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    return text.partition(":")[0] if text.count(":") == 1 else text


# --- output ----------------------------------------------------------------------------------


class Output:
    """Lines to stdout, flushed once per loop iteration (one write for a burst of events)."""

    def __init__(self, stream: TextIO, *, json_mode: bool) -> None:
        self.json = json_mode
        self._stream = stream
        self._pending: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def event(self, name: str, fields: dict[str, Any], text: str | None = None) -> None:
        """One event: JSON ``{"event": name, **fields}``, or ``text`` (default: name + fields)."""
        if self.json:
            line = json.dumps({"event": name, **fields}, ensure_ascii=False)
        elif text is not None:
            line = text
        else:
            line = name + "".join(f" {k}={v}" for k, v in fields.items())
        self.line(line)

    def error(self, message: str) -> None:
        self.event("error", {"message": message}, f"error: {message}")

    def line(self, line: str) -> None:
        if not self._pending and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon(self.flush)
        self._pending.append(line)
        if self._loop is None:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        lines, self._pending = self._pending, []
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away; keep running
            pass


def _sip_text(message: Any) -> str:
    return bytes(message).decode("utf-8", "replace") if message is not None else ""


def _display(name_addr: Any) -> str:
    return name_addr.display_name or ""


def _sdp_summary(body: bytes | None) -> tuple[str, str, bool, bool]:
    """(audio codec names, video codec names, has audio, has video) of an SDP body."""
    if not body:
        return "", "", False, False
    sections: dict[str, list[str]] = {"audio": [], "video": []}
    present = set()
    for chunk in body.split(b"\nm=")[1:]:
        kind = chunk.split(b" ", 1)[0].decode("ascii", "replace")
        if kind not in sections:
            continue
        present.add(kind)
        names = [m.decode("ascii", "replace") for m in _RTPMAP.findall(chunk.replace(b"\r", b""))]
        sections[kind].extend(n for n in names if n.lower() not in ("telephone-event", "cn"))
    return (",".join(sections["audio"]), ",".join(sections["video"]),
            "audio" in present, "video" in present)


# --- the agent -------------------------------------------------------------------------------


class Agent:
    """One running user agent: a Phone, maybe an Account, and the options' behaviour."""

    def __init__(self, options: AgentOptions, output: Output) -> None:
        self.options = options
        self.out = output
        self.phone = Phone(options.phone)
        agent_video.setup(self.phone, options.video)
        agent_audio.setup(self.phone, options.audio)
        self._video_recordings = 0
        self.account: Account | None = None
        self.exit_code = 0
        self._stop: asyncio.Event | None = None
        self._startup: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._recordings = 0
        self._outgoing_pending = 0
        self._exit_when_idle = bool(options.calls) and options.duration is not None
        self._report: dict[type[Any], Callable[[Any], None]] = {
            IncomingCall: self._on_incoming_report,
            CallTrying: lambda e: self.out.event(
                "onInviteTrying", {"sessionId": e.call.id}, f"call {e.call.id}: trying"),
            CallProgress: self._on_progress,
            CallAnswered: self._on_answered,
            CallFailure: self._on_failure,
            CallConnected: lambda e: self.out.event(
                "onInviteConnected", {"sessionId": e.call.id}, f"call {e.call.id}: connected"),
            CallUpdated: self._on_updated,
            CallEnded: lambda e: self.out.event(
                "onInviteClosed", {"sessionId": e.call.id},
                f"call {e.call.id}: closed ({e.reason}{f' {e.status}' if e.status else ''})"),
            RemoteHold: lambda e: self.out.event(
                "onRemoteHold", {"sessionId": e.call.id}, f"call {e.call.id}: remote hold"),
            RemoteUnhold: self._on_remote_unhold,
            DtmfReceived: lambda e: self.out.event(
                "onRecvDtmfTone", {"sessionId": e.call.id, "tone": DTMF_TONES.get(e.digit, -1)},
                f"call {e.call.id}: DTMF {e.digit} ({e.method})"),
            InfoReceived: lambda e: self.out.event(
                "onRecvInfo", {"infoMessage": _sip_text(e.request)},
                f"call {e.call.id}: INFO {e.request.content_type or ''}"),
            OptionsReceived: lambda e: self.out.event(
                "onRecvOptions", {"optionsMessage": _sip_text(e.request)},
                f"OPTIONS from {e.request.from_.uri}"),
            PlaybackFinished: lambda e: self.out.event(
                "onPlayFileFinished", {"sessionId": e.call.id, "fileName": e.path},
                f"call {e.call.id}: finished playing {e.path}"),
            CallForwarded: lambda e: self.out.event(
                "onInviteBeginingForward", {"forwardTo": e.target}, f"forwarded to {e.target}"),
            CallRefused: lambda e: self.out.event(
                "refused", {"statusCode": e.status, "caller": str(e.request.from_.uri)},
                f"refused a call from {e.request.from_.uri} with {e.status}"),
            AccountRegistered: lambda e: self.out.event(
                "onRegisterSuccess", {"statusText": e.reason, "statusCode": e.status,
                                      "sipMessage": _sip_text(e.response)},
                f"registered {e.account.aor} ({e.status} {e.reason}, expires {e.expires})"),
            AccountRegistrationFailed: lambda e: self.out.event(
                "onRegisterFailure", {"statusText": e.reason, "statusCode": e.status,
                                      "sipMessage": _sip_text(e.response)},
                f"registration of {e.account.aor} failed: {e.status} {e.reason}"),
            AccountUnregistered: lambda e: self.out.event(
                "unregistered", {"statusText": e.reason, "statusCode": e.status},
                f"unregistered {e.account.aor} ({e.status} {e.reason})"),
        }
        self._report.update(agent_transfer.reports(self))
        self._report.update(agent_subscriptions.reports(self))

    # --- lifecycle --------------------------------------------------------------------------

    async def run(self) -> int:
        """Start, do what the options say, serve stdin commands, stop; the exit code."""
        loop = asyncio.get_running_loop()
        self.out.bind(loop)
        self._stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread
                loop.add_signal_handler(signum, self.stop)
        phone = self.phone
        if not self.options.quiet:
            phone.on(PhoneEvent)(self._on_event_report)
        phone.on(IncomingCall)(self._on_incoming)
        phone.on(CallConnected)(self._on_connected)
        phone.on(CallEnded)(self._on_ended)
        phone.on(ReferReceived)(lambda e: agent_transfer.on_refer(self, e))
        try:
            await phone.start()
        except FAILURES as exc:
            raise AgentError(str(exc), RUNTIME_ERROR) from None
        try:
            self._startup = asyncio.ensure_future(self._start(loop))
            try:
                await self._startup
            except asyncio.CancelledError:
                if not self._stop.is_set():
                    raise
            await self._stop.wait()
        finally:
            self._cancel_timers()
            for task in list(self._tasks):
                task.cancel()
            await phone.close()
            self.out.flush()
        return self.exit_code

    async def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        phone = self.phone
        listen = [str(Listen(kind, host, port)) for kind, host, port in phone.listening]
        self.out.event("ready", {"listen": listen}, "ready " + " ".join(listen))
        self.out.flush()
        if self.options.account is not None:
            self.account = await phone.add_account(self.options.account)
        if self.options.register:
            await self._register(fatal=True)
        for uri in self.options.calls:
            await self._start_call(uri, fatal=True)
        self._start_stdin(loop)

    def stop(self, code: int = 0) -> None:
        """End the agent (calls are hung up and the account unregistered on the way out)."""
        if self._stop is not None and not self._stop.is_set():
            self.exit_code = code
            self._stop.set()
            if self._startup is not None and not self._startup.done():
                self._startup.cancel()  # a signal during a slow REGISTER or DNS look-up

    def _spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        task = asyncio.ensure_future(self._guard(coro, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            await coro
        except FAILURES as exc:
            self.out.error(f"{what}: {exc}")
        except Exception as exc:  # reported, never lost; the agent keeps serving
            logger.exception("%s failed", what)
            self.out.error(f"{what}: {type(exc).__name__}: {exc}")

    # --- registration and calls -------------------------------------------------------------

    async def _register(self, *, fatal: bool) -> None:
        if self.account is None:
            raise AgentError("register needs --user (and --server or --domain)", USAGE_ERROR)
        try:
            await self.account.register()
        except FAILURES as exc:
            if fatal:
                raise AgentError(str(exc), RUNTIME_ERROR) from None
            raise

    async def _start_call(self, uri: str, *, fatal: bool = False) -> Call:
        self._outgoing_pending += 1
        try:
            video = self.options.video.enabled
            if self.account is not None:
                call = await self.account.call(uri, video=video)
            else:
                call = await self.phone.call(uri, video=video)
        except FAILURES as exc:
            if fatal:
                raise AgentError(f"cannot call {uri}: {exc}", RUNTIME_ERROR) from None
            raise
        finally:
            self._outgoing_pending -= 1
        self.out.event("calling", {"sessionId": call.id, "callee": str(call.remote.uri)},
                       f"call {call.id}: calling {call.remote.uri}")
        if self.options.record is not None and not agent_audio.records(self.options.audio):
            call.record(self._record_path(call))
        return call

    def _record_path(self, call: Call) -> str:
        path = self.options.record
        assert path is not None
        self._recordings += 1
        if self._recordings == 1:
            return path
        stem, ext = os.path.splitext(path)
        return f"{stem}-{call.id}{ext}"

    # --- behaviour on events ----------------------------------------------------------------

    def _on_incoming(self, event: IncomingCall) -> None:
        call = event.call
        if self.options.record is not None and not agent_audio.records(self.options.audio):
            call.record(self._record_path(call))
        delay = self.options.auto_answer
        if delay == 0:
            self._spawn(call.answer(video=self.options.video.enabled),
                        f"answering call {call.id}")
        else:
            self._spawn(self._ring(call, delay), f"ringing call {call.id}")

    async def _ring(self, call: Call, delay: float | None) -> None:
        await call.ring()
        if delay is None:
            return
        await asyncio.sleep(delay)
        if call.state is CallState.INCOMING:
            await call.answer(video=self.options.video.enabled)

    def _on_connected(self, event: CallConnected) -> None:
        call = event.call
        options = self.options
        if agent_video.attach(call, options.video, self._video_recordings):
            self._video_recordings += 1
        if options.play is not None:
            try:
                call.play(options.play)
            except (*FAILURES, OSError, ValueError) as exc:
                self.out.error(f"playing {options.play} into call {call.id}: {exc}")
        # after --play: the recording and the conference wrap the call's source as it is
        if options.record is not None and agent_audio.records(options.audio):
            try:
                agent_audio.start_recording(call, self._record_path(call), options.audio)
            except (*FAILURES, OSError, ValueError) as exc:
                self.out.error(f"recording call {call.id}: {exc}")
        if agent_audio.joins_conference(self.phone, options.audio):
            conference = self.phone.conference
            assert conference is not None
            self._spawn(conference.join(call), f"joining call {call.id} to the conference")
        if options.dtmf is not None:
            self._spawn(call.send_dtmf(options.dtmf, method=options.dtmf_method),
                        f"sending DTMF on call {call.id}")
        if options.duration is not None and call.id not in self._timers:
            self._timers[call.id] = asyncio.get_running_loop().call_later(
                options.duration, self._expire, call)

    def _expire(self, call: Call) -> None:
        self._timers.pop(call.id, None)
        self._spawn(call.hangup(), f"hanging up call {call.id}")

    def _on_ended(self, event: CallEnded) -> None:
        timer = self._timers.pop(event.call.id, None)
        if timer is not None:
            timer.cancel()
        if self._exit_when_idle and not self._outgoing_pending and all(
                call.state is CallState.ENDED for call in self.phone.calls.values()):
            self.stop(0)  # (CallEnded comes before the phone forgets the call)

    def _cancel_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # --- reports ----------------------------------------------------------------------------

    def _on_event_report(self, event: object) -> None:
        report = self._report.get(type(event))
        if report is not None:
            report(event)

    def _on_incoming_report(self, event: IncomingCall) -> None:
        call, request = event.call, event.request
        if not self.out.json:
            self.out.line(f"call {call.id}: incoming from {request.from_.uri}")
            return
        audio, video, has_audio, has_video = _sdp_summary(call.remote_offer)
        self.out.event("onInviteIncoming", {
            "sessionId": call.id, "callerDisplayName": _display(request.from_),
            "caller": str(request.from_.uri), "calleeDisplayName": _display(request.to),
            "callee": str(request.to.uri), "audioCodecNames": audio, "videoCodecNames": video,
            "existsAudio": has_audio, "existsVideo": has_video,
            "sipMessage": _sip_text(request)})

    def _on_progress(self, event: CallProgress) -> None:
        call = event.call
        if not self.out.json:
            self.out.line(f"call {call.id}: {event.status} {event.reason}")
        elif event.status == 183 or event.early_media:
            audio, video, has_audio, has_video = _sdp_summary(event.response.body or None)
            self.out.event("onInviteSessionProgress", {
                "sessionId": call.id, "audioCodecNames": audio, "videoCodecNames": video,
                "existsEarlyMedia": event.early_media, "existsAudio": has_audio,
                "existsVideo": has_video, "sipMessage": _sip_text(event.response)})
        else:
            self.out.event("onInviteRinging", {
                "sessionId": call.id, "statusText": event.reason, "statusCode": event.status,
                "sipMessage": _sip_text(event.response)})

    def _parties(self, call: Call) -> dict[str, Any]:
        caller, callee = (call.remote, call.local) if call.incoming else (call.local, call.remote)
        return {"sessionId": call.id, "callerDisplayName": _display(caller),
                "caller": str(caller.uri), "calleeDisplayName": _display(callee),
                "callee": str(callee.uri)}

    def _on_answered(self, event: CallAnswered) -> None:
        call = event.call
        if not self.out.json:
            self.out.line(f"call {call.id}: answered")
            return
        audio, video, has_audio, has_video = _sdp_summary(event.response.body or None)
        self.out.event("onInviteAnswered", {
            **self._parties(call), "audioCodecNames": audio,
            "videoCodecNames": video, "existsAudio": has_audio, "existsVideo": has_video,
            "sipMessage": _sip_text(event.response)})

    def _on_failure(self, event: CallFailure) -> None:
        call = event.call
        self.out.event("onInviteFailure", {
            **self._parties(call), "reason": event.reason, "code": event.status,
            "sipMessage": _sip_text(event.response)},
            f"call {call.id}: failed {event.status} {event.reason}")

    def _on_updated(self, event: CallUpdated) -> None:
        call = event.call
        if not self.out.json:
            self.out.line(f"call {call.id}: updated")
            return
        audio, video, has_audio, has_video = _sdp_summary(event.message.body or None)
        self.out.event("onInviteUpdated", {
            "sessionId": call.id, "audioCodecNames": call.codec_names or audio,
            "videoCodecNames": video, "existsAudio": has_audio, "existsVideo": has_video,
            "existsScreen": screen_stream.exists(call),
            "sipMessage": _sip_text(event.message)})

    def _on_remote_unhold(self, event: RemoteUnhold) -> None:
        call = event.call
        sdp = call.remote_sdp
        self.out.event("onRemoteUnHold", {
            "sessionId": call.id, "audioCodecNames": call.codec_names, "videoCodecNames": "",
            "existsAudio": sdp is not None and any(m.kind == "audio" for m in sdp.media),
            "existsVideo": sdp is not None and any(m.kind == "video" for m in sdp.media)},
            f"call {call.id}: remote unhold")

    # --- stdin commands ---------------------------------------------------------------------

    def _start_stdin(self, loop: asyncio.AbstractEventLoop) -> None:
        stdin = sys.stdin
        if stdin is None or stdin.closed:
            return
        interactive = stdin.isatty()

        def read() -> None:
            try:
                for line in stdin:
                    loop.call_soon_threadsafe(self.command, line)
                if interactive:  # Ctrl-D on a terminal quits, like pjsua
                    loop.call_soon_threadsafe(self.stop, 0)
            except (RuntimeError, ValueError, OSError):  # the loop or stdin is gone
                pass

        threading.Thread(target=read, name="voipkit-agent-stdin", daemon=True).start()

    def command(self, line: str) -> None:
        """Run one stdin command; a bad one prints an error line and the agent goes on."""
        words = line.split()
        if not words or words[0].startswith("#"):
            return
        name, rest = words[0].lower(), words[1:]
        handler = _COMMANDS.get(name)
        if handler is None:
            self.out.error(f"unknown command {name!r} (try: {', '.join(_COMMANDS)})")
            return
        try:
            handler(self, rest)
        except (AgentError, *FAILURES) as exc:
            self.out.error(f"{name}: {exc}")

    def _pick(self, words: list[str], *, state: CallState | None = None) -> Call:
        calls = self.phone.calls
        if words:
            if not words[0].isdigit() or int(words[0]) not in calls:
                raise AgentError(f"no call {words[0]} (calls: {sorted(calls) or 'none'})",
                                 USAGE_ERROR)
            return calls[int(words[0])]
        candidates = [c for c in calls.values()
                      if c.state is not CallState.ENDED and (state is None or c.state is state)]
        if not candidates:
            what = f"{state.value} call" if state is not None else "call"
            raise AgentError(f"no {what}", USAGE_ERROR)
        return candidates[-1]

    def _cmd_call(self, words: list[str]) -> None:
        if len(words) != 1:
            raise AgentError("usage: call URI", USAGE_ERROR)
        self._spawn(self._start_call(words[0]), f"calling {words[0]}")

    def _cmd_answer(self, words: list[str]) -> None:
        call = self._pick(words, state=CallState.INCOMING)
        self._spawn(call.answer(video=self.options.video.enabled),
                    f"answering call {call.id}")

    def _cmd_hangup(self, words: list[str]) -> None:
        if words == ["all"]:
            for call in list(self.phone.calls.values()):
                self._spawn(call.hangup(), f"hanging up call {call.id}")
            return
        call = self._pick(words)
        self._spawn(call.hangup(), f"hanging up call {call.id}")

    def _cmd_hold(self, words: list[str]) -> None:
        call = self._pick(words, state=CallState.CONNECTED)
        self._spawn(call.hold(), f"holding call {call.id}")

    def _cmd_unhold(self, words: list[str]) -> None:
        call = self._pick(words, state=CallState.CONNECTED)
        self._spawn(call.unhold(), f"resuming call {call.id}")

    def _cmd_dtmf(self, words: list[str]) -> None:
        if not 1 <= len(words) <= 2:
            raise AgentError("usage: dtmf DIGITS [ID]", USAGE_ERROR)
        call = self._pick(words[1:], state=CallState.CONNECTED)
        self._spawn(call.send_dtmf(words[0], method=self.options.dtmf_method),
                    f"sending DTMF on call {call.id}")

    def _cmd_register(self, words: list[str]) -> None:
        self._spawn(self._register(fatal=False), "register")

    def _cmd_unregister(self, words: list[str]) -> None:
        if self.account is None:
            raise AgentError("unregister needs --user", USAGE_ERROR)
        self._spawn(self.account.unregister(), "unregister")

    def _cmd_quit(self, words: list[str]) -> None:
        self.stop(0)


_COMMANDS: dict[str, Callable[[Agent, list[str]], None]] = {
    "call": Agent._cmd_call,
    "answer": Agent._cmd_answer,
    "hangup": Agent._cmd_hangup,
    "hold": Agent._cmd_hold,
    "unhold": Agent._cmd_unhold,
    "dtmf": Agent._cmd_dtmf,
    "register": Agent._cmd_register,
    "unregister": Agent._cmd_unregister,
    "quit": Agent._cmd_quit,
    **agent_transfer.COMMANDS,
}
_COMMANDS.update(agent_subscriptions.COMMANDS)  # subscribe, publish, presence, mwi, pickup ...


# --- entry point -----------------------------------------------------------------------------


def run(options: AgentOptions, *, stdout: TextIO | None = None) -> int:
    """Run an agent to its end on uvloop (when installed); returns the exit code.

    Raises:
        AgentError: the agent could not start (code 1) or was misconfigured (code 2).
    """
    logging.basicConfig(level=options.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    output = Output(stdout if stdout is not None else sys.stdout, json_mode=options.json)
    agent = Agent(options, output)
    with _server_gc():
        return run_loop(agent.run())


#: Collector thresholds while an agent runs: a young collection every 20,000 allocations
#: instead of 700 (a call allocates a few thousand objects, mostly freed by reference
#: counting), older generations as rarely as the interpreter's defaults make them.
GC_THRESHOLDS = (20_000, 20, 20)


@contextlib.contextmanager
def _server_gc() -> Iterator[None]:
    """Tune the cyclic garbage collector for a long-running agent, and restore it after.

    The objects alive at start-up (modules, classes, the parsed options) are frozen
    out of every collection (``gc.freeze``), and young collections run less often.
    Measured under ``sipp -sn uac`` (bench/bench_uas_calls.py): CPU per call about
    -10%, and no collector pauses long enough to make SIPp retransmit.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def main(argv: list[str] | None = None, *, options: AgentOptions | None = None) -> int:
    """``voipkit agent ARGS``: run and return the exit code; errors are one stderr line."""
    try:
        if options is None:
            options = parse_options(sys.argv[1:] if argv is None else argv)
        return run(options)
    except AgentError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr, flush=True)
        return exc.code
    except KeyboardInterrupt:
        return 0


__all__ = [
    "Agent",
    "AgentError",
    "AgentOptions",
    "Output",
    "build_parser",
    "main",
    "options_from_args",
    "parse_options",
    "run",
]
