"""RFC 4475 torture messages: every one of the 49 behaves as tests/data/rfc4475/manifest.json says.

Proves, per file, that valid messages parse (to specific values for many of them) and
round-trip through ``bytes()``, and that each message the RFC wants rejected is rejected by
``parse_message`` or ``validate_request`` with a status in the manifest's
``acceptable_status_codes``. Where the RFC tolerates liberal acceptance and we accept, the
``LIBERAL`` table says so. Also proves the unreferenced ``test.dat`` is handled without a crash.

Only the project copy under tests/data/rfc4475 is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from voipkit.sip import (
    AbsoluteUri,
    BadExtensionError,
    ParseError,
    Request,
    Response,
    SipUri,
    parse_message,
)
from voipkit.sip.uri import unescape
from voipkit.sip.validate import validate_request

DATA = Path(__file__).resolve().parent.parent / "data" / "rfc4475"
MANIFEST: dict[str, Any] = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
MESSAGES: list[dict[str, Any]] = MANIFEST["messages"]
BY_NAME = {entry["name"]: entry for entry in MESSAGES}

SUPPORTED = frozenset({"replaces", "100rel", "timer"})
ALLOWED = frozenset(
    {
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "REGISTER",
        "MESSAGE",
        "INFO",
        "UPDATE",
        "REFER",
        "NOTIFY",
        "SUBSCRIBE",
        "PRACK",
    }
)

#: Invalid messages the RFC lets an element accept, and that we do accept: Date is never
#: interpreted by the SIP core, so a non-GMT Date is kept verbatim instead of rejected.
LIBERAL = {"baddate"}

#: Messages whose expected response depends on application policy this layer cannot see
#: (media types, Accept, authentication, registrar or proxy role): they must parse and pass
#: validate_request, leaving the decision to the application.
APPLICATION_DECIDES = {"invut", "sdp01", "regaut01", "zeromf", "cparam01", "cparam02", "regescrt"}


def load(name: str) -> bytes:
    return (DATA / BY_NAME[name]["file"]).read_bytes()


def outcome(data: bytes) -> int | None:
    """The status this stack answers with (or drops with), None when it accepts."""
    try:
        msg = parse_message(data)
        if isinstance(msg, Request):
            validate_request(msg, supported=SUPPORTED, allowed_methods=ALLOWED)
    except ParseError as exc:
        return exc.status_hint
    return None


def test_manifest_lists_49_messages_and_files_are_byte_exact() -> None:
    assert MANIFEST["message_count"] == 49 == len(MESSAGES)
    for entry in [*MESSAGES, *MANIFEST["unreferenced"]]:
        data = (DATA / entry["file"]).read_bytes()
        assert len(data) == entry["size_bytes"], entry["file"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]


@pytest.mark.parametrize("entry", MESSAGES, ids=[e["name"] for e in MESSAGES])
def test_message_behaves_as_manifest_says(entry: dict[str, Any]) -> None:
    name = entry["name"]
    data = (DATA / entry["file"]).read_bytes()
    status = outcome(data)
    acceptable = entry["acceptable_status_codes"]
    if status is None:
        # accepted: fine when the RFC expects acceptance, tolerates it, or leaves it to policy
        assert (
            entry["category"] in {"valid", "valid-but-semantically-odd"}
            or name in APPLICATION_DECIDES
            or name in LIBERAL
            or (acceptable is None and entry["category"] != "invalid")
        ), name
        if name in LIBERAL:
            assert entry["rfc_allows_liberal_acceptance"] is True
        msg = parse_message(data)
        assert parse_message(bytes(msg)) == msg
        if acceptable is None:
            return
        # the manifest names a response; ours must be one the application will choose
        assert name in APPLICATION_DECIDES or name in LIBERAL or entry["category"] == "valid"
    elif acceptable is None:
        # responses the RFC says to discard: a ParseError is how the core drops them
        assert entry["message_kind"] == "response", name
        assert entry["expected_uas"].startswith("ignore/discard")
    else:
        assert status in acceptable, (name, status, acceptable)


@pytest.mark.parametrize(
    "entry",
    [e for e in MESSAGES if e["category"] == "valid"],
    ids=[e["name"] for e in MESSAGES if e["category"] == "valid"],
)
def test_every_valid_message_parses_and_round_trips(entry: dict[str, Any]) -> None:
    data = (DATA / entry["file"]).read_bytes()
    msg = parse_message(data)
    if entry["message_kind"] == "request":
        assert isinstance(msg, Request)
        assert msg.method == entry["method"]
    else:
        assert isinstance(msg, Response)
        assert msg.status == int(entry["status_code"])
    again = parse_message(bytes(msg))
    assert again == msg
    assert bytes(again) == bytes(msg)


def test_unreferenced_test_dat_is_rejected_without_crashing() -> None:
    data = (DATA / "unreferenced" / "test.dat").read_bytes()
    with pytest.raises(ParseError) as info:
        parse_message(data)
    assert info.value.status_hint == 400
    assert "SIP-Version" in info.value.reason


# --- specific values, message by message -------------------------------------------------


def test_wsinv_values() -> None:
    msg = parse_message(load("wsinv"))
    assert isinstance(msg, Request)
    assert isinstance(msg.uri, SipUri)
    assert msg.uri.params == {"unknownparam": None}
    assert msg.to.uri == SipUri(user="vivekg", host="chair-dnrc.example.com")
    assert msg.to.tag == "1918181833n"
    assert msg.from_.display_name == 'J Rosenberg \\"'
    assert msg.from_.tag == "98asjd8"
    assert msg.max_forwards == 68
    assert msg.cseq.seq == 9 and msg.cseq.method == "INVITE"
    assert [(v.transport, v.host, v.branch) for v in msg.via] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.headers.get("Subject") == ""
    assert msg.headers.get("newfangledheader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert msg.route[0].uri.params == {  # type: ignore[union-attr]
        "lr": None,
        "unknownwith": "value",
        "unknown-no-value": None,
    }
    assert msg.contact[0].display_name == 'Quoted string ""'
    assert msg.contact[0].params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert msg.content_type == "application/sdp"
    assert len(msg.body) == 150


def test_intmeth_values() -> None:
    msg = parse_message(load("intmeth"))
    assert isinstance(msg, Request)
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert isinstance(msg.uri, SipUri)
    assert msg.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert msg.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert msg.uri.host == "example.com"
    assert msg.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.from_.params["fromparam''~+*_!.-%"] == '"работающий"'
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.via[0].branch == "z9hG4bK-.!%66*_+`'~"
    assert msg.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    # the NUL survives serialization as a quoted-pair
    assert b"\\\x00" in bytes(msg)


def test_intmeth_and_esc02_are_unknown_methods_501() -> None:
    for name in ("intmeth", "esc02"):
        msg = parse_message(load(name))
        assert isinstance(msg, Request)
        with pytest.raises(ParseError) as info:
            validate_request(msg, supported=SUPPORTED, allowed_methods=ALLOWED)
        assert info.value.status_hint == 501


def test_esc01_escapes_are_kept_and_decoded_once() -> None:
    msg = parse_message(load("esc01"))
    assert isinstance(msg, Request) and isinstance(msg.uri, SipUri)
    assert msg.uri.user == "sips%3Auser%40example.com"
    assert unescape(msg.uri.user) == "sips:user@example.com"
    assert msg.uri.host == "example.net"
    assert isinstance(msg.to.uri, SipUri) and unescape(msg.to.uri.user or "") == "user"
    assert isinstance(msg.from_.uri, SipUri)
    assert unescape(msg.from_.uri.user or "") == "I have spaces"
    contact = msg.contact[0].uri
    assert isinstance(contact, SipUri)
    assert contact.params == {"%6c%72": None, "n%61me": "v%61lue%25%34%31"}
    assert unescape("v%61lue%25%34%31") == "value%41"  # never recursive
    assert str(msg.uri) == "sip:sips%3Auser%40example.com@example.net"


def test_escnull_keeps_two_distinct_contacts() -> None:
    msg = parse_message(load("escnull"))
    assert isinstance(msg.to.uri, SipUri)
    assert unescape(msg.to.uri.user or "") == "null-\x00-null"
    users = [c.uri.user for c in msg.contact]  # type: ignore[union-attr]
    assert users == ["%00", "%00%00"]


def test_esc02_percent_is_not_an_escape_in_method_and_header_names() -> None:
    msg = parse_message(load("esc02"))
    assert isinstance(msg, Request)
    assert msg.method == "RE%47IST%45R" and msg.cseq.method == "RE%47IST%45R"
    assert msg.to.display_name == "%Z%45"
    assert [str(c.uri) for c in msg.contact] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert msg.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert msg.via[0].branch == "z9hG4bK209%fzsnel234"


def test_lwsdisp_token_display_name_before_angle() -> None:
    msg = parse_message(load("lwsdisp"))
    assert msg.from_.display_name == "caller"
    assert msg.from_.tag == "323"


def test_longreq_has_34_vias_and_long_values() -> None:
    msg = parse_message(load("longreq"))
    assert len(msg.via) == 34
    assert msg.call_id.startswith("longreq.onereallyreally")
    assert len(msg.to.display_name or "") > 100


def test_dblreq_trailing_octets_are_discarded() -> None:
    data = load("dblreq")
    msg = parse_message(data)
    assert isinstance(msg, Request) and msg.method == "REGISTER"
    assert msg.body == b""
    assert b"INVITE" not in bytes(msg)


def test_semiuri_user_contains_semicolon() -> None:
    msg = parse_message(load("semiuri"))
    assert isinstance(msg, Request) and isinstance(msg.uri, SipUri)
    assert msg.uri.user == "user;par=u%40example.net"
    assert unescape(msg.uri.user) == "user;par=u@example.net"
    assert msg.uri.params == {}
    assert msg.headers.getall("Accept") == [
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    ]


def test_transports_keeps_unknown_transport_tokens() -> None:
    msg = parse_message(load("transports"))
    assert [v.transport for v in msg.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_binary_body_framed_by_content_length() -> None:
    msg = parse_message(load("mpart01"))
    assert len(msg.body) == 553
    assert b"\x00" in msg.body
    assert msg.content_type is not None and msg.content_type.startswith("multipart/mixed")


def test_unreason_and_noreason_reason_phrases() -> None:
    ok = parse_message(load("unreason"))
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.reason.startswith("= 2**3 * 5**2 \u043d\u043e")
    trying = parse_message(load("noreason"))
    assert isinstance(trying, Response) and trying.status == 100 and trying.reason == ""


def test_cparam01_param_belongs_to_the_contact_not_the_uri() -> None:
    contact = parse_message(load("cparam01")).contact[0]
    assert contact.params == {"unknownparam": None}
    assert isinstance(contact.uri, SipUri) and contact.uri.params == {}
    assert str(contact) == "<sip:+19725552222@gw1.example.net>;unknownparam"


def test_cparam02_param_belongs_to_the_uri() -> None:
    contact = parse_message(load("cparam02")).contact[0]
    assert contact.params == {}
    assert isinstance(contact.uri, SipUri) and contact.uri.params == {"unknownparam": None}


def test_regescrt_contact_keeps_escaped_route_header() -> None:
    contact = parse_message(load("regescrt")).contact[0]
    assert isinstance(contact.uri, SipUri)
    assert contact.uri.headers == {"Route": "%3Csip:sip.example.com%3E"}
    assert str(contact.uri) == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def test_unksm2_non_sip_uris_parse_and_registrar_rejects() -> None:
    msg = parse_message(load("unksm2"))
    assert isinstance(msg, Request)
    assert msg.to.uri == AbsoluteUri("isbn:2983792873")
    assert msg.from_.uri == AbsoluteUri("http://www.example.com")
    assert msg.contact[0].uri == AbsoluteUri("name:John_Smith")
    with pytest.raises(ParseError) as info:
        validate_request(msg, supported=SUPPORTED)
    assert info.value.status_hint == 400


def test_unknown_request_uri_schemes_get_416() -> None:
    for name in ("unkscm", "novelsc"):
        msg = parse_message(load(name))
        assert isinstance(msg, Request) and isinstance(msg.uri, AbsoluteUri)
        with pytest.raises(ParseError) as info:
            validate_request(msg, supported=SUPPORTED)
        assert info.value.status_hint == 416
    assert str(parse_message(load("novelsc")).uri) == "soap.beep://192.0.2.103:3002"  # type: ignore[union-attr]


def test_bext01_lists_unsupported_require_tags_not_proxy_require() -> None:
    msg = parse_message(load("bext01"))
    assert isinstance(msg, Request)
    with pytest.raises(BadExtensionError) as info:
        validate_request(msg, supported=SUPPORTED)
    assert info.value.status_hint == 420
    assert info.value.unsupported == ("nothingSupportsThis", "nothingSupportsThisEither")


def test_inv2543_rfc2543_request_is_accepted() -> None:
    msg = parse_message(load("inv2543"))
    assert msg.via[0].branch is None
    assert msg.from_.tag is None
    assert msg.max_forwards is None
    assert len(msg.body) == BY_NAME["inv2543"]["content_length"]["body_octets"]
    assert msg.record_route[0].uri.maddr == "ss1.example.com"  # type: ignore[union-attr]


def test_bcast_and_zeromf_values() -> None:
    assert parse_message(load("bcast")).via[1].host == "255.255.255.255"
    assert parse_message(load("zeromf")).max_forwards == 0


@pytest.mark.parametrize(
    ("name", "status", "fragment"),
    [
        ("badinv01", 400, "empty element"),
        ("clerr", 400, "Content-Length 9999"),
        ("ncl", 400, "-999"),
        ("scalar02", 400, "2**32-1"),
        ("scalarlg", 400, "2**32-1"),
        ("quotbal", 400, "neither a name-addr"),
        ("ltgtruri", 400, "no scheme"),
        ("lwsruri", 400, "Request-URI"),
        ("lwsstart", 400, "Request-URI"),
        ("trws", 400, "Request-URI"),
        ("escruri", 400, "must not contain headers"),
        ("regbadct", 400, "enclosed in <>"),
        ("badaspec", 400, "neither a name-addr"),
        ("badvers", 505, "SIP/7.0"),
        ("mismatch01", 400, "CSeq method INVITE does not match request method OPTIONS"),
        ("mismatch02", 400, "CSeq method INVITE does not match request method NEWMETHOD"),
        ("bigcode", 400, "4294967301"),
        ("insuf", 400, "missing mandatory"),
        ("mcl01", 400, "Content-Length"),
        ("multi01", 400, "more than one"),
    ],
)
def test_rejections_give_precise_reasons(name: str, status: int, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_message(load(name))
    assert info.value.status_hint == status
    assert fragment in info.value.reason


def test_baddn_as_archived_lacks_the_blank_line_and_with_it_fails_on_the_display_name() -> None:
    with pytest.raises(ParseError, match="not terminated"):
        parse_message(load("baddn"))
    with pytest.raises(ParseError, match="neither a name-addr") as info:
        parse_message(load("baddn") + b"\r\n")
    assert info.value.status_hint == 400


def test_badbranch_parses_and_validation_rejects_the_bare_cookie() -> None:
    msg = parse_message(load("badbranch"))
    assert isinstance(msg, Request) and msg.via[0].branch == "z9hG4bK"
    with pytest.raises(ParseError, match="magic cookie") as info:
        validate_request(msg, supported=SUPPORTED)
    assert info.value.status_hint == 400


def test_clerr_on_a_stream_is_also_an_error() -> None:
    with pytest.raises(ParseError) as info:
        parse_message(load("clerr"), stream=True)
    assert info.value.status_hint == 400
