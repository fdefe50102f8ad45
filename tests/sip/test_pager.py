"""Pager-mode MESSAGE (RFC 3428) between two UsageManagers on an InMemoryNetwork. Proves: a
text MESSAGE goes out with its own Call-ID and From tag, a UTF-8 text/plain body and no
Contact, and bob's ServerPagerMessage reports it; 200 gives MessageDelivered, 404 and 415
(with Accept) give MessageFailed with the status; no answer gives MessageFailed(None) at
exactly 32.0 s (Timer F); a 407 is answered with digest credentials the challenger's
DigestServer accepts (new CSeq, same Call-ID), and a wrong password fails with 407; a
MESSAGE sent inside a dialog carries the dialog's Call-ID, tags and next CSeq, and the
receiver adopts it from the plain in-dialog RequestReceived.
"""

from __future__ import annotations

import itertools

import pytest
from invite_helpers import BOB_AT, Call, make_call

from voipkit.sip.addressing import Destination, TransportKind
from voipkit.sip.auth import Credentials, DigestResponse, DigestServer, Qop, Verdict
from voipkit.sip.dialog import Dialog, DialogId, DialogState
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import NameAddr, Request
from voipkit.sip.uri import SipUri
from voipkit.sip.usage.pager import (
    TEXT_PLAIN,
    ClientPagerMessage,
    MessageDelivered,
    MessageFailed,
    MessageReceived,
    ServerPagerMessage,
    pager_factory,
)

ALICE = NameAddr.parse("Alice <sip:alice@example.com>")
BOB = NameAddr.parse("<sip:bob@example.com>")


def pager_call() -> Call:
    call = make_call()
    call.bob.on_new_request("MESSAGE", pager_factory())
    return call


def send(call: Call, body: bytes | str = "hello", *, content_type: str | None = None,
         credentials: Credentials | None = None) -> ClientPagerMessage:
    return ClientPagerMessage.send(call.alice, request_uri="sip:bob@127.0.0.2", from_=ALICE,
                                   to=BOB, targets=[BOB_AT], body=body,
                                   content_type=content_type, credentials=credentials,
                                   now=call.network.now)


def received(call: Call) -> tuple[MessageReceived, ServerPagerMessage]:
    [event] = call.of("bob", MessageReceived)
    assert isinstance(event, MessageReceived)
    usage = call.bob.usage(event.usage_id)
    assert isinstance(usage, ServerPagerMessage)
    return event, usage


def wire_messages(call: Call) -> list[Request]:
    return [p.message for p in call.network.delivered
            if isinstance(p.message, Request) and p.message.method == "MESSAGE"]


def test_text_message_is_delivered_with_200() -> None:
    call = pager_call()
    message = send(call, "hello, bob")
    call.settle()
    event, server = received(call)
    assert event.body == b"hello, bob"
    assert event.content_type == TEXT_PLAIN
    assert not event.in_dialog
    [wire] = wire_messages(call)
    assert wire.contact == []
    assert wire.from_.tag is not None and wire.to.tag is None
    server.accept(now=call.network.now)
    call.settle()
    assert call.of("alice", MessageDelivered) == [
        MessageDelivered(message.id, 200, message.result.response)  # type: ignore[union-attr]
    ]
    assert call.alice.usage(message.id) is None
    assert call.bob.usage(server.id) is None


def test_binary_body_keeps_its_content_type() -> None:
    call = pager_call()
    send(call, b"\x00\x01\xff", content_type="application/octet-stream")
    call.settle()
    event, _ = received(call)
    assert (event.body, event.content_type) == (b"\x00\x01\xff", "application/octet-stream")


def test_bytes_body_needs_a_content_type() -> None:
    with pytest.raises(LocalProtocolError):
        send(pager_call(), b"raw")


@pytest.mark.parametrize("status", [404, 486])
def test_rejection_is_reported_with_its_status(status: int) -> None:
    call = pager_call()
    message = send(call)
    call.settle()
    _, server = received(call)
    server.respond(status, now=call.network.now)
    call.settle()
    [failed] = call.of("alice", MessageFailed)
    assert isinstance(failed, MessageFailed)
    assert (failed.usage_id, failed.status) == (message.id, status)
    assert not call.of("alice", MessageDelivered)


def test_415_lists_accepted_types() -> None:
    call = pager_call()
    send(call, b"<x/>", content_type="application/xml")
    call.settle()
    _, server = received(call)
    server.reject(415, accept=["text/plain"], now=call.network.now)
    call.settle()
    [failed] = call.of("alice", MessageFailed)
    assert isinstance(failed, MessageFailed) and failed.response is not None
    assert failed.status == 415
    assert failed.response.headers.get("Accept") == "text/plain"


def test_no_answer_fails_at_timer_f() -> None:
    call = pager_call()
    nobody = Destination(TransportKind.UDP, "127.0.0.9", 5060)
    message = ClientPagerMessage.send(call.alice, from_=ALICE, to=BOB, targets=[nobody],
                                      body="anyone?", now=0.0)
    call.run(until=31.999)
    assert call.of("alice", MessageFailed) == []
    call.run(until=32.0)
    assert call.of("alice", MessageFailed) == [
        MessageFailed(message.id, None, "no response (timeout)", None)
    ]


