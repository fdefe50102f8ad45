"""Three ``voipkit agent`` processes on 127.0.0.1: blind and attended transfer, MESSAGE.

Proves, from the outside: ``transfer URI`` makes the peer agent (which accepts REFERs
by itself) call the target; the transferor prints onReferAccepted ... onACTVTransferSuccess
and the transferee onReceivedRefer with the referId and target; ``attended ID TARGET_ID``
ends with the target agent's replacing call connected and the transferor's call to the
target closed; ``message URI TEXT`` and ``send ID TEXT`` print
onSendOutOfDialogMessageSuccess / onSendMessageSuccess at the sender and
onRecvOutOfDialogMessage / onRecvMessage with the text at the receiver; bad usage is an
error line.
"""

from __future__ import annotations

from agent.test_agent_cli import AgentProcess


def _agents(count: int) -> list[AgentProcess]:
    return [AgentProcess("--auto-answer") for _ in range(count)]


def _stop(agents: list[AgentProcess]) -> None:
    for agent in agents:
        agent.kill()


def test_blind_transfer_between_three_agents() -> None:
    agents = _agents(3)
    alice, bob, carol = agents
    try:
        alice.send(f"call sip:bob@{bob.address}")
        calling = alice.expect("onInviteConnected")
        alice.send(f"transfer sip:carol@{carol.address}")
        alice.expect("onReferAccepted")
        success = alice.expect("onACTVTransferSuccess")
        assert success["sessionId"] == calling["sessionId"]
        refer = bob.expect("onReceivedRefer")
        assert refer["to"] == f"sip:carol@{carol.address}" and refer["referId"] > 0
        assert refer["referSipMessage"].startswith("REFER ")
        incoming = carol.expect("onInviteIncoming")
        assert "Referred-By" in incoming["sipMessage"]
        carol.expect("onInviteConnected")
        assert "onTransferTrying" in alice.names
    finally:
        _stop(agents)


def test_attended_transfer_between_three_agents() -> None:
    agents = _agents(3)
    alice, bob, carol = agents
    try:
        alice.send(f"call sip:bob@{bob.address}")
        to_bob = alice.expect("onInviteConnected")["sessionId"]
        alice.send(f"call sip:carol@{carol.address}")
        to_carol = alice.expect("onInviteConnected")["sessionId"]
        carol.expect("onInviteConnected")
        alice.send(f"attended {to_bob}")
        assert "usage: attended" in alice.expect("error")["message"]
        alice.send(f"attended {to_bob} {to_bob}")
        assert "must differ" in alice.expect("error")["message"]
        alice.send(f"attended {to_bob} {to_carol}")
        success = alice.expect("onACTVTransferSuccess")
        assert success["sessionId"] == to_bob
        closed = alice.expect("onInviteClosed")
        assert closed["sessionId"] == to_carol
        replacing = carol.expect("onInviteIncoming")
        assert "\r\nReplaces: " in replacing["sipMessage"]
        connected = carol.expect("onInviteConnected")
        assert connected["sessionId"] == replacing["sessionId"]
    finally:
        _stop(agents)


def test_messages_out_of_and_in_a_call() -> None:
    agents = _agents(2)
    alice, bob = agents
    try:
        alice.send(f"message sip:bob@{bob.address} hello there")
        sent = alice.expect("onSendOutOfDialogMessageSuccess")
        got = bob.expect("onRecvOutOfDialogMessage")
        assert got["messageData"] == "hello there" and got["mimeType"] == "text"
        assert sent["to"] == f"sip:bob@{bob.address}"
        alice.send(f"call sip:bob@{bob.address}")
        session = alice.expect("onInviteConnected")["sessionId"]
        alice.send(f"send {session} in the call")
        assert alice.expect("onSendMessageSuccess")["sessionId"] == session
        in_call = bob.expect("onRecvMessage")
        assert in_call["messageData"] == "in the call"
        alice.send("send")
        assert "usage: send" in alice.expect("error")["message"]
    finally:
        _stop(agents)
