"""In-call INFO, REFER and MESSAGE answer a 401 with the call's credentials (RFC 3261 §22.2).

Proves, between two UsageManagers on the in-memory network, with bob challenging every
in-dialog request that carries no valid Authorization (a DigestServer, realm "bob"):
- INFO: alice's session resends it once with Authorization and a higher CSeq; bob's
  server verifies it; alice sees one InfoResponded, 200 (not the 401);
- REFER: resent with Authorization and a new CSeq; bob's ReferServer gets it, and the
  NOTIFYs' ``id`` (the new CSeq) still find alice's ReferClient up to TransferSucceeded;
- MESSAGE in the dialog with credentials: delivered (200) after one 401;
- without credentials each of them fails with the 401 (no resend);
- wrong credentials are resent once only, then the 401 is the result.
"""

from __future__ import annotations

from invite_helpers import Call, connect, make_call

from voipkit.base.ids import SequentialIds
from voipkit.sip.auth import Credentials, DigestServer
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import NameAddr, Request
from voipkit.sip.usage.invite import InfoReceived, InfoResponded, InviteSession
from voipkit.sip.usage.pager import (
    ClientPagerMessage,
    DialogMessages,
    MessageDelivered,
    MessageFailed,
    MessageReceived,
    ServerPagerMessage,
)
from voipkit.sip.usage.refer import (
    ReferReceived,
    ReferRejected,
    ReferRouter,
    ReferServer,
    TransferSucceeded,
)

GOOD = Credentials("alice", "secret")
BAD = Credentials("alice", "wrong")
CAROL = NameAddr.parse("<sip:carol@example.com>")


class Challenger:
    """bob's gate: a request in the call without valid credentials gets 401."""

    def __init__(self) -> None:
        self.server = DigestServer(realm="bob", nonce=SequentialIds("n").token)
        self.verified: list[str] = []

    def allowed(self, request: Request, now: float) -> bool:
        value = request.headers.get("Authorization")
        if value is not None and self.server.verify(value, GOOD, method=request.method,
                                                    now=now, body=request.body).ok:
            self.verified.append(request.method)
            return True
        return False

    def challenge(self, manager, session: InviteSession, request: Request,  # type: ignore[no-untyped-def]
                  now: float) -> None:
        response = manager.core.create_response(request, 401)
        for challenge in self.server.challenges(now=now):
            response.headers.add("WWW-Authenticate", str(challenge))
        manager.send_response_for(session, response, now=now)

    def on_request(self, session: InviteSession, event: RequestReceived, *,
                   now: float) -> bool:
        """A DialogExtension ahead of ReferRouter / DialogMessages."""
        if self.allowed(event.request, now):
            return False
        self.challenge(session.host, session, event.request, now)
        return True


def _call(credentials: Credentials | None) -> tuple[Call, InviteSession, InviteSession,
                                                     Challenger]:
    call = make_call()
    alice = connect(call)
    if credentials is not None:
        alice.set_credentials(credentials)
    bob = call.bob_session()
    gate = Challenger()
    bob.add_extension(gate)
    ReferRouter.attach(call.bob, bob)
    DialogMessages.attach(call.bob, bob)
    ReferRouter.attach(call.alice, alice)
    return call, alice, bob, gate


def _answer_infos(call: Call, bob: InviteSession, gate: Challenger) -> None:
    for event in [e for e in call.bob_events if isinstance(e, InfoReceived)]:
        call.bob_events.remove(event)
        if gate.allowed(event.request, call.network.now):
            bob.respond(event, 200, now=call.network.now)
        else:
            gate.challenge(call.bob, bob, event.request, call.network.now)
    call.settle()


def _cseqs(call: Call, method: str) -> list[int]:
    return [p.message.cseq.seq for p in call.network.delivered
            if isinstance(p.message, Request) and p.message.method == method]


