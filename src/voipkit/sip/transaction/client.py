"""Client transactions (RFC 3261 §17.1, RFC 6026 §7.2): send, retransmit, give up.

Knows: the actions that go with each transition of the INVITE and non-INVITE
client machines in ``fsm.py`` — (re)sending the request, starting and stopping
Timers A, B, D, E, F, K and M, and building the ACK for a non-2xx final
response (§17.1.1.3). Must not know: sockets, clocks, dialogs, or what the
transaction user does with a response; it reports verdicts and outcomes and
the TransactionLayer routes them.
"""

from __future__ import annotations

from enum import Enum

from voipkit.sip.addressing import Destination
from voipkit.sip.message import CSeq, Request, Response
from voipkit.sip.timers import TimerConfig, TimerName
from voipkit.sip.transaction.fsm import (
    INVITE_CLIENT,
    NON_INVITE_CLIENT,
    Input,
    State,
    response_input,
    step,
)
from voipkit.sip.transaction.keys import TransactionKey, TransactionSink, TransactionTimer


class Verdict(Enum):
    """What became of a message handed to a transaction."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code

    PASS_UP = "pass_up"
    "Deliver to the transaction user."

    ABSORBED = "absorbed"
    "A retransmission the transaction handled itself (counted, not delivered)."

    DROPPED = "dropped"
    "The machine has no transition for it in this state (counted, not delivered)."


class Outcome(Enum):
    """How a transaction ended, when a timer or transport error ended it."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code

    NONE = "none"
    "Nothing the transaction user must hear about (still running, or ended normally)."

    TIMED_OUT = "timed_out"
    "Timer B, F or H fired."

    TRANSPORT_FAILED = "transport_failed"
    "The transport reported an error for the destination."


_TIMER_INPUT = {
    TimerName.A: Input.TIMER_A,
    TimerName.B: Input.TIMER_B,
    TimerName.D: Input.TIMER_D,
    TimerName.E: Input.TIMER_E,
    TimerName.F: Input.TIMER_F,
    TimerName.K: Input.TIMER_K,
    TimerName.M: Input.TIMER_M,
}


