"""``voipkit agent``'s transfer and messaging commands and their reports.

Knows: ``voipkit.api`` (Call.refer, IncomingRefer, send_message and the transfer
and message events) and the agent's plumbing (``Agent._pick``, ``_spawn``,
``out``). Must not know: anything below ``api``.

Commands (stdin): ``transfer URI [ID]`` (blind REFER), ``attended ID TARGET_ID
[URI]`` (REFER call ID to the peer of call TARGET_ID, Replaces naming that call;
URI defaults to that peer's URI), ``message URI TEXT...`` (MESSAGE outside any
call, through the account when there is one) and ``send ID TEXT...`` (MESSAGE in
call ID). An incoming REFER is accepted at once (as pjsua and baresip do) and the
new call is reported like any other, unless ``--refer reject`` (refused 603 at once)
or ``--refer ask`` (left pending until ``refer accept ID`` or ``refer reject ID
[STATUS]``). Reports use the manual's callback names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voipkit.api import (
    CallState,
    MessageDelivered,
    MessageFailed,
    MessageReceived,
    ReferAccepted,
    ReferReceived,
    ReferRejected,
    TransferFailed,
    TransferRinging,
    TransferSucceeded,
    TransferTrying,
    transfer,
)
from voipkit.api.messaging import IncomingMessage, OutgoingMessage

if TYPE_CHECKING:
    from voipkit.agent import Agent


def _usage(message: str) -> Exception:
    from voipkit.agent import USAGE_ERROR, AgentError

    return AgentError(message, USAGE_ERROR)


def cmd_transfer(agent: Agent, words: list[str]) -> None:
    if not 1 <= len(words) <= 2:
        raise _usage("usage: transfer URI [ID]")
    call = agent._pick(words[1:], state=CallState.CONNECTED)
    agent._spawn(call.refer(words[0]), f"transferring call {call.id}")


def cmd_attended(agent: Agent, words: list[str]) -> None:
    if not 2 <= len(words) <= 3:
        raise _usage("usage: attended ID TARGET_ID [URI]")
    call = agent._pick(words[:1], state=CallState.CONNECTED)
    target = agent._pick(words[1:2], state=CallState.CONNECTED)
    if target is call:
        raise _usage("attended: the two calls must differ")
    uri = words[2] if len(words) == 3 else str(target.remote.uri)
    agent._spawn(call.refer(uri, replaces=target), f"transferring call {call.id}")


def cmd_message(agent: Agent, words: list[str]) -> None:
    if len(words) < 2:
        raise _usage("usage: message URI TEXT...")
    text = " ".join(words[1:])
    agent._spawn(agent.phone.send_message(words[0], text, account=agent.account),
                 f"sending a MESSAGE to {words[0]}")


def cmd_send(agent: Agent, words: list[str]) -> None:
    if len(words) < 2:
        raise _usage("usage: send ID TEXT...")
    call = agent._pick(words[:1], state=CallState.CONNECTED)
    agent._spawn(call.send_message(" ".join(words[1:])), f"sending a MESSAGE in call {call.id}")


def cmd_refer(agent: Agent, words: list[str]) -> None:
    """``refer accept ID`` / ``refer reject ID [STATUS]``: answer a pending REFER."""
    if len(words) < 2 or words[0] not in ("accept", "reject") or not words[1].isdigit() \
            or len(words) > (3 if words[0] == "reject" else 2) \
            or (len(words) == 3 and not (words[2].isdigit() and 300 <= int(words[2]) <= 699)):
        raise _usage("usage: refer accept ID | refer reject ID [STATUS 300-699]")
    refer = transfer.incoming_refer(agent.phone, int(words[1]))
    if refer is None:
        raise _usage(f"refer: no pending REFER has id {words[1]}")
    if words[0] == "accept":
        agent._spawn(refer.accept(account=agent.account), f"following REFER {refer.id}")
    else:
        status = int(words[2]) if len(words) == 3 else 603
        agent._spawn(refer.reject(status), f"rejecting REFER {refer.id}")


COMMANDS: dict[str, Callable[[Agent, list[str]], None]] = {
    "refer": cmd_refer,
    "transfer": cmd_transfer,
    "attended": cmd_attended,
    "message": cmd_message,
    "send": cmd_send,
}


def on_refer(agent: Agent, event: ReferReceived) -> None:
    """Answer an incoming REFER as ``--refer`` says: accept (the new call is reported as
    usual), reject with 603, or ask (wait for the ``refer`` command)."""
    policy = agent.options.refer
    if policy == "accept":
        agent._spawn(event.refer.accept(account=agent.account),
                     f"following REFER {event.refer.id}")
    elif policy == "reject":
        agent._spawn(event.refer.reject(603), f"rejecting REFER {event.refer.id}")


def reports(agent: Agent) -> dict[type[Any], Callable[[Any], None]]:
    """The report of each transfer and message event (PortSIP callback names)."""
    out = agent.out

    def refer_received(e: ReferReceived) -> None:
        refer = e.refer
        session = refer.call.id if refer.call is not None else -1
        out.event("onReceivedRefer", {
            "sessionId": session, "referId": refer.id, "to": str(refer.refer_to.uri),
            "from": str(refer.request.from_.uri),
            "referSipMessage": bytes(refer.request).decode("utf-8", "replace")},
            f"call {session}: REFER to {refer.refer_to.uri}")

    def received(e: MessageReceived) -> None:
        m = e.message
        assert isinstance(m, IncomingMessage)
        kind, _, sub = m.content_type.split(";")[0].partition("/")
        fields: dict[str, Any] = {"mimeType": kind, "subMimeType": sub, "messageData": m.text,
                                  "messageDataLength": len(m.body)}
        if m.call is not None:
            out.event("onRecvMessage", {"sessionId": m.call.id, **fields},
                      f"call {m.call.id}: MESSAGE {m.text!r}")
        else:
            out.event("onRecvOutOfDialogMessage", {
                "fromDisplayName": m.sender.display_name or "", "from": str(m.sender.uri),
                "toDisplayName": m.recipient.display_name or "", "to": str(m.recipient.uri),
                **fields}, f"MESSAGE from {m.sender.uri}: {m.text!r}")

    def delivered(e: MessageDelivered) -> None:
        m = e.message
        assert isinstance(m, OutgoingMessage)
        if m.call is not None:
            out.event("onSendMessageSuccess", {"sessionId": m.call.id, "messageId": m.id},
                      f"call {m.call.id}: MESSAGE {m.id} delivered")
        else:
            out.event("onSendOutOfDialogMessageSuccess", {
                "messageId": m.id, "from": str(m.sender.uri), "to": str(m.recipient.uri)},
                f"MESSAGE {m.id} to {m.recipient.uri} delivered")

    def failed(e: MessageFailed) -> None:
        m = e.message
        assert isinstance(m, OutgoingMessage)
        fields = {"messageId": m.id, "reason": e.reason, "code": e.status}
        if m.call is not None:
            out.event("onSendMessageFailure", {"sessionId": m.call.id, **fields},
                      f"call {m.call.id}: MESSAGE {m.id} failed {e.status} {e.reason}")
        else:
            out.event("onSendOutOfDialogMessageFailure", {
                "from": str(m.sender.uri), "to": str(m.recipient.uri), **fields},
                f"MESSAGE {m.id} to {m.recipient.uri} failed {e.status} {e.reason}")

    def simple(name: str, text: str) -> Callable[[Any], None]:
        return lambda e: out.event(name, {"sessionId": e.call.id}, f"call {e.call.id}: {text}")

    return {
        ReferReceived: refer_received,
        ReferAccepted: simple("onReferAccepted", "REFER accepted"),
        ReferRejected: lambda e: out.event(
            "onReferRejected", {"sessionId": e.call.id, "reason": e.reason, "code": e.status},
            f"call {e.call.id}: REFER rejected {e.status} {e.reason}"),
        TransferTrying: simple("onTransferTrying", "transfer trying"),
        TransferRinging: simple("onTransferRinging", "transfer ringing"),
        TransferSucceeded: simple("onACTVTransferSuccess", "transfer succeeded"),
        TransferFailed: lambda e: out.event(
            "onACTVTransferFailure", {"sessionId": e.call.id, "reason": e.reason,
                                      "code": e.status},
            f"call {e.call.id}: transfer failed {e.status} {e.reason}"),
        MessageReceived: received,
        MessageDelivered: delivered,
        MessageFailed: failed,
    }


__all__ = ["COMMANDS", "on_refer", "reports"]
