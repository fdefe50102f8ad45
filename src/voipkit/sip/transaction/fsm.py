"""The four RFC 3261 §17 transaction state machines, as transition tables.

Knows: every state and input of the INVITE and non-INVITE client and server
transactions (RFC 3261 figures 5 to 8), with the "Accepted" state that
RFC 6026 §7 adds to both INVITE machines. Must not know: messages, timers'
values, transports or what an action does — ``client.py`` and ``server.py``
perform the action that goes with a transition; everything that decides *which*
transition happens lives in this file (h11's rule for ``_state.py``).

Inputs come in two kinds. Wire inputs (responses, requests, ACKs, transport
errors) and timer firings that a table lacks are dropped and counted: a 1xx
after the final response is noise, not a bug. Local inputs (the transaction
user sending a response) that a table lacks raise ``LocalProtocolError``
naming the machine, the state and the input.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, auto
from types import MappingProxyType

from voipkit.sip.errors import LocalProtocolError


class State(Enum):
    """Transaction states (RFC 3261 §17; ACCEPTED from RFC 6026 §7)."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code

    CALLING = auto()
    TRYING = auto()
    PROCEEDING = auto()
    COMPLETED = auto()
    CONFIRMED = auto()
    ACCEPTED = auto()
    TERMINATED = auto()


