"""Event bodies and Replaces: round trips, strict refusals, and the RFC 3891 matching table.

Proves: sipfrag status lines parse and build (100/180/200/503) and request
lines, bad status lines and header lines are refused; PIDF, dialog-info and
message-summary round-trip through their builders and parse RFC examples;
an XML entity bomb and any DOCTYPE are refused before parsing; malformed
documents raise BodyError with a precise reason; Replaces parses, prints,
escapes into a Refer-To URI and back; match_replaces answers 481/486/603 or
picks the dialog exactly as RFC 3891 §3 says.
"""

from __future__ import annotations

import pytest

from voipkit.sip.bodies import (
    Basic,
    BodyError,
    DialogDirection,
    DialogEntry,
    DialogInfo,
    DialogInfoState,
    DialogPhase,
    MessageCounts,
    MessageSummary,
    Participant,
    Pidf,
    PidfTuple,
    SipFrag,
    build_dialog_info,
    build_message_summary,
    build_pidf,
    build_sipfrag,
    parse_dialog_info,
    parse_message_summary,
    parse_pidf,
    parse_sipfrag,
)
from voipkit.sip.dialog import Dialog, DialogId, DialogState
from voipkit.sip.message import NameAddr
from voipkit.sip.replaces import (
    Replaces,
    ReplacesError,
    escape_header_value,
    match_replaces,
    parse_replaces,
    refer_to_with_replaces,
    replaces_in_uri,
)
from voipkit.sip.uri import SipUri

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:a@b">&lol2;</presence>"""


@pytest.mark.parametrize(("status", "text"), [
    (100, b"SIP/2.0 100 Trying\r\n"), (180, b"SIP/2.0 180 Ringing\r\n"),
    (200, b"SIP/2.0 200 OK\r\n"), (503, b"SIP/2.0 503 Service Unavailable\r\n")])
def test_sipfrag_round_trip(status: int, text: bytes) -> None:
    assert build_sipfrag(status) == text
    frag = parse_sipfrag(text)
    assert frag.status == status and build_sipfrag(frag.status, frag.reason) == text


def test_sipfrag_headers_and_no_trailing_crlf() -> None:
    frag = parse_sipfrag(b"SIP/2.0 486 Busy Here\r\nRetry-After: 30\r\n\r\nignored")
    assert frag == SipFrag(486, "Busy Here", (("Retry-After", "30"),))
    assert parse_sipfrag(b"SIP/2.0 200 OK").is_success


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"), (b"INVITE sip:bob@x SIP/2.0\r\n", "request line"),
    (b"SIP/2.0 99 Odd\r\n", "not 'SIP/2.0"), (b"SIP/2.0 700 Odd\r\n", "not 'SIP/2.0"),
    (b"SIP/2.0 200 OK\r\nno colon here\r\n", "not 'Name: value'"), (b"\xff\xfe", "UTF-8")])
def test_sipfrag_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(BodyError, match=reason):
        parse_sipfrag(data)


def test_pidf_round_trip_and_rfc_example() -> None:
    doc = Pidf("pres:someone@example.com", (
        PidfTuple("bs35r9", Basic.OPEN, "im:someone@mobilecarrier.net", 0.8, ("Busy",)),
        PidfTuple("t2", Basic.CLOSED)), ("Don't Disturb Please!",))
    assert parse_pidf(build_pidf(doc)) == doc
    assert doc.online and doc.note == "Busy"
    example = b"""<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:im="urn:ietf:params:xml:ns:pidf:im"
    entity="pres:someone@example.com">
  <tuple id="sg89ae"><status><basic>closed</basic><im:im>away</im:im></status>
    <contact priority="0.8">tel:+09012345678</contact><timestamp>2001-10-27T16:49:29Z</timestamp>
  </tuple>
</presence>"""
    parsed = parse_pidf(example)
    assert parsed.entity == "pres:someone@example.com" and not parsed.online
    assert parsed.tuples[0] == PidfTuple("sg89ae", Basic.CLOSED, "tel:+09012345678", 0.8, (),
                                         "2001-10-27T16:49:29Z")


@pytest.mark.parametrize(("data", "reason"), [
    (BOMB, "DOCTYPE"), (b'<!ENTITY x "y"><a/>', "ENTITY"), (b"<presence", "well-formed"),
    (b'<presence xmlns="urn:other" entity="x"/>', "root element"),
    (b'<presence xmlns="urn:ietf:params:xml:ns:pidf"/>', "entity"),
    (b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="x"><tuple><status/></tuple>'
     b"</presence>", "no id"),
    (b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="x"><tuple id="a"><status>'
     b"<basic>busy</basic></status></tuple></presence>", "open or closed"),
    (b'<?xml version="1.0" encoding="ISO-8859-1"?><a/>', "only UTF-8")])
def test_pidf_refusals(data: bytes, reason: str) -> None:
    with pytest.raises(BodyError, match=reason):
        parse_pidf(data)


