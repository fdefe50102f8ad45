"""Server transactions (RFC 3261 §17.2, RFC 6026 §7.1) driven through UserAgentCore:
request retransmissions are absorbed (and the last response resent), Timer G resends a
non-2xx final capped at T2, Timer H gives up at 64*T1, Timer I = T4 after the ACK (0 over
TCP), Timer J = 64*T1 over UDP (0 over TCP), the Accepted state absorbs INVITE
retransmissions until Timer L, the core retransmits its 2xx until the ACK, and the
transition tables raise for local misuse but drop wire inputs they lack."""

import pytest

from voipkit.base import SequentialIds
from voipkit.sip.addressing import Destination, TransportKind
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import AckReceived, AckTimedOut, RequestReceived, TransactionTimedOut
from voipkit.sip.message import Request, Via
from voipkit.sip.transaction import (
    INVITE_CLIENT,
    INVITE_SERVER,
    NON_INVITE_CLIENT,
    NON_INVITE_SERVER,
    Input,
    State,
    step,
)
from voipkit.sip.ua import CoreConfig, UserAgentCore
from voipkit.testing import deliver, drain_events, invite, options, run_timers, sent_response

UDP = TransportKind.UDP
TCP = TransportKind.TCP
ALICE = Destination(UDP, "192.0.2.1", 5060)
ALICE_TCP = Destination(TCP, "192.0.2.1", 40000)


def bob() -> UserAgentCore:
    core = UserAgentCore(config=CoreConfig(auto_options=False), ids=SequentialIds("b"))
    core.add_local_address(UDP, "192.0.2.2", 5060)
    core.add_local_address(TCP, "192.0.2.2", 5060)
    return core


def with_via(request: Request, transport: str = "UDP", branch: str = "z9hG4bK-x1") -> Request:
    request.via = [Via(transport, "192.0.2.1", 5060, {"branch": branch})]
    return request


def received(core: UserAgentCore) -> RequestReceived:
    (event,) = drain_events(core)
    assert isinstance(event, RequestReceived)
    return event


def test_non_invite_absorbs_and_resends_until_timer_j() -> None:
    core = bob()
    request = with_via(options())
    deliver(core, request, source=ALICE, now=0.0)
    event = received(core)
    deliver(core, request, source=ALICE, now=0.4)  # Trying: absorbed, nothing to resend
    assert core.datagrams_to_send() == []
    assert drain_events(core) == []
    core.send_response(core.create_response(event.request, 200), now=1.0)
    (first,) = core.datagrams_to_send()
    assert first.destination == ALICE
    deliver(core, request, source=ALICE, now=2.0)  # Completed: resend the final
    (again,) = core.datagrams_to_send()
    # the same bytes to the same place; the parsed response was shed with the request
    assert (again.destination, again.data, again.message) == (ALICE, first.data, None)
    assert core.counters["absorbed_request"] == 2
    assert core.get_timer() == 33.0  # Timer J = 64*T1 over UDP
    core.handle_timer(now=33.0)
    assert core.server_transaction(event.transaction) is None


def test_a_finished_server_transaction_keeps_only_what_it_resends() -> None:
    """Completed (non-INVITE) and Accepted (INVITE 2xx) drop the parsed messages."""
    core = bob()
    deliver(core, with_via(options()), source=ALICE, now=0.0)
    event = received(core)
    tx = core.server_transaction(event.transaction)
    assert tx is not None and tx.request is event.request and not tx.shed
    core.send_response(core.create_response(event.request, 200), now=1.0)
    assert tx.shed and tx.last_response is None and tx.method == "OPTIONS"
    with pytest.raises(LocalProtocolError, match="final response"):
        tx.request  # noqa: B018 - the property raises
    with pytest.raises(LocalProtocolError, match="COMPLETED"):
        core.send_response(core.create_response(event.request, 200), now=1.5)


def test_non_invite_over_tcp_has_no_timer_j() -> None:
    core = bob()
    deliver(core, with_via(options(), "TCP"), source=ALICE_TCP, now=0.0)
    event = received(core)
    core.send_response(core.create_response(event.request, 200), now=0.1)
    (out,) = core.datagrams_to_send()
    assert out.destination == ALICE_TCP  # back over the connection
    assert core.server_transaction(event.transaction) is None
    assert core.get_timer() is None