class Input(Enum):
    """Everything that can drive a transaction machine."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code

    # client side, from the wire
    PROVISIONAL = auto()  # 1xx received
    SUCCESS = auto()  # 2xx received
    FAILURE = auto()  # 300-699 received
    # server side, from the wire
    REQUEST = auto()  # a retransmission of the request that created the transaction
    ACK = auto()  # an ACK matching the INVITE server transaction
    # either side
    TRANSPORT_ERROR = auto()
    # server side, from the transaction user (local)
    SEND_PROVISIONAL = auto()
    SEND_SUCCESS = auto()
    SEND_FAILURE = auto()
    # timers
    TIMER_A = auto()
    TIMER_B = auto()
    TIMER_D = auto()
    TIMER_E = auto()
    TIMER_F = auto()
    TIMER_G = auto()
    TIMER_H = auto()
    TIMER_I = auto()
    TIMER_J = auto()
    TIMER_K = auto()
    TIMER_L = auto()
    TIMER_M = auto()


#: Inputs that come from the transaction user; a missing row for one of these is a bug.
LOCAL_INPUTS: frozenset[Input] = frozenset(
    {Input.SEND_PROVISIONAL, Input.SEND_SUCCESS, Input.SEND_FAILURE}
)

Table = Mapping[tuple[State, Input], State]

S = State
I = Input  # noqa: E741

# RFC 3261 §17.1.1.2 (figure 5) with RFC 6026 §7.2 (figure 5 replaced): a 2xx
# moves the client to Accepted, where 2xx retransmissions still reach the TU
# until Timer M fires. Timer B runs in Calling only; Proceeding waits for the TU.
INVITE_CLIENT: Table = MappingProxyType(
    {
        (S.CALLING, I.TIMER_A): S.CALLING,
        (S.CALLING, I.TIMER_B): S.TERMINATED,
        (S.CALLING, I.TRANSPORT_ERROR): S.TERMINATED,
        (S.CALLING, I.PROVISIONAL): S.PROCEEDING,
        (S.CALLING, I.SUCCESS): S.ACCEPTED,
        (S.CALLING, I.FAILURE): S.COMPLETED,
        (S.PROCEEDING, I.PROVISIONAL): S.PROCEEDING,
        (S.PROCEEDING, I.SUCCESS): S.ACCEPTED,
        (S.PROCEEDING, I.FAILURE): S.COMPLETED,
        (S.COMPLETED, I.FAILURE): S.COMPLETED,  # resend the ACK, do not tell the TU
        (S.COMPLETED, I.TRANSPORT_ERROR): S.TERMINATED,
        (S.COMPLETED, I.TIMER_D): S.TERMINATED,
        (S.ACCEPTED, I.SUCCESS): S.ACCEPTED,  # RFC 6026: pass 2xx retransmissions up
        (S.ACCEPTED, I.TIMER_M): S.TERMINATED,
    }
)

# RFC 3261 §17.1.2.2 (figure 6).
NON_INVITE_CLIENT: Table = MappingProxyType(
    {
        (S.TRYING, I.TIMER_E): S.TRYING,
        (S.TRYING, I.TIMER_F): S.TERMINATED,
        (S.TRYING, I.TRANSPORT_ERROR): S.TERMINATED,
        (S.TRYING, I.PROVISIONAL): S.PROCEEDING,
        (S.TRYING, I.SUCCESS): S.COMPLETED,
        (S.TRYING, I.FAILURE): S.COMPLETED,
        (S.PROCEEDING, I.TIMER_E): S.PROCEEDING,
        (S.PROCEEDING, I.TIMER_F): S.TERMINATED,
        (S.PROCEEDING, I.TRANSPORT_ERROR): S.TERMINATED,
        (S.PROCEEDING, I.PROVISIONAL): S.PROCEEDING,
        (S.PROCEEDING, I.SUCCESS): S.COMPLETED,
        (S.PROCEEDING, I.FAILURE): S.COMPLETED,
        (S.COMPLETED, I.SUCCESS): S.COMPLETED,  # absorb retransmitted finals
        (S.COMPLETED, I.FAILURE): S.COMPLETED,
        (S.COMPLETED, I.TIMER_K): S.TERMINATED,
    }
)

# RFC 3261 §17.2.1 (figure 7) with RFC 6026 §7.1: sending a 2xx moves the server
# to Accepted, which absorbs INVITE retransmissions and lets the TU retransmit
# its 2xx until Timer L fires.
INVITE_SERVER: Table = MappingProxyType(
    {
        (S.PROCEEDING, I.REQUEST): S.PROCEEDING,  # resend the last provisional
        (S.PROCEEDING, I.SEND_PROVISIONAL): S.PROCEEDING,
        (S.PROCEEDING, I.SEND_SUCCESS): S.ACCEPTED,
        (S.PROCEEDING, I.SEND_FAILURE): S.COMPLETED,
        (S.PROCEEDING, I.TRANSPORT_ERROR): S.TERMINATED,
        (S.COMPLETED, I.REQUEST): S.COMPLETED,  # resend the final response
        (S.COMPLETED, I.TIMER_G): S.COMPLETED,
        (S.COMPLETED, I.ACK): S.CONFIRMED,
        (S.COMPLETED, I.TIMER_H): S.TERMINATED,
        (S.COMPLETED, I.TRANSPORT_ERROR): S.TERMINATED,
        (S.CONFIRMED, I.ACK): S.CONFIRMED,  # absorb ACK retransmissions
        (S.CONFIRMED, I.TIMER_I): S.TERMINATED,
        (S.ACCEPTED, I.REQUEST): S.ACCEPTED,  # absorb INVITE retransmissions
        (S.ACCEPTED, I.SEND_SUCCESS): S.ACCEPTED,  # the TU retransmits its 2xx
        (S.ACCEPTED, I.ACK): S.ACCEPTED,  # passed to the TU
        (S.ACCEPTED, I.TIMER_L): S.TERMINATED,
    }
)

# RFC 3261 §17.2.2 (figure 8).
NON_INVITE_SERVER: Table = MappingProxyType(
    {
        (S.TRYING, I.REQUEST): S.TRYING,  # absorb: nothing to resend yet
        (S.TRYING, I.SEND_PROVISIONAL): S.PROCEEDING,
        (S.TRYING, I.SEND_SUCCESS): S.COMPLETED,
        (S.TRYING, I.SEND_FAILURE): S.COMPLETED,
        (S.PROCEEDING, I.REQUEST): S.PROCEEDING,  # resend the last provisional
        (S.PROCEEDING, I.SEND_PROVISIONAL): S.PROCEEDING,
        (S.PROCEEDING, I.SEND_SUCCESS): S.COMPLETED,
        (S.PROCEEDING, I.SEND_FAILURE): S.COMPLETED,
        (S.PROCEEDING, I.TRANSPORT_ERROR): S.TERMINATED,
        (S.COMPLETED, I.REQUEST): S.COMPLETED,  # resend the final response
        (S.COMPLETED, I.TIMER_J): S.TERMINATED,
        (S.COMPLETED, I.TRANSPORT_ERROR): S.TERMINATED,
    }
)

TABLE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        id(INVITE_CLIENT): "INVITE client",
        id(NON_INVITE_CLIENT): "non-INVITE client",
        id(INVITE_SERVER): "INVITE server",
        id(NON_INVITE_SERVER): "non-INVITE server",
    }
)


def step(table: Table, state: State, event: Input) -> State | None:
    """Next state, or None when the table has no row for a wire input or timer.

    Raises:
        LocalProtocolError: when ``event`` is a local input the table lacks,
            e.g. sending a provisional response after the final one.
    """
    new_state = table.get((state, event))
    if new_state is None and event in LOCAL_INPUTS:
        machine = TABLE_NAMES.get(id(table), "transaction")
        raise LocalProtocolError(
            f"{machine} transaction in state {state.name} cannot handle {event.name}"
        )
    return new_state


def response_input(status: int) -> Input:
    """Classify a received response status as PROVISIONAL, SUCCESS or FAILURE."""
    if status < 200:
        return Input.PROVISIONAL
    if status < 300:
        return Input.SUCCESS
    return Input.FAILURE


def send_input(status: int) -> Input:
    """Classify a response the TU sends as SEND_PROVISIONAL, SEND_SUCCESS or SEND_FAILURE."""
    if status < 200:
        return Input.SEND_PROVISIONAL
    if status < 300:
        return Input.SEND_SUCCESS
    return Input.SEND_FAILURE
