"""RFC 3261 §17 transactions (with RFC 6026): machines, client, server, and the layer.

Knows: the four transaction machines (``fsm``), the client and server
transactions that perform their actions, and the TransactionLayer that matches
messages to them and fails over to the next destination. Must not know:
sockets, clocks, dialogs or validation.
"""

from voipkit.sip.transaction.client import ClientTransaction, Outcome, Verdict, build_ack
from voipkit.sip.transaction.fsm import (
    INVITE_CLIENT,
    INVITE_SERVER,
    NON_INVITE_CLIENT,
    NON_INVITE_SERVER,
    Input,
    State,
    step,
)
from voipkit.sip.transaction.keys import (
    Role,
    TransactionKey,
    TransactionTimer,
    client_key,
    has_magic_cookie,
    server_key,
)
from voipkit.sip.transaction.layer import ClientAttempt, TransactionLayer, TransactionUser
from voipkit.sip.transaction.server import ServerTransaction, response_destination

__all__ = [
    "INVITE_CLIENT",
    "INVITE_SERVER",
    "NON_INVITE_CLIENT",
    "NON_INVITE_SERVER",
    "ClientAttempt",
    "ClientTransaction",
    "Input",
    "Outcome",
    "Role",
    "ServerTransaction",
    "State",
    "TransactionKey",
    "TransactionLayer",
    "TransactionTimer",
    "TransactionUser",
    "Verdict",
    "build_ack",
    "client_key",
    "has_magic_cookie",
    "response_destination",
    "server_key",
    "step",
]
