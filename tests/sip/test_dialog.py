"""Dialogs (RFC 3261 §12): UAC creation from a 1xx with a To tag or a 2xx (route set =
Record-Route reversed, remote target = Contact), UAS creation (route set in order), the
2xx recomputing an early dialog's route set, in-dialog requests with loose and strict
routing (§12.2.1.1), CSeq handling (ACK reuses the INVITE's number; a lower remote CSeq
is a 500, §12.2.2), target refresh, and DialogSet tracking forked early dialogs."""

import pytest

from voipkit.sip.dialog import Dialog, DialogId, DialogSet, DialogState
from voipkit.sip.errors import LocalProtocolError, RemoteProtocolError
from voipkit.sip.message import CSeq, NameAddr, Request
from voipkit.sip.uri import SipUri
from voipkit.testing import invite, response_to


def rr(*uris: str) -> list[NameAddr]:
    return [NameAddr(SipUri.parse(u)) for u in uris]


def contact(uri: str) -> list[NameAddr]:
    return [NameAddr(SipUri.parse(uri))]


def test_uac_dialog_from_180_then_200_recomputes_route_set() -> None:
    request = invite()
    ringing = response_to(request, 180, to_tag="b1", contact="sip:bob@192.0.2.2")
    ringing.record_route = rr("sip:p1.example.com;lr", "sip:p2.example.com;lr")
    dialog = Dialog.as_uac(request, ringing)
    assert dialog.id == DialogId("call-1", "a1", "b1")
    assert dialog.state is DialogState.EARLY
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    assert str(dialog.remote_target) == "sip:bob@192.0.2.2"
    assert dialog.local_seq == 1 and dialog.remote_seq is None
    ok = response_to(request, 200, to_tag="b1", contact="sip:bob@192.0.2.99")
    ok.record_route = rr("sip:p3.example.com;lr")
    dialog.on_response(request, ok)
    assert dialog.state is DialogState.CONFIRMED
    assert [str(r.uri) for r in dialog.route_set] == ["sip:p3.example.com;lr"]
    assert str(dialog.remote_target) == "sip:bob@192.0.2.99"


def test_uac_dialog_needs_a_to_tag() -> None:
    request = invite()
    with pytest.raises(RemoteProtocolError):
        Dialog.as_uac(request, response_to(request, 180, to_tag=None))


def test_uas_dialog_keeps_record_route_order() -> None:
    request = invite()
    request.record_route = rr("sip:p1.example.com;lr", "sip:p2.example.com;lr")
    ok = response_to(request, 200, to_tag="b9")
    dialog = Dialog.as_uas(request, ok)
    assert dialog.id == DialogId("call-1", "b9", "a1")
    assert dialog.state is DialogState.CONFIRMED
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert str(dialog.remote_target) == "sip:alice@127.0.0.1:5060"
    assert dialog.remote_seq == 1 and dialog.local_seq is None
    with pytest.raises(LocalProtocolError):
        Dialog.as_uas(request, response_to(request, 200, to_tag=None))


def confirmed_uac(record_route: list[NameAddr]) -> tuple[Request, Dialog]:
    request = invite()
    ok = response_to(request, 200, to_tag="b1", contact="sip:bob@192.0.2.2")
    ok.record_route = record_route
    return request, Dialog.as_uac(request, ok)


def test_in_dialog_request_without_routes() -> None:
    _, dialog = confirmed_uac([])
    bye = dialog.create_request("BYE")
    assert str(bye.uri) == "sip:bob@192.0.2.2"
    assert bye.route == []
    assert (bye.cseq.seq, bye.cseq.method) == (2, "BYE")
    assert bye.from_.tag == "a1" and bye.to.tag == "b1"
    assert bye.call_id == "call-1"
    assert bye.via == []  # the core adds the Via
    assert dialog.create_request("INFO").cseq.seq == 3


def test_loose_routing() -> None:
    _, dialog = confirmed_uac(rr("sip:p1.example.com;lr", "sip:p2.example.com;lr"))
    bye = dialog.create_request("BYE")
    assert str(bye.uri) == "sip:bob@192.0.2.2"
    assert [str(r.uri) for r in bye.route] == ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    assert str(dialog.next_hop()) == "sip:p2.example.com;lr"


def test_strict_routing() -> None:
    _, dialog = confirmed_uac(rr("sip:p1.example.com;lr", "sip:strict.example.com;maddr=1.2.3.4"))
    bye = dialog.create_request("BYE")
    assert str(bye.uri) == "sip:strict.example.com"  # maddr stripped from the R-URI
    assert [str(r.uri) for r in bye.route] == ["sip:p1.example.com;lr", "sip:bob@192.0.2.2"]


