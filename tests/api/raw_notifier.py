"""A scripted notifier on a plain UDP socket, for tests of a subscriber's refresh handling.

It answers the first SUBSCRIBE 200 with ``Expires: granted`` and sends one NOTIFY
(message-summary, active), answers every refresh (a SUBSCRIBE with a To tag) with
``refresh_status``, and ignores responses. It runs on its own thread so both the asyncio
api tests and the threaded facade tests can use it; ``close()`` stops and joins it.
"""

from __future__ import annotations

import socket
import threading

from voipkit.sip.message import CSeq, NameAddr, Request, Response, Via, parse_message


class RawNotifier:
    def __init__(self, *, granted: int, refresh_status: int) -> None:
        self.granted = granted
        self.refresh_status = refresh_status
        self.refreshes = 0
        "How many refreshing SUBSCRIBEs arrived."
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raw-notifier", daemon=True)
        self._thread.start()

    @property
    def uri(self) -> str:
        return f"sip:mwi@127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._socket.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self._socket.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            message = parse_message(data)
            if isinstance(message, Request) and message.method == "SUBSCRIBE":
                self._on_subscribe(message, source)

    def _on_subscribe(self, request: Request, source: tuple[str, int]) -> None:
        contact = NameAddr.parse(f"<sip:mwi@127.0.0.1:{self.port}>")
        if request.to.tag is not None:
            self.refreshes += 1
            response = Response.for_request(request, self.refresh_status)
            self._socket.sendto(bytes(response), source)
            return
        response = Response.for_request(request, 200, to_tag="n1")
        response.expires = self.granted
        response.contact = [contact]
        self._socket.sendto(bytes(response), source)
        notify = Request(
            "NOTIFY", request.contact[0].uri,
            via=[Via.parse(f"SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bKraw1")],
            from_=NameAddr(request.to.uri, None, {"tag": "n1"}), to=request.from_,
            call_id=request.call_id, cseq=CSeq(1, "NOTIFY"), contact=[contact],
            body=b"Messages-Waiting: no\r\n",
            content_type="application/simple-message-summary")
        notify.headers.set("Event", "message-summary")
        notify.headers.set("Subscription-State", f"active;expires={self.granted}")
        self._socket.sendto(bytes(notify), source)
