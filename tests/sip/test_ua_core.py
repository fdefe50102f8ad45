"""UserAgentCore as a whole, without sockets: malformed requests are answered (400 with a
reason built from the parse error, 505, 416) or dropped and counted (garbage, oversize,
keep-alives), validation failures get 405/501 with Allow and 420 with Unsupported,
requests for unknown dialogs get 481 and out-of-order in-dialog requests 500, OPTIONS is
answered automatically, and two cores complete OPTIONS and INVITE/200/ACK/BYE exchanges
over an InMemoryNetwork that loses, delays and reorders packets."""

import pytest

from voipkit.base import SequentialIds
from voipkit.sip.addressing import Destination, TransportKind
from voipkit.sip.dialog import DialogState
from voipkit.sip.events import (
    AckReceived,
    DialogTerminated,
    RequestReceived,
    ResponseReceived,
)
from voipkit.sip.message import Request, Via
from voipkit.sip.salvage import salvage
from voipkit.sip.ua import CoreConfig, UserAgentCore
from voipkit.testing import (
    FakeClock,
    deliver,
    drain_events,
    invite,
    is_request,
    is_response,
    options,
    sent_response,
    uac_and_uas,
)

UDP = TransportKind.UDP
ALICE = Destination(UDP, "192.0.2.1", 5060)


def bob(**config: object) -> UserAgentCore:
    core = UserAgentCore(config=CoreConfig(**config), ids=SequentialIds("b"))  # type: ignore[arg-type]
    core.add_local_address(UDP, "192.0.2.2", 5060)
    return core


