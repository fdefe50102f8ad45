"""The ``voipkit agent`` commands and reports for subscriptions, presence, MWI and BLF.

Knows: ``voipkit.api`` (``phone.subscriptions`` and its events) and the agent's
``Agent``/``Output`` surface (``agent.phone``, ``agent.account``, ``agent.out``,
``agent._spawn``). Must not know: the SIP layers — like the agent, it is a user of the
public API. ``agent.py`` merges ``COMMANDS`` into its stdin commands and ``reports``
into its event reports.

Commands (stdin, one per line):

- ``subscribe URI EVENT`` — SUBSCRIBE to any package (``message-summary``, ``dialog``,
  ``presence`` ...); prints ``subscribed`` with the ``subscribeId``;
- ``unsubscribe ID`` — end it (onSubscriptionTerminated follows);
- ``publish TEXT...`` — PUBLISH our presence to the account's server (presence agent
  mode, RFC 3903; ``Offline`` appears offline); prints ``published``;
- ``presence TEXT...`` — NOTIFY our status to every accepted watcher (P2P mode);
- ``watcher accept|reject ID`` — answer a presence SUBSCRIBE (onPresenceRecvSubscribe);
- ``mwi on|off`` — enableAutoCheckMwi;
- ``pickup DIALOG-ID`` — pickupBLFCall: an INVITE with Replaces for a dialog an
  onDialogStateUpdated reported.

Reports use the PortSIP callback names and parameter names (``from`` as in the manual).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from voipkit.api import (
    DialogStateUpdated,
    MessagesWaiting,
    PresenceMode,
    PresenceOffline,
    PresenceOnline,
    PresenceSubscribeReceived,
    SubscriptionEnded,
    SubscriptionFailure,
    SubscriptionNotified,
    SubscriptionNotifyRejected,
    SubscriptionRefreshFailure,
)

if TYPE_CHECKING:
    from voipkit.agent import Agent


def _usage(message: str) -> Exception:
    from voipkit.agent import USAGE_ERROR, AgentError

    return AgentError(message, USAGE_ERROR)


def _id(word: str) -> int:
    if not word.isdigit():
        raise _usage(f"{word!r} is not a subscription id")
    return int(word)


def cmd_subscribe(agent: Agent, words: list[str]) -> None:
    if len(words) != 2:
        raise _usage("usage: subscribe URI EVENT")
    target, event = words

    async def subscribe() -> None:
        subscription = await agent.phone.subscriptions.subscribe(
            target, event, account=agent.account)
        agent.out.event("subscribed", {"subscribeId": subscription.id, "to": subscription.target,
                                       "eventName": event},
                        f"subscription {subscription.id}: {event} of {subscription.target}")

    agent._spawn(subscribe(), f"subscribing to {event} of {target}")


def cmd_unsubscribe(agent: Agent, words: list[str]) -> None:
    if len(words) != 1:
        raise _usage("usage: unsubscribe ID")
    subscription = agent.phone.subscriptions.subscription(_id(words[0]))
    agent._spawn(subscription.terminate(), f"unsubscribing {subscription.id}")


def cmd_publish(agent: Agent, words: list[str]) -> None:
    if not words:
        raise _usage("usage: publish TEXT (Offline: appear offline)")
    text = " ".join(words)
    service = agent.phone.subscriptions

    async def publish() -> None:
        service.presence_mode = PresenceMode.AGENT
        await service.set_presence(text)
        agent.out.event("published", {"stateText": text}, f"published presence {text!r}")

    agent._spawn(publish(), "publishing presence")


def cmd_presence(agent: Agent, words: list[str]) -> None:
    if not words:
        raise _usage("usage: presence TEXT (Offline: appear offline)")
    service = agent.phone.subscriptions
    service.presence_mode = PresenceMode.P2P
    agent._spawn(service.set_presence(" ".join(words)), "notifying presence")


def cmd_watcher(agent: Agent, words: list[str]) -> None:
    if len(words) != 2 or words[0] not in ("accept", "reject"):
        raise _usage("usage: watcher accept|reject ID")
    watcher = agent.phone.subscriptions.presence_watcher(_id(words[1]))
    if words[0] == "accept":
        watcher.accept()
    else:
        watcher.reject(403)


def cmd_mwi(agent: Agent, words: list[str]) -> None:
    if words not in (["on"], ["off"]):
        raise _usage("usage: mwi on|off")
    agent.phone.subscriptions.set_auto_check_mwi(words == ["on"])


def cmd_pickup(agent: Agent, words: list[str]) -> None:
    if len(words) != 1:
        raise _usage("usage: pickup DIALOG-ID")

    async def pickup() -> None:
        call = await agent.phone.subscriptions.pickup(words[0])
        agent.out.event("calling", {"sessionId": call.id, "callee": str(call.remote.uri)},
                        f"call {call.id}: picking up dialog {words[0]} at {call.remote.uri}")

    agent._spawn(pickup(), f"picking up {words[0]}")


COMMANDS: dict[str, Callable[[Agent, list[str]], None]] = {
    "subscribe": cmd_subscribe,
    "unsubscribe": cmd_unsubscribe,
    "publish": cmd_publish,
    "presence": cmd_presence,
    "watcher": cmd_watcher,
    "mwi": cmd_mwi,
    "pickup": cmd_pickup,
}


def _mwi(agent: Agent, event: MessagesWaiting) -> None:
    summary = event.summary
    for name, counts in (("onWaitingVoiceMessage", summary.voice),
                         ("onWaitingFaxMessage", summary.fax)):
        if counts is None:
            continue
        agent.out.event(name, {
            "messageAccount": event.account, "urgentNewMessageCount": counts.urgent_new,
            "urgentOldMessageCount": counts.urgent_old, "newMessageCount": counts.new,
            "oldMessageCount": counts.old}, f"{event.account}: {name[9:]} {counts}")


def reports(agent: Agent) -> dict[type[Any], Callable[[Any], None]]:
    """The agent's report for each subscription event (merged into ``Agent._report``)."""
    out = agent.out
    return {
        SubscriptionNotified: lambda e: out.event(
            "onRecvNotifyOfSubscription", {
                "subscribeId": e.subscription.id, "contentType": e.content_type or "",
                "contentData": e.body.decode("utf-8", "replace"),
                "contentLenght": len(e.body)},
            f"subscription {e.subscription.id}: NOTIFY {e.state} ({len(e.body)} bytes)"),
        SubscriptionNotifyRejected: lambda e: out.event(
            "notifyRejected", {"subscribeId": e.subscription.id, "statusCode": e.status,
                               "reason": e.reason},
            f"subscription {e.subscription.id}: NOTIFY refused {e.status} ({e.reason})"),
        SubscriptionFailure: lambda e: out.event(
            "onSubscriptionFailure", {"subscribeId": e.subscription.id,
                                      "statusCode": e.status},
            f"subscription {e.subscription.id} failed: {e.status} {e.reason}"),
        SubscriptionRefreshFailure: lambda e: out.event(
            "onSubscriptionFailure", {"subscribeId": e.subscription.id,
                                      "statusCode": e.status, "refresh": True},
            f"subscription {e.subscription.id}: refresh failed ({e.status})"),
        SubscriptionEnded: lambda e: out.event(
            "onSubscriptionTerminated", {"subscribeId": e.subscription.id},
            f"subscription {e.subscription.id} ended ({e.reason})"),
        PresenceSubscribeReceived: lambda e: out.event(
            "onPresenceRecvSubscribe", {
                "subscribeId": e.watcher.id, "fromDisplayName": e.watcher.remote.display_name
                or "", "from": str(e.watcher.remote.uri), "subject": e.watcher.subject},
            f"presence subscription {e.watcher.id} from {e.watcher.remote.uri}"),
        PresenceOnline: lambda e: out.event(
            "onPresenceOnline", {"fromDisplayName": e.display_name, "from": e.uri,
                                 "stateText": e.note},
            f"{e.uri} is online ({e.note})"),
        PresenceOffline: lambda e: out.event(
            "onPresenceOffline", {"fromDisplayName": e.display_name, "from": e.uri},
            f"{e.uri} is offline"),
        DialogStateUpdated: lambda e: out.event(
            "onDialogStateUpdated", {"BLFMonitoredUri": e.monitored, "BLFDialogState": e.state,
                                     "BLFDialogId": e.dialog_id,
                                     "BLFDialogDirection": e.direction},
            f"{e.monitored}: dialog {e.dialog_id} {e.state} ({e.direction})"),
        MessagesWaiting: lambda e: _mwi(agent, e),
    }


__all__ = ["COMMANDS", "reports"]
