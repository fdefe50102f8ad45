"""Helpers for the interop tests of the public API (``voipkit.api``) against real peers.

Knows: ``voipkit.api`` (Phone, Account, Call, events), the interop harness (Kamailio,
baresip, tone analysis). Must not know: voipkit internals below the API, the facade
or the CLI — the tests built on this prove what an application sees.

Everything binds 127.0.0.1 explicitly on ports the kernel picks; nothing sleeps for a
fixed time where an event can be awaited instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from interop import audio
from interop.peers import Kamailio
from voipkit.api import (
    AccountConfig,
    Call,
    IncomingCall,
    MediaConfig,
    Phone,
    PhoneConfig,
    SignalingTraced,
    TlsSettings,
)
from voipkit.sip.addressing import TransportKind

E = TypeVar("E")

#: RTP ports of the voipkit phones; baresip's come from free_port_range and AudioSession
#: skips ports in use, so the two never clash.
RTP_RANGE = (30000, 39999)


def phone_config(*listen: str, kam: Kamailio | None = None,
                 tls_server: bool = False) -> PhoneConfig:
    """A phone on 127.0.0.1 (UDP by default) that trusts ``kam``'s certificate.

    ``tls_server=True`` also loads Kamailio's certificate and key, so the phone can
    listen on TLS (a callee reached by Kamailio over TLS needs a listener).
    """
    tls = TlsSettings()
    if kam is not None:
        tls = TlsSettings(ca_file=str(kam.cert),
                          cert_file=str(kam.cert) if tls_server else None,
                          key_file=str(kam.state / "key.pem") if tls_server else None)
    return PhoneConfig(listen=listen or ("udp:127.0.0.1:0",), tls=tls,
                       media=MediaConfig(rtp_port_range=RTP_RANGE))


def kam_account(kam: Kamailio, user: str, kind: TransportKind = TransportKind.UDP, *,
                password: str | None = None, expires: int = 300) -> AccountConfig:
    """Account ``user`` at Kamailio over ``kind`` (password ``<user>pw`` unless given)."""
    port = kam.tls_port if kind is TransportKind.TLS else kam.port
    return AccountConfig(user=user, domain="127.0.0.1", password=password or f"{user}pw",
                         server=f"127.0.0.1:{port}", transport=kind, expires=expires)


def kamailio_errors(kam: Kamailio) -> list[str]:
    """ERROR/CRITICAL lines of Kamailio's log, less its own presence bookkeeping.

    pua_dialoginfo PUBLISHes the BLF state of every call through the proxy to
    Kamailio's own presence module; when a short call's early/confirmed/terminated
    PUBLISHes race, presence logs "No E_Tag match" for Kamailio's own request. That
    exchange never involves the UAs, so it is left out here.
    """
    return [line for line in kam.errors_in_log() if "No E_Tag match" not in line]


@contextlib.asynccontextmanager
async def running(config: PhoneConfig) -> AsyncIterator[Phone]:
    """A started Phone, closed on exit (calls hung up, accounts unregistered)."""
    phone = Phone(config)
    await phone.start()
    try:
        yield phone
    finally:
        await phone.close()


def uri_of(phone: Phone, user: str, kind: TransportKind = TransportKind.UDP) -> str:
    """The direct (peer-to-peer) URI of ``phone``'s ``kind`` listener."""
    for listen_kind, host, port in phone.listening:
        if listen_kind is kind:
            params = "" if kind is TransportKind.UDP else f";transport={kind.value.lower()}"
            return f"sip:{user}@{host}:{port}{params}"
    raise LookupError(f"{phone!r} has no {kind.value} listener")


@dataclass
class Trace:
    """Every SIP message a phone sent or received (``SignalingTraced``), in order."""

    messages: list[SignalingTraced] = field(default_factory=list)

    @classmethod
    def of(cls, phone: Phone) -> Trace:
        trace = cls()
        phone.on(SignalingTraced)(trace.messages.append)
        return trace

    def find(self, *, sent: bool, start: bytes) -> list[bytes]:
        """The raw messages in that direction whose first line starts with ``start``."""
        return [m.data for m in self.messages if m.sent is sent and m.data.startswith(start)]

    def dump(self) -> str:
        """Every message, for an assertion message when something is off."""
        return "\n".join(
            f"--- {'sent' if m.sent else 'received'} ---\n{m.data.decode(errors='replace')}"
            for m in self.messages)


def header_values(message: bytes, name: str) -> list[str]:
    """The values of every ``name`` header line of a raw SIP message (case-insensitive)."""
    head = message.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    wanted = name.lower()
    values = []
    for line in head.split("\r\n")[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == wanted:
            values.append(value.strip())
    return values


class Incoming:
    """Answers (or holds for the test) every IncomingCall of a phone; calls are queued.

    ``ring=True`` sends 180 Ringing before the answer.
    With ``record_dir`` every answered call records to ``record_dir/<n>.wav`` from the
    moment its audio opens.
    """

    def __init__(self, phone: Phone, *, answer: bool = True, ring: bool = False,
                 record_dir: Path | None = None) -> None:
        self.calls: asyncio.Queue[Call] = asyncio.Queue()
        self.recordings: list[Path] = []
        self._answer = answer
        self._ring = ring
        self._record_dir = record_dir
        phone.on(IncomingCall)(self._on_incoming)

    async def _on_incoming(self, event: IncomingCall) -> None:
        call = event.call
        if self._record_dir is not None:
            path = self._record_dir / f"in-{len(self.recordings) + 1}.wav"
            self.recordings.append(path)
            call.record(path)
        if self._ring:
            await call.ring()
        if self._answer:
            await call.answer()
        await self.calls.put(call)

    async def next(self, timeout: float = 10.0) -> Call:
        return await asyncio.wait_for(self.calls.get(), timeout)


async def wait_until(predicate: Callable[[], bool], timeout: float, *,
                     what: str = "condition") -> None:
    """Poll ``predicate`` every 20 ms until it holds; ``TimeoutError`` naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.02)


def packets_received(call: Call) -> int:
    """RTP packets ``call`` has received so far (0 before its audio runs)."""
    value = call.statistics().get("packets_received", 0)
    return int(value) if isinstance(value, int | float) else 0


async def received_for(call: Call, seconds: float, *, timeout: float = 10.0) -> None:
    """Wait until ``call`` receives ``seconds`` more of RTP (20 ms packets) from now on."""
    start = packets_received(call)
    await wait_until(lambda: packets_received(call) - start >= seconds * 50, timeout,
                     what=f"{seconds} s of RTP on {call!r}")


def tone(directory: Path, frequency: float, seconds: float = 30.0) -> Path:
    """A WAV tone for a call to play (longer than any call: players stop at EOF)."""
    directory.mkdir(parents=True, exist_ok=True)
    return audio.write_tone(directory / f"tone-{int(frequency)}.wav", frequency, seconds)


def assert_tone(path: Path | None, frequency: float, *, min_seconds: float = 0.7,
                min_rms: float = 0.05) -> audio.ToneStats:
    """``path`` holds a tone of ``frequency`` (±5 %) with audible level and length."""
    assert path is not None and path.exists(), f"no recording at {path}"
    stats = audio.analyse(path)
    assert stats.matches(frequency, min_rms=min_rms, min_seconds=min_seconds), (
        f"{path.name}: expected {frequency} Hz; got {stats}")
    return stats


async def in_thread(fn: Callable[..., E], *args: Any, **kwargs: Any) -> E:
    """Run a blocking harness call (baresip's ctrl client) without blocking the loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