def raw(method: str, *, cseq: str | None = None, extra: str = "", start: str | None = None,
        via: str = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r1;rport") -> bytes:
    lines = [
        start or f"{method} sip:bob@192.0.2.2 SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        "From: <sip:alice@example.com>;tag=a1",
        "To: <sip:bob@example.com>",
        "Call-ID: raw-1",
        f"CSeq: {cseq or '1 ' + method}",
    ]
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def only_response(core: UserAgentCore) -> tuple[Destination, int, str, bytes]:
    (out,) = core.datagrams_to_send()
    response = sent_response(out)
    return out.destination, response.status, response.reason, out.data


def with_via(request: Request, branch: str = "z9hG4bK-x1") -> Request:
    request.via = [Via("UDP", "192.0.2.1", 5060, {"branch": branch})]
    return request


# --- malformed input ---------------------------------------------------------------------

def test_bad_cseq_gets_400_with_the_parse_error_as_reason() -> None:
    core = bob()
    core.receive(raw("REGISTER", cseq="1 INVITE"), ("198.51.100.9", 40000), UDP, now=0.0)
    destination, status, reason, data = only_response(core)
    assert status == 400
    assert reason == ("CSeq method INVITE does not match request method REGISTER "
                      "(RFC 3261 §8.1.1.5)")
    assert destination == Destination(UDP, "198.51.100.9", 40000)  # rport: the source
    assert b"received=198.51.100.9" in data and b"rport=40000" in data
    assert b"CSeq: 1 INVITE" in data  # copied as sent
    assert b"To: <sip:bob@example.com>;tag=b-tag-1" in data
    assert drain_events(core) == []
    assert core.counters["answered_malformed_400"] == 1


def test_unsupported_sip_version_gets_505() -> None:
    core = bob()
    core.receive(raw("OPTIONS", start="OPTIONS sip:bob@192.0.2.2 SIP/3.0"), ALICE.address, UDP,
                 now=0.0)
    assert only_response(core)[1] == 505


def test_unsupported_uri_scheme_gets_416() -> None:
    core = bob()
    core.receive(raw("OPTIONS", start="OPTIONS mailto:bob@example.com SIP/2.0"), ALICE.address,
                 UDP, now=0.0)
    assert only_response(core)[1] == 416


@pytest.mark.parametrize("data", [
    b"\x00\x01garbage\r\n\r\n",
    b"hello world",
    b"SIP/2.0 99 Bad\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK-1\r\n\r\n",
])
def test_unanswerable_input_is_dropped_and_counted(data: bytes) -> None:
    core = bob()
    core.receive(data, ALICE.address, UDP, now=0.0)
    assert core.datagrams_to_send() == []
    assert drain_events(core) == []
    assert core.counters["dropped_garbage"] + core.counters["dropped_bad_response"] == 1


@pytest.mark.parametrize("data", [
    raw("OPTIONS", via="not a via"),
    raw("OPTIONS", cseq="x OPTIONS"),
])
def test_unparsable_via_or_cseq_still_gets_400_at_the_source(data: bytes) -> None:
    # RFC 4475 §3.1.2.1 (badinv01) expects a 400 even when the Via is unusable;
    # the response copies the values as sent and goes back to the packet's source.
    core = bob()
    core.receive(data, ALICE.address, UDP, now=0.0)
    (out,) = core.datagrams_to_send()
    assert out.data.startswith(b"SIP/2.0 400 ")
    assert out.destination == Destination(UDP, *ALICE.address) or b"x OPTIONS" in out.data
    assert drain_events(core) == []


def test_malformed_ack_is_never_answered() -> None:
    core = bob()
    core.receive(raw("ACK", cseq="1 INVITE"), ALICE.address, UDP, now=0.0)
    assert core.datagrams_to_send() == []
    assert core.counters["dropped_bad_ack"] == 1


def test_oversize_and_keepalive() -> None:
    core = bob()
    core.receive(b"x" * 65536, ALICE.address, UDP, now=0.0)
    core.receive(b"\r\n\r\n", ALICE.address, UDP, now=0.0)
    assert core.datagrams_to_send() == []
    assert core.counters["dropped_oversize"] == 1
    assert core.counters["keepalive"] == 1


def test_salvage_needs_a_request_line_and_a_via() -> None:
    assert salvage(raw("OPTIONS")) is not None
    no_via = b"\r\n".join(line for line in raw("OPTIONS").split(b"\r\n")
                           if not line.startswith(b"Via:"))
    assert salvage(no_via) is None
    assert salvage(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n") is None
    assert salvage(b"\x00\x01 garbage\r\n\r\n") is None


def test_unparsable_headers_are_copied_verbatim_into_the_400() -> None:
    core = bob()
    bad = raw("OPTIONS").replace(b"From: ", b'From: "unbalanced <sip:x@y>;tag=f1\r\nX-Was: ')
    core.receive(bad, ALICE.address, UDP, now=0.0)
    (out,) = core.datagrams_to_send()
    assert out.data.startswith(b"SIP/2.0 400 ")
    assert b'From: "unbalanced <sip:x@y>;tag=f1\r\n' in out.data
    assert b"Call-ID: raw-1\r\n" in out.data
    assert out.data.split(b"\r\n")[1].endswith(b";rport=5060;received=192.0.2.1")  # RFC 3581
    assert out.destination.address == ALICE.address


# --- validation -----------------------------------------------------------------------------

def test_unknown_require_gets_420_with_unsupported() -> None:
    core = bob()
    core.receive(raw("INVITE", extra="Require: 100rel, foo"), ALICE.address, UDP, now=0.0)
    _, status, _, data = only_response(core)
    assert status == 420
    assert b"Unsupported: 100rel, foo" in data
    assert drain_events(core) == []


def test_supported_require_passes() -> None:
    core = bob(supported=frozenset({"100rel"}))
    core.receive(raw("INVITE", extra="Require: 100rel"), ALICE.address, UDP, now=0.0)
    assert only_response(core)[1] == 100
    assert isinstance(core.next_event(), RequestReceived)


def test_disallowed_method_gets_405_and_unknown_method_501_with_allow() -> None:
    core = bob(allow=("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"))
    core.receive(raw("MESSAGE"), ALICE.address, UDP, now=0.0)
    _, status, _, data = only_response(core)
    assert status == 405
    assert b"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS" in data
    core.receive(raw("FOO", via="SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r2"), ALICE.address,
                 UDP, now=0.0)
    _, status, _, data = only_response(core)
    assert status == 501
    assert b"Allow: " in data


def test_bye_for_unknown_dialog_gets_481() -> None:
    core = bob()
    core.receive(raw("BYE"), ALICE.address, UDP, now=0.0)  # no To tag at all
    assert only_response(core)[1] == 481
    bye = raw("BYE", via="SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r2").replace(
        b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=nope")
    core.receive(bye, ALICE.address, UDP, now=0.0)
    assert only_response(core)[1] == 481
    assert drain_events(core) == []


def test_options_answered_automatically() -> None:
    core = bob(supported=frozenset({"replaces", "timer"}))
    deliver(core, with_via(options()), source=ALICE, now=0.0)
    _, status, _, data = only_response(core)
    assert status == 200
    assert b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS" in data
    assert b"Accept: application/sdp" in data
    assert b"Supported: replaces, timer" in data
    assert drain_events(core) == []


def test_options_reaches_the_application_when_not_automatic() -> None:
    core = bob(auto_options=False)
    deliver(core, with_via(options()), source=ALICE, now=0.0)
    assert core.datagrams_to_send() == []
    assert isinstance(core.next_event(), RequestReceived)


def test_send_response_without_transaction_is_a_local_error() -> None:
    from voipkit.sip.errors import LocalProtocolError
    from voipkit.testing import response_to

    core = bob()
    with pytest.raises(LocalProtocolError):
        core.send_response(response_to(with_via(options()), 200), now=0.0)


# --- two cores on an in-memory network --------------------------------------------------

def test_options_exchange_survives_a_lost_request() -> None:
    p = uac_and_uas()
    p.network.drop(is_request("OPTIONS"))
    key = p.alice.send_request(options(), [p.bob_addr], now=0.0)
    p.network.run(until=1.0)
    assert p.network.describe_delivered() == ["OPTIONS", "200 OPTIONS"]
    assert p.network.delivered[0].sent_at == 0.5  # the retransmission (Timer E)
    (event,) = drain_events(p.alice)
    assert isinstance(event, ResponseReceived)
    assert event.transaction == key and event.response.status == 200
    p.network.run(until=60.0)  # Timers K and J run out; nothing else happens
    assert drain_events(p.alice) == [] and p.alice.get_timer() is None
    assert p.bob.get_timer() is None


def test_invite_200_ack_bye_with_loss_and_reorder() -> None:
    p = uac_and_uas()
    net = p.network
    net.drop(is_request("INVITE"))  # first INVITE lost: Timer A resends it at 0.5
    call = p.alice.send_request(invite(contact="sip:alice@127.0.0.1:5060"), [p.bob_addr],
                                now=0.0)
    net.run(until=0.6)
    (incoming,) = drain_events(p.bob)
    assert isinstance(incoming, RequestReceived) and incoming.request.method == "INVITE"

    # bob rings, then answers; the 180 is held so it arrives after the 200 (reordered),
    # and the first 200 is lost: the core retransmits it (RFC 3261 §13.3.1.4)
    net.hold(is_response(180), 1.0)
    net.drop(is_response(200, "INVITE"))
    contact = p.bob.create_response(incoming.request, 180)
    p.bob.send_response(contact, now=net.now)
    ok = p.bob.create_response(incoming.request, 200)
    ok.contact = list(invite(contact="sip:bob@127.0.0.2:5060").contact)
    p.bob.send_response(ok, now=net.now)
    net.run(until=2.0)
    answered = [e for e in drain_events(p.alice) if isinstance(e, ResponseReceived)]
    assert [e.response.status for e in answered] == [100, 200]  # late 180 dropped
    assert p.alice.counters["dropped_unexpected_response"] == 1
    dialog_id = answered[-1].dialog
    assert dialog_id is not None and answered[-1].transaction == call
    dialog = p.alice.dialog(dialog_id)
    assert dialog is not None and dialog.state is DialogState.CONFIRMED
    assert str(dialog.remote_target) == "sip:bob@127.0.0.2:5060"

    # ACK for the 2xx, sent by the dialog user; bob's retransmissions stop
    ack = dialog.create_request("ACK", cseq=1)
    p.alice.send_request(ack, [p.bob_addr], now=net.now)
    net.run(until=2.5)
    (acked,) = drain_events(p.bob)
    assert isinstance(acked, AckReceived)
    bob_dialog = p.bob.dialog(acked.dialog) if acked.dialog else None
    assert bob_dialog is not None and bob_dialog.state is DialogState.CONFIRMED

    # BYE, first copy lost; Timer E resends it
    net.drop(is_request("BYE"))
    bye_key = p.alice.send_request(dialog.create_request("BYE"), [p.bob_addr], now=net.now)
    net.run(until=3.5)
    (bye,) = drain_events(p.bob)
    assert isinstance(bye, RequestReceived) and bye.dialog == acked.dialog
    p.bob.send_response(p.bob.create_response(bye.request, 200), now=net.now)
    net.run(until=4.0)
    ended, bye_done = drain_events(p.alice)
    assert isinstance(ended, DialogTerminated) and ended.reason == "bye"
    assert isinstance(bye_done, ResponseReceived)
    assert (bye_done.transaction, bye_done.response.status) == (bye_key, 200)
    assert [type(e) for e in drain_events(p.bob)] == [DialogTerminated]
    assert p.alice.dialogs == {} and p.bob.dialogs == {}

    # the network goes quiet: every timer runs out without further events
    net.run(until=100.0)
    assert drain_events(p.alice) == [] and drain_events(p.bob) == []
    assert p.alice.get_timer() is None and p.bob.get_timer() is None


def test_in_dialog_request_with_lower_cseq_gets_500() -> None:
    p = uac_and_uas()
    net = p.network
    p.alice.send_request(invite(), [p.bob_addr], now=0.0)
    net.run(until=0.1)
    (incoming,) = drain_events(p.bob)
    assert isinstance(incoming, RequestReceived)
    p.bob.send_response(p.bob.create_response(incoming.request, 200), now=net.now)
    net.run(until=0.2)
    trying, answered = drain_events(p.alice)
    assert isinstance(trying, ResponseReceived) and trying.response.status == 100
    assert isinstance(answered, ResponseReceived) and answered.dialog is not None
    dialog = p.alice.dialog(answered.dialog)
    assert dialog is not None
    p.alice.send_request(dialog.create_request("ACK", cseq=1), [p.bob_addr], now=net.now)
    info = dialog.create_request("INFO", cseq=5)
    p.alice.send_request(info, [p.bob_addr], now=net.now)
    stale = dialog.create_request("INFO", cseq=3)
    p.alice.send_request(stale, [p.bob_addr], now=net.now)
    net.run(until=0.3)
    received = [e for e in drain_events(p.bob) if isinstance(e, RequestReceived)]
    assert [e.request.cseq.seq for e in received] == [5]
    statuses = [e.response.status for e in drain_events(p.alice)
                if isinstance(e, ResponseReceived)]
    assert statuses == [500]


def test_tcp_exchange_has_no_retransmissions() -> None:
    p = uac_and_uas(transport=TransportKind.TCP, latency=0.05)
    p.alice.send_request(options(), [p.bob_addr], now=0.0)
    net_end = p.network.run(until=40.0)
    assert net_end == 40.0
    assert p.network.describe_delivered() == ["OPTIONS", "200 OPTIONS"]
    assert p.network.delivered[1].sent_at == pytest.approx(0.05)


def test_fake_clock() -> None:
    clock = FakeClock()
    assert clock.now() == 0.0
    assert clock.advance(1.5) == 1.5
    clock.set(2.0)
    assert clock.now() == 2.0
    with pytest.raises(ValueError):
        clock.set(1.0)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_network_settle_and_unknown_destination() -> None:
    p = uac_and_uas(latency=0.25)
    nowhere = Destination(UDP, "203.0.113.99", 5060)
    p.alice.send_request(options(call_id="lost"), [nowhere], now=0.0)
    p.alice.send_request(options(), [p.bob_addr], now=0.0)
    # OPTIONS lands at 0.25 and the 200 at 0.5, when Timer E resends the unanswered
    # OPTIONS; settling delivers that one too (to nobody) at 0.75
    assert p.network.settle() == 0.75
    assert p.network.describe_delivered() == ["OPTIONS", "200 OPTIONS"]
    assert [(pk.destination, pk.sent_at) for pk in p.network.dropped] == [
        (nowhere, 0.0), (nowhere, 0.5)]
    assert p.alice.get_timer() == 1.5  # the next Timer E of the unanswered request
