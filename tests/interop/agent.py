"""A minimal voipkit user agent for interop tests: a core, its sockets and its driver.

Binds 127.0.0.1 (or ::1) explicitly on ports the kernel picks, so nothing the
machine auto-detects can reach a Via, Contact or SDP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from voipkit.aio.sip_driver import SipDriver
from voipkit.aio.sip_transport import SipTransports, TlsConfig, TraceRecord, TransportConfig
from voipkit.base.ids import RandomIds
from voipkit.sip.addressing import TransportKind
from voipkit.sip.ua import CoreConfig, UserAgentCore


@dataclass
class Agent:
    driver: SipDriver
    transports: SipTransports
    trace: list[TraceRecord] = field(default_factory=list)

    def address(self, kind: TransportKind) -> tuple[str, int]:
        for k, address in self.transports.listeners:
            if k is kind:
                return address
        raise LookupError(f"agent has no {kind.value} listener")


@asynccontextmanager
async def agent(*kinds: TransportKind, host: str = "127.0.0.1",
                tls: TlsConfig | None = None) -> AsyncIterator[Agent]:
    records: list[TraceRecord] = []
    config = TransportConfig(tls=tls) if tls is not None else TransportConfig()
    transports = SipTransports(config=config, trace=records.append)
    core = UserAgentCore(config=CoreConfig(user_agent="voipkit-interop"), ids=RandomIds())
    driver = SipDriver(core, transports)
    try:
        for kind in kinds or (TransportKind.UDP,):
            await driver.listen(kind, host, 0)
        yield Agent(driver, transports, records)
    finally:
        driver.close()
        await transports.close()