def build_ack(request: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response, per RFC 3261 §17.1.1.3.

    "The ACK request constructed by the client transaction MUST contain values
    for the Call-ID, From, and Request-URI that are equal to the values of those
    header fields in the request passed to the transport by the client
    transaction ... The To header field in the ACK MUST equal the To header
    field in the response being acknowledged ... The ACK MUST contain a single
    Via header field, and this MUST be equal to the top Via header field of the
    original request ... If the INVITE request whose response is being
    acknowledged had Route header fields, those header fields MUST appear in
    the ACK."
    """
    return Request(
        "ACK",
        request.uri,
        via=[request.via[0]],
        from_=request.from_,
        to=response.to,
        call_id=request.call_id,
        cseq=CSeq(request.cseq.seq, "ACK"),
        max_forwards=70,
        route=list(request.route),
    )


class ClientTransaction:
    """One request we sent to one destination, until its machine terminates.

    Created by the TransactionLayer, which has already put our Via (with a
    fresh branch) on top of ``request``. Sends the request on creation.
    """

    def __init__(
        self,
        *,
        key: TransactionKey,
        request: Request,
        destination: Destination,
        config: TimerConfig,
        sink: TransactionSink,
        now: float,
    ) -> None:
        self.key = key
        self.request = request
        self.destination = destination
        self.invite = request.method == "INVITE"
        self.state = State.CALLING if self.invite else State.TRYING
        self.last_response: Response | None = None
        self.ack: Request | None = None
        self._table = INVITE_CLIENT if self.invite else NON_INVITE_CLIENT
        self._config = config
        self._sink = sink
        self._data = bytes(request)
        self._retransmissions = 0
        self._reliable = destination.transport.reliable
        self._sink.send(destination, request, self._data)
        if not self._reliable:
            first = TimerName.A if self.invite else TimerName.E
            self._start(first, now + config.t1)
        self._start(TimerName.B if self.invite else TimerName.F, now + config.transaction_timeout)

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    @property
    def retransmissions(self) -> int:
        """How many times the request was resent (Timers A and E)."""
        return self._retransmissions

    def _start(self, name: TimerName, at: float) -> None:
        self._sink.schedule(TransactionTimer(self.key, name), at)

    def _stop(self, *names: TimerName) -> None:
        for name in names:
            self._sink.cancel(TransactionTimer(self.key, name))

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        self._stop(*_TIMER_INPUT)

    def receive_response(self, response: Response, *, now: float) -> Verdict:
        """Feed a response whose branch and CSeq method matched this transaction."""
        event = response_input(response.status)
        new_state = step(self._table, self.state, event)
        if new_state is None:
            return Verdict.DROPPED
        old_state, self.state = self.state, new_state
        if self.invite:
            return self._invite_response(old_state, response, now)
        return self._non_invite_response(old_state, response, now)

    def _invite_response(self, old: State, response: Response, now: float) -> Verdict:
        if old is State.COMPLETED:
            # a retransmitted non-2xx final: resend the ACK, keep it from the TU
            if self.ack is not None:
                self._sink.send(self.destination, self.ack, bytes(self.ack))
            return Verdict.ABSORBED
        self.last_response = response
        if self.state is State.PROCEEDING:
            self._stop(TimerName.A, TimerName.B)
        elif self.state is State.ACCEPTED:
            if old is not State.ACCEPTED:
                self._stop(TimerName.A, TimerName.B)
                self._start(TimerName.M, now + self._config.transaction_timeout)
        elif self.state is State.COMPLETED:
            self._stop(TimerName.A, TimerName.B)
            self.ack = build_ack(self.request, response)
            self._sink.send(self.destination, self.ack, bytes(self.ack))
            delay = self._config.timer_d_for(reliable=self._reliable)
            if delay > 0:
                self._start(TimerName.D, now + delay)
            else:
                self._terminate()
        return Verdict.PASS_UP

    def _non_invite_response(self, old: State, response: Response, now: float) -> Verdict:
        if old is State.COMPLETED:
            return Verdict.ABSORBED
        self.last_response = response
        if self.state is State.COMPLETED:
            self._stop(TimerName.E, TimerName.F)
            delay = self._config.timer_k_for(reliable=self._reliable)
            if delay > 0:
                self._start(TimerName.K, now + delay)
            else:
                self._terminate()
        return Verdict.PASS_UP

    def handle_timer(self, name: TimerName, *, now: float) -> Outcome:
        """A timer of this transaction fired."""
        event = _TIMER_INPUT.get(name)
        new_state = None if event is None else step(self._table, self.state, event)
        if new_state is None:
            return Outcome.NONE
        self.state = new_state
        if name in (TimerName.A, TimerName.E):
            self._retransmissions += 1
            self._sink.send(self.destination, self.request, self._data)
            if name is TimerName.A:
                interval = self._config.invite_retransmit_interval(self._retransmissions)
            elif self.state is State.PROCEEDING:
                interval = self._config.t2  # §17.1.2.2: reset to T2 once a 1xx arrived
            else:
                interval = self._config.capped_retransmit_interval(self._retransmissions)
            self._start(name, now + interval)
            return Outcome.NONE
        self._terminate()
        if name in (TimerName.B, TimerName.F):
            return Outcome.TIMED_OUT
        return Outcome.NONE

    def transport_error(self) -> Outcome:
        """The transport could not deliver to ``destination``."""
        new_state = step(self._table, self.state, Input.TRANSPORT_ERROR)
        if new_state is None:
            return Outcome.NONE
        reported = self.state in (State.CALLING, State.TRYING, State.PROCEEDING)
        self._terminate()
        return Outcome.TRANSPORT_FAILED if reported else Outcome.NONE
