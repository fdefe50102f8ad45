"""Helpers for the PortSIP facade tests: a recording callback handler and a lib factory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from voipkit.compat.portsip import (
    PORTSIP_LOG_LEVEL,
    TRANSPORT_TYPE,
    PortSIPLib,
    SIPCallbackEvents,
)

CALLBACK_NAMES = [n for n in dir(SIPCallbackEvents) if n.startswith("on")]


class Recorder(SIPCallbackEvents):
    """Records every callback as (name, args); ``hooks[name]`` runs inside the callback."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        self.hooks: dict[str, Callable[..., Any]] = {}
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def _record(self, name: str, args: tuple[Any, ...]) -> int:
        self.threads.add(threading.current_thread().name)
        hook = self.hooks.get(name)
        try:
            if hook is not None:
                hook(*args)
        finally:
            with self._cond:
                self.seen.append((name, args))
                self._cond.notify_all()
        return 0

    def wait(self, name: str, predicate: Callable[[tuple[Any, ...]], bool] | None = None,
             timeout: float = 5.0, count: int = 1) -> tuple[Any, ...]:
        """The ``count``-th callback ``name`` whose args match ``predicate`` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [args for seen_name, args in self.seen
                         if seen_name == name and (predicate is None or predicate(args))]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {name} within {timeout} s; saw "
                                         f"{[n for n, _ in self.seen]}")
                self._cond.wait(left)

    def names(self) -> list[str]:
        with self._cond:
            return [n for n, _ in self.seen]


def _make(name: str) -> Callable[..., int]:
    def callback(self: Recorder, *args: Any) -> int:
        return self._record(name, args)
    callback.__name__ = name
    return callback


for _name in CALLBACK_NAMES:
    setattr(Recorder, _name, _make(_name))


def start(lib: PortSIPLib, port: int = 0, **overrides: Any) -> int:
    args: dict[str, Any] = dict(
        transportType=TRANSPORT_TYPE.TRANSPORT_UDP, localIp="127.0.0.1", localSIPPort=port,
        logLevel=PORTSIP_LOG_LEVEL.PORTSIP_LOG_NONE, logFilePath="", maxCallSessions=8,
        sipAgentString="facade-test", audioDeviceLayer=1, videoDeviceLayer=0,
        TLSCertificatesRootPath="", TLSCipherList="", verifyTLSCertificate=False)
    args.update(overrides)
    return lib.initialize(**args)


def sip_port(lib: PortSIPLib) -> int:
    assert lib.phone is not None
    return lib.phone.listening[0][2]


@pytest.fixture
def pair() -> Iterator[tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]]:
    """Alice and Bob, initialized on 127.0.0.1 (free ports) with P2P users set."""
    alice_events, bob_events = Recorder(), Recorder()
    alice, bob = PortSIPLib(alice_events), PortSIPLib(bob_events)
    try:
        assert start(alice) == 0
        assert start(bob) == 0
        assert alice.setUser("alice", "Alice", "", "", "", "", 0, "", 0, "", 0) == 0
        assert bob.setUser("bob", "Bob", "", "", "", "", 0, "", 0, "", 0) == 0
        yield alice, alice_events, bob, bob_events
    finally:
        alice.unInitialize()
        bob.unInitialize()