def test_info_is_resent_with_authorization() -> None:
    call, alice, bob, gate = _call(GOOD)
    alice.send_info(b"hello", "text/plain", now=call.network.now)
    call.settle()
    _answer_infos(call, bob, gate)
    _answer_infos(call, bob, gate)
    assert call.network.describe_delivered()[-4:] == ["INFO", "401 INFO", "INFO", "200 INFO"]
    first, second = _cseqs(call, "INFO")
    assert second == first + 1
    assert gate.verified == ["INFO"]
    assert [(e.status) for e in call.of("alice", InfoResponded)] == [200]  # type: ignore[attr-defined]


def test_refer_is_resent_with_authorization_and_notifies_match() -> None:
    call, alice, _bob, gate = _call(GOOD)
    client = ReferRouter.attach(call.alice, alice).refer(CAROL, now=call.network.now)
    call.settle()
    assert call.network.describe_delivered()[-3:] == ["REFER", "401 REFER", "REFER"]
    first, second = _cseqs(call, "REFER")
    assert second == first + 1 and client.cseq == second
    assert gate.verified == ["REFER"]
    (received,) = call.of("bob", ReferReceived)
    assert isinstance(received, ReferReceived)
    (server,) = [u for u in call.bob.usages.values() if isinstance(u, ReferServer)]
    server.accept(now=call.network.now)
    server.progress(200, now=call.network.now)
    call.settle()
    assert [n for n in call.names("alice") if "Refer" in n or "Transfer" in n] == [
        "ReferAccepted", "TransferTrying", "TransferSucceeded"]
    assert client.done and call.of("alice", TransferSucceeded)


def test_message_in_the_dialog_is_resent_with_authorization() -> None:
    call, alice, _bob, gate = _call(None)
    dialog = call.alice.core.dialog(alice.dialog_id)  # type: ignore[arg-type]
    assert dialog is not None
    usage = ClientPagerMessage.send(call.alice, dialog=dialog, targets=alice.targets,
                                    body="hi", credentials=GOOD, now=call.network.now)
    call.settle()
    (received,) = call.of("bob", MessageReceived)
    server = call.bob.usage(received.usage_id)  # type: ignore[attr-defined]
    assert isinstance(server, ServerPagerMessage)
    server.accept(now=call.network.now)
    call.settle()
    assert [m for m in call.network.describe_delivered() if "MESSAGE" in m] == [
        "MESSAGE", "401 MESSAGE", "MESSAGE", "200 MESSAGE"]
    assert gate.verified == ["MESSAGE"]
    assert isinstance(usage.result, MessageDelivered)


def test_without_credentials_the_401_is_the_result() -> None:
    call, alice, bob, gate = _call(None)
    alice.send_info(b"hello", "text/plain", now=call.network.now)
    call.settle()
    _answer_infos(call, bob, gate)
    client = ReferRouter.attach(call.alice, alice).refer(CAROL, now=call.network.now)
    dialog = call.alice.core.dialog(alice.dialog_id)  # type: ignore[arg-type]
    assert dialog is not None
    usage = ClientPagerMessage.send(call.alice, dialog=dialog, targets=alice.targets,
                                    body="hi", now=call.network.now)
    call.settle()
    assert [(e.status) for e in call.of("alice", InfoResponded)] == [401]  # type: ignore[attr-defined]
    assert call.of("alice", ReferRejected) == [ReferRejected(client.id, 401, "Unauthorized")]
    assert isinstance(usage.result, MessageFailed) and usage.result.status == 401
    assert len(_cseqs(call, "INFO")) == len(_cseqs(call, "REFER")) == 1
    assert gate.verified == []


def test_wrong_credentials_are_tried_once() -> None:
    call, alice, bob, gate = _call(BAD)
    alice.send_info(b"hello", "text/plain", now=call.network.now)
    call.settle()
    _answer_infos(call, bob, gate)
    _answer_infos(call, bob, gate)
    client = ReferRouter.attach(call.alice, alice).refer(CAROL, now=call.network.now)
    call.settle()
    assert [(e.status) for e in call.of("alice", InfoResponded)] == [401]  # type: ignore[attr-defined]
    assert len(_cseqs(call, "INFO")) == 2
    assert call.of("alice", ReferRejected) == [ReferRejected(client.id, 401, "Unauthorized")]
    assert len(_cseqs(call, "REFER")) == 2
    assert gate.verified == []
