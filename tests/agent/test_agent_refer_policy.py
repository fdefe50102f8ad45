"""``voipkit agent --refer reject|ask`` and the ``refer`` command, from the outside.

Proves: with ``--refer reject`` the transferee prints onReceivedRefer and refuses the
REFER, so the transferor prints onReferRejected with code 603 and no call is made; with
``--refer ask`` the REFER waits until ``refer accept ID`` (the target's call then
connects and the transferor prints onACTVTransferSuccess), ``refer reject ID STATUS``
refuses with that status, and ``refer`` with an unknown id or bad words is an error line.
"""

from __future__ import annotations

from agent.test_agent_cli import AgentProcess


def test_refer_reject_policy() -> None:
    alice = AgentProcess("--auto-answer")
    bob = AgentProcess("--auto-answer", "--refer", "reject")
    try:
        alice.send(f"call sip:bob@{bob.address}")
        alice.expect("onInviteConnected")
        alice.send("transfer sip:carol@127.0.0.1:9")
        rejected = alice.expect("onReferRejected")
        assert rejected["code"] == 603
        bob.expect("onReceivedRefer")
    finally:
        alice.kill()
        bob.kill()


def test_refer_ask_policy_and_refer_command() -> None:
    alice = AgentProcess("--auto-answer")
    bob = AgentProcess("--auto-answer", "--refer", "ask")
    carol = AgentProcess("--auto-answer")
    try:
        alice.send(f"call sip:bob@{bob.address}")
        alice.expect("onInviteConnected")
        alice.send(f"transfer sip:carol@{carol.address}")
        first = bob.expect("onReceivedRefer")["referId"]
        bob.send("refer accept 9999")
        assert "no pending REFER has id 9999" in bob.expect("error")["message"]
        bob.send("refer maybe 1")
        assert "usage: refer" in bob.expect("error")["message"]
        assert "onReferAccepted" not in alice.names
        bob.send(f"refer accept {first}")
        alice.expect("onReferAccepted")
        alice.expect("onACTVTransferSuccess")
        carol.expect("onInviteConnected")
        alice.send(f"transfer sip:carol@{carol.address}")
        second = bob.expect("onReceivedRefer")["referId"]
        assert second != first
        bob.send(f"refer reject {second} 486")
        assert alice.expect("onReferRejected")["code"] == 486
    finally:
        alice.kill()
        bob.kill()
        carol.kill()