def test_dialog_info_round_trip_and_refusals() -> None:
    doc = DialogInfo(3, DialogInfoState.FULL, "sip:alice@example.com", (
        DialogEntry("d1", DialogPhase.CONFIRMED, "c1", "lt", "rt", DialogDirection.INITIATOR,
                    duration=12, local=Participant("sip:alice@example.com", "Alice"),
                    remote=Participant("sip:bob@example.com", None, "sip:bob@10.0.0.2")),
        DialogEntry("d2", DialogPhase.TERMINATED, event="remote-bye", code=486)))
    assert parse_dialog_info(build_dialog_info(doc)) == doc
    with pytest.raises(BodyError, match="DOCTYPE"):
        parse_dialog_info(BOMB)
    ns = b'xmlns="urn:ietf:params:xml:ns:dialog-info"'
    with pytest.raises(BodyError, match="version"):
        parse_dialog_info(b"<dialog-info " + ns + b' state="full" entity="x"/>')
    with pytest.raises(BodyError, match="full or partial"):
        parse_dialog_info(b"<dialog-info " + ns + b' version="0" state="some" entity="x"/>')
    with pytest.raises(BodyError, match="state 'ringing'"):
        parse_dialog_info(b"<dialog-info " + ns + b' version="0" state="full" entity="x">'
                          b'<dialog id="a"><state>ringing</state></dialog></dialog-info>')


def test_message_summary_rfc_example_and_refusals() -> None:
    text = (b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n"
            b"Voice-Message: 2/8 (0/2)\r\n")
    summary = parse_message_summary(text)
    assert summary == MessageSummary(True, "sip:alice@vmail.example.com",
                                     {"voice-message": MessageCounts(2, 8, 0, 2)})
    assert build_message_summary(summary) == text and summary.fax is None
    fax = parse_message_summary(b"Messages-Waiting: no\r\nFax-Message: 0/1\r\n")
    assert not fax.waiting and fax.fax == MessageCounts(0, 1)
    for bad, reason in [(b"Voice-Message: 1/1\r\n", "not Messages-Waiting"),
                        (b"Messages-Waiting: maybe\r\n", "yes or no"),
                        (b"Messages-Waiting: yes\r\nVoice-Message: x\r\n", "new/old"),
                        (b"Messages-Waiting: yes\r\nSnail-Mail: 1/1\r\n", "no message-context"),
                        (b"Messages-Waiting: yes\r\nVoice-Message: 1/1\r\nVoice-Message: 1/1\r\n",
                         "repeats")]:
        with pytest.raises(BodyError, match=reason):
            parse_message_summary(bad)


def test_replaces_parse_build_escape() -> None:
    header = "425928@bobster.example.org;to-tag=7743;from-tag=6472;early-only"
    replaces = parse_replaces(header)
    assert replaces == Replaces("425928@bobster.example.org", "7743", "6472", True)
    assert str(replaces) == header
    assert escape_header_value("a;b=c@d") == "a%3Bb%3Dc%40d"
    uri = refer_to_with_replaces(SipUri.parse("sip:bob@host"), Replaces("callid", "x", "y"))
    assert str(uri) == "sip:bob@host?Replaces=callid%3Bto-tag%3Dx%3Bfrom-tag%3Dy"
    assert replaces_in_uri(SipUri.parse(str(uri))) == Replaces("callid", "x", "y")
    assert Replaces.for_dialog(DialogId("c", "mine", "theirs")) == Replaces("c", "theirs", "mine")
    for bad, reason in [("c;from-tag=1", "no to-tag"), ("c;to-tag=1", "no from-tag"),
                        ("c;to-tag=1;to-tag=2;from-tag=3", "more than one"),
                        ("c;to-tag=1;from-tag=2;early-only=yes", "no value"),
                        (";to-tag=1", "not a callid")]:
        with pytest.raises(ReplacesError, match=reason):
            parse_replaces(bad)


def _dialog(state: DialogState, *, is_uac: bool) -> Dialog:
    return Dialog(id=DialogId("c", "local", "remote"), state=state,
                  local=NameAddr.parse("<sip:a@x>;tag=local"),
                  remote=NameAddr.parse("<sip:b@y>;tag=remote"), local_seq=1, remote_seq=1,
                  remote_target=SipUri.parse("sip:b@y"), route_set=[], local_target=None,
                  secure=False, is_uac=is_uac)


@pytest.mark.parametrize(("state", "is_uac", "early_only", "status"), [
    (None, True, False, 481),
    (DialogState.TERMINATED, True, False, 603),
    (DialogState.CONFIRMED, True, True, 486),
    (DialogState.CONFIRMED, False, False, None),
    (DialogState.EARLY, True, True, None),
    (DialogState.EARLY, False, False, 481)])
def test_replaces_matching_rule(state: DialogState | None, is_uac: bool, early_only: bool,
                                status: int | None) -> None:
    dialog = _dialog(state, is_uac=is_uac) if state is not None else None
    replaces = Replaces("c", "local", "remote", early_only)
    match = match_replaces(replaces, lambda d: dialog if d == dialog_id_of(dialog) else None)
    assert match.status == status
    assert match.dialog == (None if status is not None else DialogId("c", "local", "remote"))


def dialog_id_of(dialog: Dialog | None) -> DialogId | None:
    return dialog.id if dialog is not None else None


def test_replaces_with_swapped_tags_does_not_match() -> None:
    dialog = _dialog(DialogState.CONFIRMED, is_uac=True)
    match = match_replaces(Replaces("c", "remote", "local"),
                           lambda d: dialog if d == dialog.id else None)
    assert match.status == 481
    not_invite = match_replaces(Replaces("c", "local", "remote"), lambda d: dialog,
                                invite_dialog=lambda d: False)
    assert not_invite.status == 481
