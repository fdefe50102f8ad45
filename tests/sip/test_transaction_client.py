"""Client transactions (RFC 3261 §17.1, RFC 6026 §7.2) driven through UserAgentCore with
plain-float time: exact retransmission schedules for INVITE (Timer A) and non-INVITE
(Timer E) over UDP, none over TCP, Timers B/F at 64*T1, D, K and M, absorption of
retransmitted responses, the ACK built for a non-2xx final response, and failover to
the next destination (new branch) on timeout and on transport errors."""

import pytest

from voipkit.base import SequentialIds
from voipkit.sip.addressing import Destination, TransportKind
from voipkit.sip.errors import LocalProtocolError
from voipkit.sip.events import ResponseReceived, TransactionTimedOut, TransportFailed
from voipkit.sip.message import NameAddr
from voipkit.sip.transaction import State
from voipkit.sip.ua import CoreConfig, UserAgentCore
from voipkit.sip.uri import SipUri
from voipkit.testing import (
    deliver,
    drain_events,
    invite,
    options,
    response_to,
    run_timers,
    sent_request,
)

UDP = TransportKind.UDP
TCP = TransportKind.TCP
BOB = Destination(UDP, "192.0.2.2", 5060)
BOB2 = Destination(UDP, "192.0.2.3", 5060)
BOB_TCP = Destination(TCP, "192.0.2.2", 5060)


def alice() -> UserAgentCore:
    core = UserAgentCore(config=CoreConfig(), ids=SequentialIds("a"))
    core.add_local_address(UDP, "192.0.2.1", 5060)
    core.add_local_address(TCP, "192.0.2.1", 5060)
    return core


def resend_times(core: UserAgentCore) -> list[float]:
    return [at for at, count in run_timers(core) for _ in range(count)]


def test_non_invite_retransmits_until_timer_f() -> None:
    core = alice()
    key = core.send_request(options(), [BOB], now=0.0)
    assert len(core.datagrams_to_send()) == 1
    assert core.get_timer() == 0.5
    resent: list[float] = []
    last = 0.0
    while (deadline := core.get_timer()) is not None:
        core.handle_timer(now=deadline)
        resent += [deadline] * len(core.datagrams_to_send())
        last = deadline
    assert resent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert last == 32.0
    event = core.next_event()
    assert isinstance(event, TransactionTimedOut)
    assert event.transaction == key
    assert event.tried == (BOB,)
    assert core.next_event() is None


def test_invite_retransmits_until_timer_b() -> None:
    core = alice()
    core.send_request(invite(), [BOB], now=0.0)
    core.datagrams_to_send()
    assert resend_times(core) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    (event,) = drain_events(core)
    assert isinstance(event, TransactionTimedOut)


@pytest.mark.parametrize("make", [options, invite])
def test_tcp_sends_once_and_times_out_at_32s(make: object) -> None:
    core = alice()
    request = make()  # type: ignore[operator]
    core.send_request(request, [BOB_TCP], now=0.0)
    (out,) = core.datagrams_to_send()
    assert b"SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-a-1;rport" in out.data
    assert core.get_timer() == 32.0
    assert run_timers(core) == []
    assert isinstance(core.next_event(), TransactionTimedOut)


def test_via_carries_new_branch_per_transaction_and_rport() -> None:
    core = alice()
    core.send_request(options(), [BOB], now=0.0)
    core.send_request(options(call_id="other"), [BOB], now=0.0)
    first, second = (sent_request(o) for o in core.datagrams_to_send())
    assert first.via[0].branch == "z9hG4bK-a-1"
    assert second.via[0].branch == "z9hG4bK-a-2"
    assert first.via[0].has_rport and first.via[0].host == "192.0.2.1"
    assert len(first.via) == 1
    assert first.headers.get("User-Agent") == "voipkit/0.1"


