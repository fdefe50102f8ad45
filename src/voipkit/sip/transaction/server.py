"""Server transactions (RFC 3261 §17.2, RFC 6026 §7.1): absorb, answer, resend.

Knows: the actions that go with each transition of the INVITE and non-INVITE
server machines in ``fsm.py`` — sending the TU's responses, resending the
last response when the request is retransmitted, Timers G, H, I, J and L, and
where responses go (RFC 3261 §18.2.2 with RFC 3581 rport). Must not know:
sockets, clocks, dialogs, or how the TU decides what to answer.

Memory. Once the final response is out, an INVITE transaction in Accepted
(RFC 6026 §7.1: Timer L, 64*T1) and a non-INVITE one in Completed (Timer J)
only absorb retransmissions for 32 s: all they need is the key, where the
response went and its bytes. They *shed* the parsed request and response
then, so a UAS at 1,000 calls/s does not hold 64,000 parsed messages for the
cyclic garbage collector to walk (``ServerTransaction.request`` raises after
that; ``response_index`` and ``method`` stay).
"""

from __future__ import annotations

from voipkit.sip.addressing import Address, Destination, TransportKind, is_ip_literal
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.message import Request, Response, Via
from voipkit.sip.timers import TimerConfig, TimerName
from voipkit.sip.transaction.client import Outcome, Verdict
from voipkit.sip.transaction.fsm import (
    INVITE_SERVER,
    NON_INVITE_SERVER,
    Input,
    State,
    send_input,
    step,
)
from voipkit.sip.transaction.keys import TransactionKey, TransactionSink, TransactionTimer

_TIMER_INPUT = {
    TimerName.G: Input.TIMER_G,
    TimerName.H: Input.TIMER_H,
    TimerName.I: Input.TIMER_I,
    TimerName.J: Input.TIMER_J,
    TimerName.L: Input.TIMER_L,
}


def response_index(message: Request | Response) -> tuple[str, ...]:
    """What ties a response from the TU to the server transaction of its request.

    Call-ID, CSeq, From tag and the top Via's branch and sent-by: a response
    copies all of them from the request (RFC 3261 §8.2.6.2).
    """
    top = message.via[0]
    return (
        message.call_id,
        str(message.cseq.seq),
        message.cseq.method,
        message.from_.tag or "",
        top.branch or "",
        f"{top.host}:{top.port}".lower(),
    )


def response_destination(via: Via, source: Address, transport: TransportKind) -> Destination:
    """Where to send responses to a request whose top Via (after receipt) is ``via``.

    RFC 3261 §18.2.2 with RFC 3581 §4: over a reliable transport, back to the
    connection the request came from. Over UDP: to ``maddr`` when present;
    else, when the request asked for ``rport``, to the packet's source address
    and port; else to ``received`` (when set) and the sent-by port, defaulting
    to 5060; else to the sent-by itself.
    """
    if transport.reliable:
        return Destination(transport, source[0], source[1])
    default_port = via.port if via.port is not None else transport.default_port
    if via.maddr and is_ip_literal(via.maddr):
        return Destination(transport, via.maddr, default_port)
    if via.has_rport:
        return Destination(transport, source[0], source[1])
    if via.received:
        return Destination(transport, via.received, default_port)
    if is_ip_literal(via.host):
        return Destination(transport, via.host, default_port)
    return Destination(transport, source[0], default_port)


