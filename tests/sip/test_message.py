"""Messages: parsing rules of RFC 3261 §7 and §18.3, routing-header values, serialization.

Proves folding, compact and case-insensitive names, list splitting only for list headers,
Contact '*', Via parameters, Content-Length framing for datagrams and streams, the size
limit, header order and verbatim unknown headers on output, golden bytes for a canonical
message, and Response.for_request's copying rules.
"""

from __future__ import annotations

import pytest

from voipkit.sip import (
    CSeq,
    Headers,
    NameAddr,
    ParseError,
    Request,
    Response,
    SipUri,
    StatusCode,
    Via,
    parse_message,
    reason_phrase,
)
from voipkit.sip.status import is_final, is_provisional, is_success

CANONICAL = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Bob" <sip:bob@biloxi.example.com>\r\n'
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"X-Custom:   odd  spacing kept\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b'WWW-Authenticate: Digest realm="a", nonce="b", qop="auth,auth-int"\r\n'
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def make(
    *headers: str, body: bytes = b"", start: str = "OPTIONS sip:b@example.com SIP/2.0"
) -> bytes:
    base = [
        "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
        "From: <sip:a@example.com>;tag=1",
        "To: <sip:b@example.com>",
        "Call-ID: c1",
        f"CSeq: 1 {start.split()[0]}",
    ]
    if start.startswith("SIP/"):
        base[-1] = "CSeq: 1 OPTIONS"
    return ("\r\n".join([start, *base, *headers]) + "\r\n\r\n").encode() + body


def test_golden_canonical_message_round_trips_byte_for_byte() -> None:
    msg = parse_message(CANONICAL)
    assert bytes(msg) == CANONICAL.replace(b"X-Custom:   odd", b"X-Custom: odd")


def test_routing_headers_are_parsed_at_parse_time() -> None:
    msg = parse_message(CANONICAL)
    assert isinstance(msg, Request)
    assert msg.via == [
        Via("UDP", "pc33.atlanta.example.com", None, {"branch": "z9hG4bK776asdhds", "rport": None})
    ]
    assert msg.via[0].has_rport and msg.via[0].rport is None
    assert msg.to == NameAddr(SipUri(user="bob", host="biloxi.example.com"), "Bob")
    assert msg.from_.tag == "1928301774"
    assert msg.cseq == CSeq(314159, "INVITE")
    assert (msg.max_forwards, msg.content_type, msg.body) == (70, "application/sdp", b"v=0\n")


def test_auth_headers_are_not_comma_split_and_keep_verbatim() -> None:
    msg = parse_message(CANONICAL)
    assert msg.headers.getall("www-authenticate") == [
        'Digest realm="a", nonce="b", qop="auth,auth-int"'
    ]


def test_folding_compact_forms_and_case() -> None:
    data = (
        make("sUbJeCt: hello\r\n  world", "k: timer,\r\n\t100rel", "l: 0")
        .replace(b"Call-ID: c1", b"i: c1")
        .replace(b"To:", b"t:")
    )
    msg = parse_message(data)
    assert msg.call_id == "c1"
    assert msg.headers.get("s") == "hello world"
    assert msg.headers.getall("Supported") == ["timer", "100rel"]
    assert [name for name, _ in msg.headers] == ["Subject", "Supported"]
    assert "SUPPORTED" in msg.headers and "k" in msg.headers


def test_date_is_never_split() -> None:
    msg = parse_message(make("Date: Sat, 13 Nov 2010 23:29:00 GMT"))
    assert msg.headers.getall("Date") == ["Sat, 13 Nov 2010 23:29:00 GMT"]


def test_list_headers_split_outside_quotes_and_angles() -> None:
    msg = parse_message(
        make(
            'Contact: "a, b" <sip:x,y@h;p=1>, <sip:y@h>;q=0.5',
            "Route: <sip:p1@h;lr>, <sip:p2@h;lr>",
            "Via: SIP/2.0/TCP [2001:db8::1]:5061;received=2001:db8::2;maddr=224.2.0.1;ttl=16",
        )
    )
    assert [c.display_name for c in msg.contact] == ["a, b", None]
    assert msg.contact[1].params == {"q": "0.5"}
    assert [str(r.uri) for r in msg.route] == ["sip:p1@h;lr", "sip:p2@h;lr"]
    via = msg.via[1]
    assert (via.transport, via.host, via.port) == ("TCP", "2001:db8::1", 5061)
    assert (via.received, via.maddr, via.ttl) == ("2001:db8::2", "224.2.0.1", 16)
    assert parse_message(bytes(msg)) == msg