def test_non_invite_provisional_switches_timer_e_to_t2() -> None:
    core = alice()
    core.send_request(options(), [BOB], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    deliver(core, response_to(request, 100), source=BOB, now=0.2)
    assert isinstance(core.next_event(), ResponseReceived)
    # E fires at 0.5 (already scheduled), then every T2 = 4 s, until F at 32
    assert resend_times(core) == [0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]
    assert isinstance(core.next_event(), TransactionTimedOut)


def test_non_invite_final_absorbs_retransmissions_until_timer_k() -> None:
    core = alice()
    key = core.send_request(options(), [BOB], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    ok = response_to(request, 200)
    deliver(core, ok, source=BOB, now=1.0)
    (event,) = drain_events(core)
    assert isinstance(event, ResponseReceived) and event.transaction == key
    assert core.get_timer() == 6.0  # Timer K = T4
    deliver(core, ok, source=BOB, now=2.0)
    assert drain_events(core) == []
    assert core.counters["absorbed_response"] == 1
    core.handle_timer(now=6.0)
    assert core.client_transaction(key) is None
    deliver(core, ok, source=BOB, now=7.0)
    assert core.counters["dropped_stray_response"] == 1
    assert core.get_timer() is None


def test_non_invite_over_tcp_has_no_timer_k() -> None:
    core = alice()
    key = core.send_request(options(), [BOB_TCP], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    deliver(core, response_to(request, 200), source=BOB_TCP, now=1.0)
    assert core.client_transaction(key) is None
    assert core.get_timer() is None


def test_invite_provisional_stops_retransmission_and_timer_b() -> None:
    core = alice()
    key = core.send_request(invite(), [BOB], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    deliver(core, response_to(request, 100), source=BOB, now=0.2)
    tx = core.client_transaction(key)
    assert tx is not None and tx.state is State.PROCEEDING
    assert core.get_timer() is None  # RFC 3261 figure 5: no Timer B in Proceeding


def test_ack_for_non_2xx_is_built_by_the_transaction() -> None:
    core = alice()
    original = invite()
    route = NameAddr(SipUri.parse("sip:proxy.example.com;lr"))
    original.route = [route]
    key = core.send_request(original, [BOB], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    busy = response_to(request, 486, to_tag="bob-tag")
    deliver(core, busy, source=BOB, now=0.3)
    (ack_out,) = core.datagrams_to_send()
    ack = sent_request(ack_out)
    assert ack_out.destination == BOB
    assert ack.method == "ACK"
    assert str(ack.uri) == str(request.uri)
    assert [str(v) for v in ack.via] == [str(request.via[0])]  # same branch, single Via
    assert ack.to.tag == "bob-tag"
    assert ack.from_ == request.from_
    assert ack.call_id == request.call_id
    assert (ack.cseq.seq, ack.cseq.method) == (request.cseq.seq, "ACK")
    assert [str(r) for r in ack.route] == [str(route)]
    (event,) = drain_events(core)
    assert isinstance(event, ResponseReceived) and event.response.status == 486
    # a retransmitted 486 is absorbed, and the ACK is sent again
    deliver(core, busy, source=BOB, now=1.0)
    assert drain_events(core) == []
    assert [sent_request(o).method for o in core.datagrams_to_send()] == ["ACK"]
    # Timer D: 32 s over UDP
    assert core.get_timer() == pytest.approx(32.3)
    core.handle_timer(now=32.3)
    assert core.client_transaction(key) is None


def test_timer_d_is_zero_over_tcp() -> None:
    core = alice()
    key = core.send_request(invite(), [BOB_TCP], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    deliver(core, response_to(request, 603), source=BOB_TCP, now=0.3)
    assert core.client_transaction(key) is None
    assert core.get_timer() is None


def test_accepted_passes_2xx_retransmissions_up_until_timer_m() -> None:
    core = alice()
    key = core.send_request(invite(), [BOB], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    ok = response_to(request, 200, contact="sip:bob@192.0.2.2")
    deliver(core, ok, source=BOB, now=1.0)
    tx = core.client_transaction(key)
    assert tx is not None and tx.state is State.ACCEPTED
    assert core.get_timer() == 33.0  # Timer M = 64*T1
    deliver(core, ok, source=BOB, now=2.0)  # no ACK sent yet: the TU sees it again
    events = drain_events(core)
    assert [type(e) for e in events] == [ResponseReceived, ResponseReceived]
    assert core.dialog_set(key) is not None
    core.handle_timer(now=33.0)
    assert core.client_transaction(key) is None
    assert core.dialog_set(key) is None  # forgotten with the transaction


def test_2xx_retransmission_after_ack_resends_the_ack() -> None:
    core = alice()
    core.send_request(invite(), [BOB], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    ok = response_to(request, 200, contact="sip:bob@192.0.2.2")
    deliver(core, ok, source=BOB, now=1.0)
    (event,) = drain_events(core)
    assert isinstance(event, ResponseReceived) and event.dialog is not None
    dialog = core.dialog(event.dialog)
    assert dialog is not None
    ack = dialog.create_request("ACK", cseq=request.cseq.seq)
    core.send_request(ack, [BOB], now=1.0)
    (first_ack,) = core.datagrams_to_send()
    assert sent_request(first_ack).via[0].branch != request.via[0].branch  # §13.2.2.4
    deliver(core, ok, source=BOB, now=1.5)
    assert drain_events(core) == []
    assert core.datagrams_to_send() == [first_ack]


def test_failover_to_next_target_on_timeout() -> None:
    core = alice()
    key = core.send_request(options(), [BOB, BOB2], now=0.0)
    first = core.datagrams_to_send()[0]
    assert first.destination == BOB
    run_timers(core, until=31.9)
    core.handle_timer(now=32.0)
    (retry,) = core.datagrams_to_send()
    assert retry.destination == BOB2
    assert sent_request(retry).via[0].branch != sent_request(first).via[0].branch
    assert drain_events(core) == []
    # the second target answers: the event carries the original key
    deliver(core, response_to(sent_request(retry), 200), source=BOB2, now=33.0)
    (event,) = drain_events(core)
    assert isinstance(event, ResponseReceived) and event.transaction == key


def test_all_targets_time_out() -> None:
    core = alice()
    key = core.send_request(options(), [BOB, BOB2], now=0.0)
    run_timers(core)
    (event,) = drain_events(core)
    assert isinstance(event, TransactionTimedOut)
    assert event.transaction == key
    assert event.tried == (BOB, BOB2)
    assert core.counters["failover"] == 1


def test_failover_on_transport_error_then_transport_failed() -> None:
    core = alice()
    key = core.send_request(invite(), [BOB, BOB_TCP], now=0.0)
    core.datagrams_to_send()
    core.transport_error(BOB, now=0.1)
    (retry,) = core.datagrams_to_send()
    assert retry.destination == BOB_TCP
    assert b"SIP/2.0/TCP" in retry.data
    assert core.get_timer() == pytest.approx(32.1)
    core.transport_error(BOB_TCP, now=0.2)
    (event,) = drain_events(core)
    assert isinstance(event, TransportFailed)
    assert event.transaction == key
    assert event.tried == (BOB, BOB_TCP)
    assert core.get_timer() is None


def test_send_request_needs_a_local_address_and_a_target() -> None:
    core = UserAgentCore(config=CoreConfig(), ids=SequentialIds("a"))
    with pytest.raises(LocalProtocolError):
        core.send_request(options(), [BOB], now=0.0)
    core.add_local_address(UDP, "192.0.2.1", 5060)
    with pytest.raises(LocalProtocolError):
        core.send_request(options(), [], now=0.0)


def test_cancel_reuses_the_invite_branch_and_destination() -> None:
    core = alice()
    key = core.send_request(invite(), [BOB, BOB2], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    deliver(core, response_to(request, 180), source=BOB, now=0.1)
    core.cancel(key, now=0.2)
    (out,) = core.datagrams_to_send()
    cancel = sent_request(out)
    assert out.destination == BOB
    assert cancel.method == "CANCEL"
    assert cancel.via[0].branch == request.via[0].branch
    assert (cancel.cseq.seq, cancel.cseq.method) == (request.cseq.seq, "CANCEL")
    assert cancel.to.tag is None
    assert str(cancel.uri) == str(request.uri)


def test_cancel_of_a_completed_invite_is_a_local_error() -> None:
    core = alice()
    key = core.send_request(invite(), [BOB], now=0.0)
    request = sent_request(core.datagrams_to_send()[0])
    deliver(core, response_to(request, 486), source=BOB, now=0.1)
    with pytest.raises(LocalProtocolError):
        core.cancel(key, now=0.2)