class ServerTransaction:
    """One request we received, until its machine terminates.

    The TU answers through ``send_response``; retransmissions of the request
    are fed to ``receive_request`` and are never delivered twice.
    """

    def __init__(
        self,
        *,
        key: TransactionKey,
        request: Request,
        source: Address,
        transport: TransportKind,
        config: TimerConfig,
        sink: TransactionSink,
        now: float,
    ) -> None:
        self.key = key
        self._request: Request | None = request
        self.method = request.method
        self.response_index = response_index(request)
        self.source = source
        self.transport = transport
        self.invite = request.method == "INVITE"
        self.state = State.PROCEEDING if self.invite else State.TRYING
        self.destination = response_destination(request.via[0], source, transport)
        self.last_response: Response | None = None
        self._table = INVITE_SERVER if self.invite else NON_INVITE_SERVER
        self._config = config
        self._sink = sink
        self._data = b""
        self._retransmissions = 0
        self._reliable = transport.reliable

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    @property
    def request(self) -> Request:
        """The request that created this transaction, until the final response is out.

        Raises:
            LocalProtocolError: the transaction has shed it (see the module
                docstring): nothing can be sent through it any more.
        """
        if self._request is None:
            raise LocalProtocolError(
                f"the {self.method} server transaction {self.key} has sent its final "
                "response; its request is no longer kept")
        return self._request

    @property
    def shed(self) -> bool:
        """True once only the key, destination and response bytes are kept."""
        return self._request is None

    def _shed(self) -> None:
        self._request = None
        self.last_response = None

    def _start(self, name: TimerName, at: float) -> None:
        self._sink.schedule(TransactionTimer(self.key, name), at)

    def _stop(self, *names: TimerName) -> None:
        for name in names:
            self._sink.cancel(TransactionTimer(self.key, name))

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._stop(*_TIMER_INPUT)

    def _resend(self) -> None:
        if self._data:
            self._sink.send(self.destination, self.last_response, self._data)

    def send_response(self, response: Response, *, now: float) -> None:
        """Send a response from the TU through this transaction.

        Raises:
            LocalProtocolError: when the machine cannot send it in this state
                (a second final response, a provisional after the final ...).
        """
        new_state = step(self._table, self.state, send_input(response.status))
        assert new_state is not None  # step raises for local inputs without a row
        old_state, self.state = self.state, new_state
        self.last_response = response
        self._data = bytes(response)
        self._sink.send(self.destination, response, self._data)
        if old_state is self.state:
            return
        timeout = self._config.transaction_timeout
        if self.state is State.ACCEPTED:
            self._shed()  # the core resends the 2xx itself until the ACK (RFC 6026 §7.1)
            self._start(TimerName.L, now + timeout)
        elif self.state is State.COMPLETED and self.invite:
            if not self._reliable:
                self._start(TimerName.G, now + self._config.t1)
            self._start(TimerName.H, now + timeout)
        elif self.state is State.COMPLETED:
            self._shed()
            delay = self._config.timer_j_for(reliable=self._reliable)
            if delay > 0:
                self._start(TimerName.J, now + delay)
            else:
                self._terminate()

    def receive_request(self, request: Request, *, now: float) -> Verdict:
        """A retransmission of the request that created this transaction."""
        new_state = step(self._table, self.state, Input.REQUEST)
        if new_state is None:
            return Verdict.DROPPED
        self.state = new_state
        if self.state in (State.PROCEEDING, State.COMPLETED):
            self._resend()
        return Verdict.ABSORBED

    def receive_ack(self, ack: Request, *, now: float) -> Verdict:
        """An ACK that matched this INVITE transaction."""
        new_state = step(self._table, self.state, Input.ACK)
        if new_state is None:
            return Verdict.DROPPED
        old_state, self.state = self.state, new_state
        if self.state is State.ACCEPTED:
            return Verdict.PASS_UP  # RFC 6026 §7.1: a 2xx ACK goes to the TU
        if old_state is State.COMPLETED:
            self._stop(TimerName.G, TimerName.H)
            delay = self._config.timer_i_for(reliable=self._reliable)
            if delay > 0:
                self._start(TimerName.I, now + delay)
            else:
                self._terminate()
        return Verdict.ABSORBED

    def handle_timer(self, name: TimerName, *, now: float) -> Outcome:
        """A timer of this transaction fired."""
        event = _TIMER_INPUT.get(name)
        new_state = None if event is None else step(self._table, self.state, event)
        if new_state is None:
            return Outcome.NONE
        self.state = new_state
        if name is TimerName.G:
            self._retransmissions += 1
            self._resend()
            interval = self._config.capped_retransmit_interval(self._retransmissions)
            self._start(TimerName.G, now + interval)
            return Outcome.NONE
        self._terminate()
        return Outcome.TIMED_OUT if name is TimerName.H else Outcome.NONE

    def transport_error(self) -> Outcome:
        """The transport could not deliver a response of this transaction.

        After the final response (a shed transaction) the TU has nothing left
        to do about it: the machine ends quietly (RFC 3261 §17.2.4's "SHOULD
        inform the TU" matters while the TU can still answer).
        """
        new_state = step(self._table, self.state, Input.TRANSPORT_ERROR)
        if new_state is None:
            return Outcome.NONE
        self._terminate()
        return Outcome.NONE if self.shed else Outcome.TRANSPORT_FAILED
