"""registerServer / unRegisterServer against a minimal UDP registrar on 127.0.0.1.

Proves: registerServer returns 0 at once and onRegisterSuccess follows with the
registrar's status, reason and the whole 200 response; a registrar answering 403
gives onRegisterFailure with 403; unRegisterServer(waitMS) sends REGISTER with
Expires 0 and waits for the answer; the custom header rule scoped to REGISTER is
on the wire.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest
from tests.compat.conftest import Recorder, start

from voipkit.compat.portsip import PortSIPLib


class Registrar:
    """Answers every REGISTER with ``status``; keeps the requests it saw."""

    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            text = data.decode()
            self.requests.append(text)
            keep = [line for line in text.split("\r\n")
                    if re.match(r"(?i)(via|from|to|call-id|cseq|contact):", line)]
            keep = [line + ";tag=reg1" if line.lower().startswith("to:") else line
                    for line in keep]
            expires = "0" if "Expires: 0" in text else "120"
            response = (f"SIP/2.0 {self.status} {self.reason}\r\n" + "\r\n".join(keep)
                        + f"\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n")
            self.sock.sendto(response.encode(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def lib() -> Iterator[tuple[PortSIPLib, Recorder]]:
    events = Recorder()
    lib = PortSIPLib(events)
    assert start(lib) == 0
    yield lib, events
    lib.unInitialize()


def test_register_success_and_unregister(lib: tuple[PortSIPLib, Recorder]) -> None:
    phone, events = lib
    registrar = Registrar(200, "OK")
    try:
        assert phone.setUser("1001", "Alice", "1001", "secret", "example.com", "127.0.0.1",
                             registrar.port, "", 0, "", 0) == 0
        assert phone.addSipMessageHeader(-1, "REGISTER", 1, "X-Device", "desk") > 0
        assert phone.registerServer(120, 0) == 0
        text, status, message = events.wait("onRegisterSuccess")
        assert (text, status) == ("OK", 200)
        assert message.startswith("SIP/2.0 200 OK")
        assert "X-Device: desk" in registrar.requests[0]
        assert registrar.requests[0].startswith("REGISTER sip:127.0.0.1:")
        assert phone.unRegisterServer(2000) == 0
        assert "Expires: 0" in registrar.requests[-1] or "expires=0" in registrar.requests[-1]
    finally:
        registrar.close()


def test_register_failure(lib: tuple[PortSIPLib, Recorder]) -> None:
    phone, events = lib
    registrar = Registrar(403, "Forbidden")
    try:
        assert phone.setUser("1001", "", "", "", "example.com", "127.0.0.1", registrar.port,
                             "", 0, "", 0) == 0
        assert phone.registerServer(120, 0) == 0
        text, status, message = events.wait("onRegisterFailure")
        assert (text, status) == ("Forbidden", 403)
        assert message.startswith("SIP/2.0 403")
        assert "onRegisterSuccess" not in events.names()
    finally:
        registrar.close()