def test_contact_star() -> None:
    msg = parse_message(make("Contact: *", "Expires: 0", start="REGISTER sip:example.com SIP/2.0"))
    assert msg.contact_star and msg.contact == [] and msg.expires == 0
    assert b"Contact: *\r\n" in bytes(msg)
    with pytest.raises(ParseError, match=r"\*"):
        parse_message(make("Contact: *", "Contact: <sip:a@b>"))


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("Via: SIP/2.0/UDP h;rport=x", "rport"),
        ("Via: SIP/2.0/UDP h;ttl=300", "ttl"),
        ("Via: SIP/3.0/UDP h", "not SIP/2.0"),
        ("Max-Forwards: 256", "Max-Forwards"),
        ("Expires: 99999999999", "Expires"),
        ("Content-Type: sdp", "Content-Type"),
        ("Route: sip:p@h", "name-addr"),
        ("Bad Name: x", "not a token"),
        ("NoColon", "no colon"),
        ("Call-ID: c2", "more than one Call-ID"),
    ],
)
def test_bad_headers_are_400(header: str, fragment: str) -> None:
    with pytest.raises(ParseError, match=fragment) as info:
        parse_message(make(header))
    assert info.value.status_hint == 400


def test_content_length_datagram_rules() -> None:
    assert parse_message(make("Content-Length: 3", body=b"abcdef")).body == b"abc"
    assert parse_message(make(body=b"rest of datagram")).body == b"rest of datagram"
    with pytest.raises(ParseError, match="exceeds"):
        parse_message(make("Content-Length: 10", body=b"abc"))


def test_content_length_stream_rules() -> None:
    assert parse_message(make("Content-Length: 3", body=b"abc"), stream=True).body == b"abc"
    with pytest.raises(ParseError, match="mandatory"):
        parse_message(make(body=b"abc"), stream=True)
    with pytest.raises(ParseError, match="unframed"):
        parse_message(make("Content-Length: 1", body=b"abc"), stream=True)