class Challenger:
    """bob answering MESSAGE himself: 407 until the digest checks out."""

    def __init__(self, call: Call, password: str = "secret") -> None:
        counter = itertools.count(1)
        self.digest = DigestServer(realm="example.com", nonce=lambda: f"n{next(counter)}",
                                   qop=(Qop.AUTH,))
        self.call = call
        self.password = password
        self.verdicts: list[Verdict] = []

    def serve(self) -> None:
        """Answer every MESSAGE bob got as a plain event, then settle."""
        while True:
            self.call.settle()
            pending = [e for e in self.call.bob_events if isinstance(e, RequestReceived)]
            if not pending:
                return
            self.call.bob_events = [e for e in self.call.bob_events if e not in pending]
            for event in pending:
                self._answer(event.request)

    def _answer(self, request: Request) -> None:
        bob, now = self.call.bob, self.call.network.now
        value = request.headers.get("Proxy-Authorization")
        if value is not None:
            answer = DigestResponse.parse(value)
            verification = self.digest.verify(answer, Credentials("alice", self.password),
                                              method="MESSAGE", now=now,
                                              request_uri=str(request.uri), body=request.body)
            self.verdicts.append(verification.verdict)
            if verification.verdict is Verdict.ACCEPTED:
                bob.send_response(bob.core.create_response(request, 202), now=now)
                return
        response = bob.core.create_response(request, 407)
        for challenge in self.digest.challenges(now=now):
            response.headers.add("Proxy-Authenticate", str(challenge))
        bob.send_response(response, now=now)


def test_407_is_answered_with_credentials() -> None:
    call = make_call()
    challenger = Challenger(call)
    message = send(call, "secret words", credentials=Credentials("alice", "secret"))
    challenger.serve()
    assert challenger.verdicts == [Verdict.ACCEPTED]
    first, second = wire_messages(call)
    assert first.call_id == second.call_id and first.from_.tag == second.from_.tag
    assert second.cseq.seq == first.cseq.seq + 1
    assert call.of("alice", MessageDelivered) == [
        MessageDelivered(message.id, 202, message.result.response)  # type: ignore[union-attr]
    ]


def test_wrong_password_fails_with_407() -> None:
    call = make_call()
    challenger = Challenger(call, password="other")
    message = send(call, credentials=Credentials("alice", "secret"))
    challenger.serve()
    assert challenger.verdicts == [Verdict.REJECTED]
    [failed] = call.of("alice", MessageFailed)
    assert isinstance(failed, MessageFailed)
    assert (failed.usage_id, failed.status) == (message.id, 407)


def test_407_without_credentials_fails() -> None:
    call = make_call()
    challenger = Challenger(call)
    send(call)
    challenger.serve()
    assert challenger.verdicts == []
    [failed] = call.of("alice", MessageFailed)
    assert isinstance(failed, MessageFailed) and failed.status == 407


def dialog_pair(call: Call) -> tuple[Dialog, Dialog]:
    """A confirmed dialog known to both cores, owned by no usage."""
    alice_id = DialogId("cid-1", "atag", "btag")
    alice_uri, bob_uri = SipUri.parse("sip:alice@127.0.0.1"), SipUri.parse("sip:bob@127.0.0.2")
    alice = Dialog(id=alice_id, state=DialogState.CONFIRMED,
                   local=NameAddr(alice_uri, None, {"tag": "atag"}),
                   remote=NameAddr(bob_uri, None, {"tag": "btag"}), local_seq=10,
                   remote_seq=None, remote_target=bob_uri, route_set=[],
                   local_target=alice_uri, secure=False, is_uac=True)
    bob = Dialog(id=DialogId("cid-1", "btag", "atag"), state=DialogState.CONFIRMED,
                 local=NameAddr(bob_uri, None, {"tag": "btag"}),
                 remote=NameAddr(alice_uri, None, {"tag": "atag"}), local_seq=None,
                 remote_seq=10, remote_target=alice_uri, route_set=[], local_target=bob_uri,
                 secure=False, is_uac=False)
    call.alice.core.add_dialog(alice)
    call.bob.core.add_dialog(bob)
    return alice, bob


def test_in_dialog_message_uses_the_dialog() -> None:
    call = pager_call()
    dialog, _ = dialog_pair(call)
    message = ClientPagerMessage.send(call.alice, dialog=dialog, targets=[BOB_AT],
                                      body="in the dialog", now=0.0)
    call.settle()
    [wire] = wire_messages(call)
    assert (wire.call_id, wire.from_.tag, wire.to.tag, wire.cseq.seq) == (
        "cid-1", "atag", "btag", 11)
    assert str(wire.uri) == "sip:bob@127.0.0.2"
    [event] = [e for e in call.bob_events if isinstance(e, RequestReceived)]
    assert isinstance(event, RequestReceived)
    assert event.dialog == DialogId("cid-1", "btag", "atag")
    server = ServerPagerMessage.adopt(call.bob, event, now=call.network.now)
    call.pump()
    [note] = call.of("bob", MessageReceived)
    assert isinstance(note, MessageReceived) and note.in_dialog and note.body == b"in the dialog"
    server.accept(now=call.network.now)
    call.settle()
    [delivered] = call.of("alice", MessageDelivered)
    assert isinstance(delivered, MessageDelivered) and delivered.usage_id == message.id
    assert call.of("alice", MessageFailed) == []


def test_in_dialog_message_refuses_explicit_addressing() -> None:
    call = pager_call()
    dialog, _ = dialog_pair(call)
    with pytest.raises(LocalProtocolError):
        ClientPagerMessage.send(call.alice, dialog=dialog, to=BOB, targets=[BOB_AT],
                                body="x", now=0.0)


def test_answering_twice_raises() -> None:
    call = pager_call()
    send(call)
    call.settle()
    _, server = received(call)
    server.accept(now=call.network.now)
    with pytest.raises(LocalProtocolError):
        server.reject(now=call.network.now)
