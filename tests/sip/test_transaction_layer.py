"""Transaction matching (RFC 3261 §17.1.3, §17.2.3): responses by branch and CSeq method,
requests by branch + sent-by + method, the RFC 2543 fallback when the branch lacks the
magic cookie (retransmission, ACK and CANCEL all still match), CANCEL matched to its
INVITE (200 to the CANCEL, 487 to the INVITE) or answered 481, and Via received/rport
stamping with §18.2.2 response routing."""

from voipkit.base import SequentialIds
from voipkit.sip.addressing import Destination, TransportKind
from voipkit.sip.events import CancelReceived, DialogTerminated, RequestReceived
from voipkit.sip.message import Request, Via
from voipkit.sip.transaction import Role, State, has_magic_cookie, response_destination, server_key
from voipkit.sip.ua import CoreConfig, UserAgentCore, stamp_received
from voipkit.testing import deliver, drain_events, invite, options, sent_response

UDP = TransportKind.UDP
ALICE = Destination(UDP, "192.0.2.1", 5060)


def bob() -> UserAgentCore:
    core = UserAgentCore(config=CoreConfig(auto_options=False), ids=SequentialIds("b"))
    core.add_local_address(UDP, "192.0.2.2", 5060)
    return core


def with_via(request: Request, branch: str | None = "z9hG4bK-x1", *,
             host: str = "192.0.2.1", port: int | None = 5060) -> Request:
    params: dict[str, str | None] = {} if branch is None else {"branch": branch}
    request.via = [Via("UDP", host, port, params)]
    return request


def as_method(request: Request, method: str) -> Request:
    request.method = method
    request.cseq.method = method
    return request


def test_server_keys_distinguish_branch_sent_by_and_method() -> None:
    a = server_key(with_via(options()))
    b = server_key(with_via(options(), host="192.0.2.9"))
    c = server_key(with_via(options(), "z9hG4bK-x2"))
    assert a.role is Role.SERVER and a.method == "OPTIONS" and a.sent_by == "192.0.2.1:5060"
    assert len({a, b, c}) == 3
    ack = as_method(with_via(invite()), "ACK")
    assert server_key(ack) == server_key(with_via(invite()))  # ACK folds into INVITE
    cancel = as_method(with_via(invite()), "CANCEL")
    assert server_key(cancel) != server_key(with_via(invite()))
    assert server_key(cancel, method="INVITE") == server_key(with_via(invite()))


def test_magic_cookie_detection() -> None:
    assert has_magic_cookie("z9hG4bK-1")
    assert not has_magic_cookie("1234")
    assert not has_magic_cookie(None)


def test_rfc2543_fallback_matches_retransmission_ack_and_cancel() -> None:
    core = bob()
    old = with_via(invite(), branch=None)
    deliver(core, old, source=ALICE, now=0.0)
    core.datagrams_to_send()
    (event,) = drain_events(core)
    assert isinstance(event, RequestReceived)
    assert event.transaction.branch.startswith("rfc2543|")
    # retransmission: absorbed, 100 resent
    deliver(core, with_via(invite(), branch=None), source=ALICE, now=0.5)
    assert [sent_response(o).status for o in core.datagrams_to_send()] == [100]
    assert drain_events(core) == []
    # CANCEL of the 2543 INVITE finds it
    deliver(core, as_method(with_via(invite(), branch=None), "CANCEL"), source=ALICE, now=0.6)
    statuses = sorted((sent_response(o).cseq.method, sent_response(o).status)
                      for o in core.datagrams_to_send())
    assert statuses == [("CANCEL", 200), ("INVITE", 487)]
    (cancelled,) = drain_events(core)
    assert isinstance(cancelled, CancelReceived) and cancelled.answered_487
    # the ACK for the 487 (To tag from our response) matches the INVITE transaction
    tx = core.server_transaction(event.transaction)
    assert tx is not None and tx.state is State.COMPLETED and tx.last_response is not None
    ack = as_method(with_via(invite(), branch=None), "ACK")
    ack.to = tx.last_response.to
    deliver(core, ack, source=ALICE, now=0.7)
    assert tx.state is State.CONFIRMED
    assert drain_events(core) == []


def test_2543_requests_with_different_cseq_are_different_transactions() -> None:
    core = bob()
    deliver(core, with_via(options(cseq=1), branch="1234"), source=ALICE, now=0.0)
    deliver(core, with_via(options(cseq=2), branch="1234"), source=ALICE, now=0.0)
    events = drain_events(core)
    assert len(events) == 2
    assert all(isinstance(e, RequestReceived) for e in events)