def test_invite_sends_100_and_resends_it_for_retransmissions() -> None:
    core = bob()
    request = with_via(invite())
    deliver(core, request, source=ALICE, now=0.0)
    (trying,) = core.datagrams_to_send()
    assert sent_response(trying).status == 100
    assert sent_response(trying).to.tag is None
    received(core)
    deliver(core, request, source=ALICE, now=0.5)
    assert core.datagrams_to_send() == [trying]
    assert drain_events(core) == []


def held_back_trying_core() -> UserAgentCore:
    core = UserAgentCore(config=CoreConfig(auto_options=False, trying_delay=0.2),
                         ids=SequentialIds("b"))
    core.add_local_address(UDP, "192.0.2.2", 5060)
    return core


def test_held_back_100_is_not_sent_when_the_tu_answers_in_time() -> None:
    core = held_back_trying_core()
    deliver(core, with_via(invite()), source=ALICE, now=0.0)
    assert core.datagrams_to_send() == []
    assert core.get_timer() == 0.2
    event = received(core)
    core.send_response(core.create_response(event.request, 180), now=0.15)
    (ringing,) = core.datagrams_to_send()
    assert sent_response(ringing).status == 180
    core.handle_timer(now=0.2)
    assert core.datagrams_to_send() == []


def test_held_back_100_goes_out_at_its_deadline_or_on_a_retransmission() -> None:
    core = held_back_trying_core()
    deliver(core, with_via(invite()), source=ALICE, now=0.0)
    received(core)
    core.handle_timer(now=0.19)
    assert core.datagrams_to_send() == []
    core.handle_timer(now=0.2)
    (trying,) = core.datagrams_to_send()
    assert sent_response(trying).status == 100

    core = held_back_trying_core()
    request = with_via(invite(), branch="z9hG4bK-x2")
    deliver(core, request, source=ALICE, now=0.0)
    received(core)
    deliver(core, request, source=ALICE, now=0.1)  # retransmitted before the deadline
    (trying,) = core.datagrams_to_send()
    assert sent_response(trying).status == 100
    core.handle_timer(now=0.2)
    assert core.datagrams_to_send() == []  # once only


