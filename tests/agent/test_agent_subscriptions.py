"""Two ``python -m voipkit agent`` processes use the subscription commands on 127.0.0.1.

Proves, from the outside: ``subscribe URI presence`` prints ``subscribed`` with the
subscribeId; the other agent prints onPresenceRecvSubscribe with its own id and the
watcher's URI, and ``watcher accept ID`` answers it; ``presence TEXT`` reaches the
subscriber as onPresenceOnline with stateText, ``presence Offline`` as onPresenceOffline;
every NOTIFY is reported as onRecvNotifyOfSubscription with its PIDF; ``unsubscribe ID``
ends with onSubscriptionTerminated; a package the peer does not serve gives
onSubscriptionFailure 489; a malformed command prints an error line and the agent goes on.
"""

from __future__ import annotations

from tests.agent.test_agent_cli import AgentProcess


def test_presence_commands_between_two_agents() -> None:
    watcher = AgentProcess("--listen", "udp:127.0.0.1:0")
    presentity = AgentProcess("--listen", "udp:127.0.0.1:0")
    try:
        watcher.send(f"subscribe sip:bob@{presentity.address} presence")
        subscribed = watcher.expect("subscribed")
        sub_id = subscribed["subscribeId"]
        assert sub_id > 0 and subscribed["eventName"] == "presence"
        request = presentity.expect("onPresenceRecvSubscribe")
        assert request["from"].startswith("sip:voipkit@127.0.0.1")
        presentity.send(f"watcher accept {request['subscribeId']}")
        notify = watcher.expect("onRecvNotifyOfSubscription")
        assert notify["subscribeId"] == sub_id and "<basic>open</basic>" in notify["contentData"]
        assert notify["contentLenght"] == len(notify["contentData"].encode())
        watcher.expect("onPresenceOnline")
        presentity.send("presence Busy in a call")
        online = watcher.expect("onPresenceOnline")
        assert online["stateText"] == "Busy in a call"
        assert online["from"] == f"sip:bob@{presentity.address}"
        presentity.send("presence Offline")
        assert watcher.expect("onPresenceOffline")["from"] == online["from"]
        watcher.send("unsubscribe")  # usage error: the agent goes on
        assert "usage: unsubscribe ID" in watcher.expect("error")["message"]
        watcher.send(f"unsubscribe {sub_id}")
        assert watcher.expect("onSubscriptionTerminated")["subscribeId"] == sub_id
        watcher.send(f"subscribe sip:bob@{presentity.address} message-summary")
        other = watcher.expect("subscribed")["subscribeId"]
        failure = watcher.expect("onSubscriptionFailure")
        assert failure == {"event": "onSubscriptionFailure", "subscribeId": other,
                           "statusCode": 489}
        watcher.send("quit")
        presentity.send("quit")
        assert watcher.wait() == 0 and presentity.wait() == 0
    finally:
        watcher.kill()
        presentity.kill()