def test_size_limit_is_513() -> None:
    data = make("X-Pad: " + "a" * 70000)
    with pytest.raises(ParseError) as info:
        parse_message(data)
    assert info.value.status_hint == 513
    assert parse_message(data, max_size=100000).headers.get("x-pad") == "a" * 70000


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",
        b"garbage\r\n\r\n",
        b"SIP/2.0\r\n\r\n",
        b"SIP/2.0 20 OK\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\r\n\r\n",
        b"INVITE sip:a@b SIP/2.0\nVia: x\r\n\r\n",
        b"\xff\xfe\r\n\r\n",
    ],
)
def test_garbage_is_400(data: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_message(data)
    assert info.value.status_hint == 400


def test_leading_crlf_is_ignored_and_response_parses() -> None:
    msg = parse_message(b"\r\n\r\n" + make(start="SIP/2.0 180 Ringing"))
    assert isinstance(msg, Response) and (msg.status, msg.reason) == (180, "Ringing")


def test_header_order_is_kept_and_unknown_headers_verbatim() -> None:
    data = make(
        "X-B: 2", "x-a: One,Two ;;", "Subject: s", start="OPTIONS sip:b@example.com SIP/2.0"
    )
    data = data.replace(b"From:", b"X-First: 0\r\nFrom:")
    out = bytes(parse_message(data)).decode()
    names = [line.split(":")[0] for line in out.split("\r\n")[1:] if line]
    assert names == [
        "Via",
        "X-First",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "X-B",
        "x-a",
        "Subject",
        "Content-Length",
    ]
    assert "x-a: One,Two ;;\r\n" in out


def test_modified_values_are_serialized() -> None:
    msg = parse_message(CANONICAL)
    msg.via.insert(0, Via("TCP", "proxy.example.com", 5060, {"branch": "z9hG4bKp"}))
    msg.max_forwards = 69
    msg.to.tag = "xyz"
    msg.body = b""
    msg.content_type = None
    msg.headers.remove("X-Custom")
    again = parse_message(bytes(msg))
    assert again == msg
    assert [v.host for v in again.via] == ["proxy.example.com", "pc33.atlanta.example.com"]
    assert again.to.tag == "xyz" and again.headers.get("x-custom") is None
    assert b"Content-Length: 0\r\n" in bytes(msg)


def test_request_constructor_and_response_for_request() -> None:
    request = Request(
        "INVITE",
        SipUri(user="bob", host="biloxi.example.com"),
        via=[Via("UDP", "192.0.2.1", 5060, {"branch": "z9hG4bKx"})],
        from_=NameAddr.parse("<sip:alice@atlanta.example.com>;tag=a"),
        to=NameAddr.parse("<sip:bob@biloxi.example.com>"),
        call_id="cid",
        cseq=CSeq(1, "INVITE"),
        record_route=[NameAddr.parse("<sip:p1.example.com;lr>")],
        headers=Headers([("Subject", "hi")]),
        body=b"x",
        content_type="text/plain",
    )
    assert parse_message(bytes(request)) == request
    ringing = Response.for_request(request, 180, to_tag="b")
    assert (ringing.status, ringing.reason, ringing.to.tag) == (180, "Ringing", "b")
    assert request.to.tag is None
    assert ringing.record_route == request.record_route and ringing.via == request.via
    trying = Response.for_request(request, 100)
    assert trying.record_route == [] and trying.to.tag is None
    busy = Response.for_request(request, 486, "Busy", to_tag="b")
    assert busy.record_route == [] and busy.reason == "Busy"
    assert parse_message(bytes(busy)) == busy
    assert bytes(busy).startswith(
        b"SIP/2.0 486 Busy\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\n"
    )


def test_status_codes() -> None:
    assert StatusCode.BUSY_HERE == 486 and StatusCode.BUSY_HERE.phrase == "Busy Here"
    assert reason_phrase(200) == "OK" and reason_phrase(499) == "Bad Request"
    with pytest.raises(ValueError):
        reason_phrase(700)
    assert is_provisional(183) and not is_provisional(200)
    assert is_success(204) and is_final(200) and not is_final(199)
    assert StatusCode.OK.is_success() and StatusCode.TRYING.is_provisional()


# Serialization reuses the text each routing value was parsed from; these prove that every
# way of changing a value (setter, tag, the params dict, the URI inside) shows in bytes().


def test_unmodified_parse_serializes_from_cached_text() -> None:
    msg = parse_message(CANONICAL)
    assert bytes(msg) == bytes(parse_message(bytes(msg)))
    assert bytes(msg) == CANONICAL.replace(b"X-Custom:   odd", b"X-Custom: odd")


def test_non_canonical_text_is_not_reused() -> None:
    msg = parse_message(
        make().replace(b"From: <sip:a@example.com>;tag=1", b"From: Al <SIP:a@example.com>;TAG=1")
    )
    assert b'From: "Al" <sip:a@example.com>;tag=1\r\n' in bytes(msg)


def test_via_params_dict_mutation_shows_in_bytes() -> None:
    msg = parse_message(make())
    top = msg.via[0]
    assert bytes(msg).count(b";branch=z9hG4bK1\r\n") == 1
    params = top.params
    params["received"] = "192.0.2.9"
    assert b"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1;received=192.0.2.9\r\n" in bytes(msg)
    params["rport"] = "5070"  # the dict is still the live one after a bytes() in between
    assert b";received=192.0.2.9;rport=5070\r\n" in bytes(msg)


def test_via_setters_show_in_bytes() -> None:
    msg = parse_message(make())
    msg.via[0].host = "other.example.com"
    msg.via[0].port = 5080
    assert b"Via: SIP/2.0/UDP other.example.com:5080;branch=z9hG4bK1\r\n" in bytes(msg)


def test_name_addr_tag_and_uri_changes_show_in_bytes() -> None:
    msg = parse_message(make())
    msg.to.tag = "t9"
    assert b"To: <sip:b@example.com>;tag=t9\r\n" in bytes(msg)
    uri = msg.from_.uri
    assert isinstance(uri, SipUri)
    uri.host = "changed.example.com"
    assert b"From: <sip:a@changed.example.com>;tag=1\r\n" in bytes(msg)
    uri.params["transport"] = "tcp"
    assert b"From: <sip:a@changed.example.com;transport=tcp>;tag=1\r\n" in bytes(msg)
    msg.from_.display_name = "A"
    assert b'From: "A" <sip:a@changed.example.com;transport=tcp>;tag=1\r\n' in bytes(msg)


def test_request_uri_change_shows_in_bytes() -> None:
    msg = parse_message(make())
    assert isinstance(msg, Request) and isinstance(msg.uri, SipUri)
    msg.uri.user = "carol"
    assert bytes(msg).startswith(b"OPTIONS sip:carol@example.com SIP/2.0\r\n")


def test_for_request_copies_do_not_share_caches_or_dicts() -> None:
    request = parse_message(make())
    assert isinstance(request, Request)
    ok = Response.for_request(request, 200, to_tag="x")
    ok.via[0].params["received"] = "192.0.2.1"
    assert b"received" not in bytes(request)
    assert request.to.tag is None and b"To: <sip:b@example.com>\r\n" in bytes(request)
    assert b"To: <sip:b@example.com>;tag=x\r\n" in bytes(ok)