def test_timer_g_resends_final_capped_at_t2_then_timer_h() -> None:
    core = bob()
    deliver(core, with_via(invite()), source=ALICE, now=0.0)
    core.datagrams_to_send()
    event = received(core)
    core.send_response(core.create_response(event.request, 486), now=1.0)
    assert len(core.datagrams_to_send()) == 1
    sends = run_timers(core)
    assert [at for at, _ in sends] == [1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
    (timeout,) = drain_events(core)
    assert isinstance(timeout, TransactionTimedOut)
    assert timeout.transaction == event.transaction
    assert core.server_transaction(event.transaction) is None


def test_ack_confirms_and_timer_i_absorbs_ack_retransmissions() -> None:
    core = bob()
    request = with_via(invite())
    deliver(core, request, source=ALICE, now=0.0)
    core.datagrams_to_send()
    event = received(core)
    final = core.create_response(event.request, 486)
    core.send_response(final, now=1.0)
    core.datagrams_to_send()
    ack = with_via(invite())
    ack.method = "ACK"
    ack.cseq.method = "ACK"
    ack.to = final.to
    deliver(core, ack, source=ALICE, now=1.2)
    tx = core.server_transaction(event.transaction)
    assert tx is not None and tx.state is State.CONFIRMED
    assert core.get_timer() == pytest.approx(6.2)  # Timer I = T4
    deliver(core, ack, source=ALICE, now=2.0)
    assert drain_events(core) == []  # ACKs for non-2xx never reach the TU
    assert core.datagrams_to_send() == []
    core.handle_timer(now=6.2)
    assert core.server_transaction(event.transaction) is None


def test_timer_i_is_zero_over_tcp() -> None:
    core = bob()
    deliver(core, with_via(invite(), "TCP"), source=ALICE_TCP, now=0.0)
    event = received(core)
    final = core.create_response(event.request, 603)
    core.send_response(final, now=0.5)
    assert core.get_timer() == 32.5  # Timer H only; no Timer G over TCP
    ack = with_via(invite(), "TCP")
    ack.method = "ACK"
    ack.cseq.method = "ACK"
    ack.to = final.to
    deliver(core, ack, source=ALICE_TCP, now=0.6)
    assert core.server_transaction(event.transaction) is None


def test_accepted_absorbs_invite_retransmissions_until_timer_l_and_2xx_is_resent() -> None:
    core = bob()
    request = with_via(invite())
    deliver(core, request, source=ALICE, now=0.0)
    core.datagrams_to_send()
    event = received(core)
    core.send_response(core.create_response(event.request, 200), now=0.0)
    assert len(core.datagrams_to_send()) == 1
    tx = core.server_transaction(event.transaction)
    assert tx is not None and tx.state is State.ACCEPTED
    deliver(core, request, source=ALICE, now=0.2)
    assert core.datagrams_to_send() == []  # absorbed, not answered again
    assert drain_events(core) == []
    sends = run_timers(core)
    # the core (TU) retransmits the 2xx at T1, 2T1, 4T1 ... capped at T2 (§13.3.1.4)
    assert [at for at, _ in sends] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    (timeout,) = drain_events(core)
    assert isinstance(timeout, AckTimedOut)
    assert core.server_transaction(event.transaction) is None  # Timer L fired at 32


def test_ack_for_2xx_stops_retransmission() -> None:
    core = bob()
    deliver(core, with_via(invite()), source=ALICE, now=0.0)
    core.datagrams_to_send()
    event = received(core)
    ok = core.create_response(event.request, 200)
    core.send_response(ok, now=0.0)
    core.datagrams_to_send()
    ack = with_via(invite(), branch="z9hG4bK-ack")  # a 2xx ACK has a new branch
    ack.method = "ACK"
    ack.cseq.method = "ACK"
    ack.to = ok.to
    deliver(core, ack, source=ALICE, now=0.7)
    (ack_event,) = drain_events(core)
    assert isinstance(ack_event, AckReceived)
    assert ack_event.dialog is not None and ack_event.dialog.remote_tag == "a1"
    assert run_timers(core, until=31.9) == []
    deliver(core, ack, source=ALICE, now=1.0)  # a retransmitted ACK is absorbed
    assert drain_events(core) == []


def test_second_final_response_is_a_local_error() -> None:
    core = bob()
    deliver(core, with_via(options()), source=ALICE, now=0.0)
    event = received(core)
    core.send_response(core.create_response(event.request, 200), now=0.1)
    with pytest.raises(LocalProtocolError, match="COMPLETED"):
        core.send_response(core.create_response(event.request, 500), now=0.2)


def test_provisional_after_final_is_a_local_error_in_the_table() -> None:
    with pytest.raises(LocalProtocolError, match="INVITE server"):
        step(INVITE_SERVER, State.COMPLETED, Input.SEND_PROVISIONAL)
    with pytest.raises(LocalProtocolError):
        step(NON_INVITE_SERVER, State.COMPLETED, Input.SEND_SUCCESS)


def test_wire_inputs_the_tables_lack_are_dropped() -> None:
    assert step(NON_INVITE_CLIENT, State.COMPLETED, Input.PROVISIONAL) is None
    assert step(INVITE_CLIENT, State.ACCEPTED, Input.FAILURE) is None
    assert step(INVITE_SERVER, State.CONFIRMED, Input.REQUEST) is None
    assert step(INVITE_CLIENT, State.PROCEEDING, Input.TIMER_B) is None


def test_rfc6026_rows_exist() -> None:
    assert step(INVITE_CLIENT, State.PROCEEDING, Input.SUCCESS) is State.ACCEPTED
    assert step(INVITE_CLIENT, State.ACCEPTED, Input.SUCCESS) is State.ACCEPTED
    assert step(INVITE_CLIENT, State.ACCEPTED, Input.TIMER_M) is State.TERMINATED
    assert step(INVITE_SERVER, State.PROCEEDING, Input.SEND_SUCCESS) is State.ACCEPTED
    assert step(INVITE_SERVER, State.ACCEPTED, Input.REQUEST) is State.ACCEPTED
    assert step(INVITE_SERVER, State.ACCEPTED, Input.TIMER_L) is State.TERMINATED