def test_ack_reuses_the_invite_cseq_and_does_not_bump() -> None:
    request, dialog = confirmed_uac([])
    with pytest.raises(LocalProtocolError):
        dialog.create_request("ACK")
    ack = dialog.create_request("ACK", cseq=request.cseq.seq)
    assert (ack.cseq.seq, ack.cseq.method) == (1, "ACK")
    assert ack.contact == []
    assert dialog.create_request("BYE").cseq.seq == 2


def test_uas_first_request_uses_cseq_start() -> None:
    request = invite()
    dialog = Dialog.as_uas(request, response_to(request, 200, to_tag="b1"))
    assert dialog.create_request("BYE", cseq_start=100).cseq.seq == 100
    assert dialog.create_request("INFO").cseq.seq == 101


def test_lower_remote_cseq_is_500_and_target_refresh_moves_target() -> None:
    request = invite(cseq=5)
    dialog = Dialog.as_uas(request, response_to(request, 200, to_tag="b1"))
    reinvite = invite(cseq=6, contact="sip:alice@198.51.100.7")
    dialog.on_request(reinvite)
    assert dialog.remote_seq == 6
    assert str(dialog.remote_target) == "sip:alice@198.51.100.7"
    old = invite(cseq=4)
    old.method = old.cseq.method = "INFO"
    with pytest.raises(RemoteProtocolError) as info:
        dialog.on_request(old)
    assert info.value.status_hint == 500
    assert dialog.remote_seq == 6
    info_req = invite(cseq=7, contact="sip:elsewhere@192.0.2.50")
    info_req.method = info_req.cseq.method = "INFO"
    dialog.on_request(info_req)  # not a target refresh: target unchanged
    assert str(dialog.remote_target) == "sip:alice@198.51.100.7"


def test_2xx_to_reinvite_refreshes_uac_target() -> None:
    _, dialog = confirmed_uac([])
    reinvite = dialog.create_request("INVITE")
    ok = response_to(reinvite, 200, to_tag="b1", contact="sip:bob@203.0.113.5")
    dialog.on_response(reinvite, ok)
    assert str(dialog.remote_target) == "sip:bob@203.0.113.5"


def test_terminated_dialog_refuses_requests() -> None:
    _, dialog = confirmed_uac([])
    dialog.terminate()
    with pytest.raises(LocalProtocolError):
        dialog.create_request("BYE")


def test_dialog_set_tracks_forks() -> None:
    request = invite()
    forks = DialogSet(request)
    assert forks.on_response(response_to(request, 100, to_tag=None)) is None
    x = forks.on_response(response_to(request, 180, to_tag="x", contact="sip:x@192.0.2.10"))
    y = forks.on_response(response_to(request, 183, to_tag="y", contact="sip:y@192.0.2.11"))
    assert x is not None and y is not None and x is not y
    assert {d.id.remote_tag for d in forks.early()} == {"x", "y"}
    answered = forks.on_response(response_to(request, 200, to_tag="y",
                                             contact="sip:y@192.0.2.11"))
    assert answered is y and y.state is DialogState.CONFIRMED
    assert [d.id.remote_tag for d in forks.early()] == ["x"]
    assert forks.confirmed() == [y]
    # a second fork answering creates a second confirmed dialog
    z = forks.on_response(response_to(request, 200, to_tag="z", contact="sip:z@192.0.2.12"))
    assert z is not None and len(forks.confirmed()) == 2


def test_dialog_set_non_2xx_final_ends_early_dialogs() -> None:
    request = invite()
    forks = DialogSet(request)
    early = forks.on_response(response_to(request, 180, to_tag="x"))
    assert early is not None
    assert forks.on_response(response_to(request, 486, to_tag="x")) is None
    assert early.state is DialogState.TERMINATED
    assert forks.early() == []


def test_dialog_ids_of_messages() -> None:
    request = invite()
    assert DialogId.of_received_request(request) is None
    ok = response_to(request, 200, to_tag="b1")
    assert DialogId.of_received_response(ok) == DialogId("call-1", "a1", "b1")
    bye = Request("BYE", SipUri.parse("sip:a@b"), from_=ok.to, to=ok.from_, call_id="call-1",
                  cseq=CSeq(2, "BYE"))
    assert DialogId.of_received_request(bye) == DialogId("call-1", "a1", "b1")