def test_cancel_matching_an_rfc3261_invite() -> None:
    core = bob()
    deliver(core, with_via(invite()), source=ALICE, now=0.0)
    core.datagrams_to_send()
    (event,) = drain_events(core)
    assert isinstance(event, RequestReceived)
    core.send_response(core.create_response(event.request, 180), now=0.1)
    (ringing,) = core.datagrams_to_send()
    deliver(core, as_method(with_via(invite()), "CANCEL"), source=ALICE, now=0.2)
    ok, terminated = (sent_response(o) for o in core.datagrams_to_send())
    assert (ok.status, ok.cseq.method) == (200, "CANCEL")
    assert (terminated.status, terminated.cseq.method) == (487, "INVITE")
    assert terminated.to.tag == sent_response(ringing).to.tag  # same tag as the 180
    ended, cancelled = drain_events(core)
    assert isinstance(ended, DialogTerminated)  # the 180 had created an early dialog
    assert ended.reason == "final response 487"
    assert isinstance(cancelled, CancelReceived)
    assert cancelled.invite_transaction == event.transaction


def test_cancel_after_final_response_gets_200_but_no_487() -> None:
    core = bob()
    deliver(core, with_via(invite()), source=ALICE, now=0.0)
    (event,) = drain_events(core)
    assert isinstance(event, RequestReceived)
    core.send_response(core.create_response(event.request, 486), now=0.1)
    core.datagrams_to_send()
    deliver(core, as_method(with_via(invite()), "CANCEL"), source=ALICE, now=0.2)
    (ok,) = (sent_response(o) for o in core.datagrams_to_send())
    assert (ok.status, ok.cseq.method) == (200, "CANCEL")
    (cancelled,) = drain_events(core)
    assert isinstance(cancelled, CancelReceived) and not cancelled.answered_487


def test_cancel_without_invite_gets_481() -> None:
    core = bob()
    deliver(core, as_method(with_via(invite()), "CANCEL"), source=ALICE, now=0.0)
    (out,) = core.datagrams_to_send()
    assert sent_response(out).status == 481
    assert drain_events(core) == []


def test_received_and_rport_stamping() -> None:
    via = Via("UDP", "alice.example.com", 5060, {"branch": "z9hG4bK-1"})
    stamp_received(via, ("192.0.2.1", 5060))
    assert via.received == "192.0.2.1" and not via.has_rport
    via = Via("UDP", "192.0.2.1", 5060, {"branch": "z9hG4bK-1"})
    stamp_received(via, ("192.0.2.1", 5060))
    assert via.received is None  # same address: nothing to add
    via = Via("UDP", "10.0.0.5", 5060, {"branch": "z9hG4bK-1", "rport": None})
    stamp_received(via, ("203.0.113.7", 40123))
    assert (via.received, via.rport) == ("203.0.113.7", 40123)


def test_response_destination_rules() -> None:
    nat = Via("UDP", "10.0.0.5", 5060, {"rport": "40123", "received": "203.0.113.7"})
    assert response_destination(nat, ("203.0.113.7", 40123), UDP) == Destination(
        UDP, "203.0.113.7", 40123)
    plain = Via("UDP", "10.0.0.5", 5070, {"received": "203.0.113.7"})
    assert response_destination(plain, ("203.0.113.7", 999), UDP) == Destination(
        UDP, "203.0.113.7", 5070)
    direct = Via("UDP", "192.0.2.1", None, {})
    assert response_destination(direct, ("192.0.2.1", 999), UDP) == Destination(
        UDP, "192.0.2.1", 5060)
    maddr = Via("UDP", "192.0.2.1", 5062, {"maddr": "239.1.1.1"})
    assert response_destination(maddr, ("192.0.2.1", 999), UDP) == Destination(
        UDP, "239.1.1.1", 5062)
    tcp = Via("TCP", "10.0.0.5", 5060, {})
    assert response_destination(tcp, ("203.0.113.7", 40123), TransportKind.TCP) == Destination(
        TransportKind.TCP, "203.0.113.7", 40123)


def test_response_goes_to_rport_source_through_nat() -> None:
    core = bob()
    request = options()
    request.via = [Via("UDP", "10.0.0.5", 5060, {"branch": "z9hG4bK-n1", "rport": None})]
    deliver(core, request, source=Destination(UDP, "203.0.113.7", 40123), now=0.0)
    (event,) = drain_events(core)
    assert isinstance(event, RequestReceived)
    assert event.request.via[0].received == "203.0.113.7"
    core.send_response(core.create_response(event.request, 200), now=0.1)
    (out,) = core.datagrams_to_send()
    assert out.destination == Destination(UDP, "203.0.113.7", 40123)
    assert b"rport=40123" in out.data and b"received=203.0.113.7" in out.data
