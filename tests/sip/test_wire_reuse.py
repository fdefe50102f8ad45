"""bytes() of a parsed message reuses the received octets exactly when that is safe.

Proves that a message already written canonically comes back from ``bytes()`` as the very
octets received (same object), that every kind of change after parsing — a message field,
a list of values changed in place, a value's setter, a value's parameter dict, a URI
inside a value, the CSeq, the Headers methods, the body — makes ``bytes()`` write the
message anew with the change, and that non-canonical input (compact names, extra blanks,
comma lists, split routing headers, folding, trailing datagram octets, no Content-Length)
is never reused as it was received.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from voipkit.sip import NameAddr, Request, Response, SipUri, Via, parse_message

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.7\r\n"
    b"Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776asdhds;rport=5060\r\n"
    b"Record-Route: <sip:proxy.example.com;lr>\r\n"
    b"Route: <sip:p2.example.com;lr>\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.example.com:5060;transport=udp>\r\n"
    b"Expires: 60\r\n"
    b"Supported: replaces, timer\r\n"
    b"X-Custom: yes\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776asdhds\r\n"
    b"From: <sip:alice@atlanta.example.com>;tag=1\r\n"
    b"To: <sip:bob@biloxi.example.com>;tag=2\r\n"
    b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


def _request() -> Request:
    msg = parse_message(INVITE)
    assert isinstance(msg, Request)
    return msg


def test_canonical_request_and_response_come_back_as_the_octets_received() -> None:
    assert bytes(_request()) is INVITE
    assert bytes(parse_message(OK)) is OK


def test_reading_values_keeps_the_octets() -> None:
    msg = _request()
    _ = (msg.via[0].branch, msg.via[1].rport, msg.from_.tag, msg.to.uri, msg.contact[0].uri,
         msg.record_route[0].uri, msg.cseq.seq, msg.headers.get("Supported"), msg.uri)
    assert bytes(msg) is INVITE


def _set_uri_port(m: Request) -> None:
    uri = m.to.uri
    assert isinstance(uri, SipUri)
    uri.port = 5070


def _set_request_uri_user(m: Request) -> None:
    assert isinstance(m.uri, SipUri)
    m.uri.user = "carol"


CHANGES: list[tuple[str, Callable[[Request], object], bytes]] = [
    ("method", lambda m: setattr(m, "method", "FOO"), b"FOO sip:bob@"),
    ("request uri", _set_request_uri_user, b"INVITE sip:carol@biloxi"),
    ("new request uri", lambda m: setattr(m, "uri", SipUri(host="x.example.com")),
     b"INVITE sip:x.example.com SIP/2.0"),
    ("via inserted", lambda m: m.via.insert(0, Via("TCP", "edge.example.com")),
     b"Via: SIP/2.0/TCP edge.example.com\r\nVia: SIP/2.0/UDP proxy"),
    ("via removed", lambda m: m.via.pop(0), b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
     b"Via: SIP/2.0/UDP pc33"),
    ("via param dict", lambda m: m.via[1].params.update(rport="1234"), b"rport=1234"),
    ("via host", lambda m: setattr(m.via[0], "host", "h.example.com"),
     b"SIP/2.0/UDP h.example.com:5060"),
    ("from tag", lambda m: setattr(m.from_, "tag", "new"), b";tag=new"),
    ("to uri port", _set_uri_port, b"<sip:bob@biloxi.example.com:5070>"),
    ("to replaced", lambda m: setattr(m, "to", NameAddr(SipUri(host="t.example.com"))),
     b"To: <sip:t.example.com>"),
    ("display name", lambda m: setattr(m.to, "display_name", "Robert"), b'To: "Robert" <'),
    ("contact appended", lambda m: m.contact.append(NameAddr(SipUri(host="c.example.com"))),
     b"Contact: <sip:c.example.com>"),
    ("route cleared", lambda m: m.route.clear(), b"Record-Route: <sip:proxy.example.com;lr>"
     b"\r\nMax-Forwards"),
    ("record-route param", lambda m: m.record_route[0].params.update(x="1"), b";lr>;x=1"),
    ("cseq number", lambda m: setattr(m.cseq, "seq", 7), b"CSeq: 7 INVITE"),
    ("call-id", lambda m: setattr(m, "call_id", "other"), b"Call-ID: other\r\n"),
    ("max-forwards", lambda m: setattr(m, "max_forwards", 69), b"Max-Forwards: 69\r\n"),
    ("expires", lambda m: setattr(m, "expires", None), b"Call-ID: a84b4c76e66710@pc33.example"
     b".com\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@pc33.example.com:5060;transport=udp>"
     b"\r\nSupported"),
    ("content-type", lambda m: setattr(m, "content_type", "application/x"),
     b"Content-Type: application/x\r\n"),
    ("header added", lambda m: m.headers.add("Subject", "hi"), b"Subject: hi\r\n"),
    ("header set", lambda m: m.headers.set("X-Custom", "no"), b"X-Custom: no\r\n"),
    ("header removed", lambda m: m.headers.remove("Supported"), b"Expires: 60\r\nX-Custom"),
    ("body", lambda m: setattr(m, "body", b"v=0\r\n"), b"Content-Length: 5\r\n\r\nv=0\r\n"),
]


@pytest.mark.parametrize(("what", "change", "expected"), CHANGES, ids=[c[0] for c in CHANGES])
def test_any_change_after_parsing_is_written(what: str, change: Callable[[Request], object],
                                             expected: bytes) -> None:
    msg = _request()
    change(msg)
    out = bytes(msg)
    assert out != INVITE and expected in out, (what, out)
    if what != "method":  # a FOO request with "CSeq: 314159 INVITE" would not parse
        assert bytes(parse_message(out)) == out


def test_response_status_and_reason_changes_are_written() -> None:
    msg = parse_message(OK)
    assert isinstance(msg, Response)
    msg.status = 202
    assert bytes(msg).startswith(b"SIP/2.0 202 OK\r\n")
    msg = parse_message(OK)
    assert isinstance(msg, Response)
    msg.reason = "Fine"
    assert bytes(msg).startswith(b"SIP/2.0 200 Fine\r\n")


def test_a_copy_shares_the_octets_until_it_changes() -> None:
    msg = _request()
    twin = copy.copy(msg)
    assert bytes(twin) is INVITE
    twin.call_id = "x"
    assert b"Call-ID: x\r\n" in bytes(twin) and bytes(msg) is INVITE


NOT_CANONICAL = [
    ("compact name", OK.replace(b"Call-ID: c1", b"i: c1"), b"Call-ID: c1\r\n"),
    ("lower-case name", OK.replace(b"CSeq:", b"cseq:"), b"CSeq: 1 OPTIONS"),
    ("two blanks", OK.replace(b"Call-ID: c1", b"Call-ID:  c1"), b"Call-ID: c1\r\n"),
    ("no blank", OK.replace(b"Call-ID: c1", b"Call-ID:c1"), b"Call-ID: c1\r\n"),
    ("trailing blank", OK.replace(b"Call-ID: c1", b"Call-ID: c1 "), b"Call-ID: c1\r\n"),
    ("blank before colon", OK.replace(b"Call-ID: c1", b"Call-ID : c1"), b"Call-ID: c1\r\n"),
    ("unknown name blank", OK.replace(b"Call-ID: c1", b"Call-ID: c1\r\nX-A :1"), b"X-A: 1\r\n"),
    ("via list", OK.replace(b"branch=z9hG4bK776asdhds", b"branch=a,SIP/2.0/TCP h;branch=b"),
     b"Via: SIP/2.0/TCP h;branch=b\r\n"),
    ("split vias", OK.replace(b"Content-Length", b"Via: SIP/2.0/TCP h;branch=b\r\nContent-"
                              b"Length"), b"branch=z9hG4bK776asdhds\r\nVia: SIP/2.0/TCP h"),
    ("folded", OK.replace(b"Call-ID: c1", b"Call-ID:\r\n c1"), b"Call-ID: c1\r\n"),
    ("leading zeros", OK.replace(b"CSeq: 1 ", b"CSeq: 01 "), b"CSeq: 1 OPTIONS"),
    ("length zeros", OK.replace(b"Content-Length: 0", b"Content-Length: 00"),
     b"Content-Length: 0\r\n"),
    ("extra octets", OK + b"junk", b"Content-Length: 0\r\n\r\n"),
    ("no length", OK.replace(b"Content-Length: 0\r\n", b""), b"Content-Length: 0\r\n"),
    ("quoted token", OK.replace(b"From: <", b"From: Al  <"), b'From: "Al" <'),
    ("lower-case version", OK.replace(b"SIP/2.0 200", b"sip/2.0 200"), b"SIP/2.0 200 OK"),
]


@pytest.mark.parametrize(("what", "data", "expected"), NOT_CANONICAL,
                         ids=[c[0] for c in NOT_CANONICAL])
def test_input_that_bytes_would_rewrite_is_not_reused(what: str, data: bytes,
                                                      expected: bytes) -> None:
    out = bytes(parse_message(data))
    assert out != data and expected in out, (what, out)
    assert bytes(parse_message(out)) == out
