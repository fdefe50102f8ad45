"""URIs: SIP/SIPS parts, params, headers, escapes, IPv6 references (RFC 5118), tel and others.

Proves that each part of a URI lands in the right field, that ``str()`` reproduces what
was parsed, and that malformed URIs raise ParseError with 400 (416 for a scheme that the
caller refuses).
"""

from __future__ import annotations

import dataclasses

import pytest

from voipkit.sip import AbsoluteUri, ParseError, SipUri, TelUri, parse_uri
from voipkit.sip.uri import unescape


def test_full_sip_uri_fields() -> None:
    uri = parse_uri(
        "sips:alice:secret@atlanta.example.com:5061;transport=TCP;lr;Maddr=x?subject=hi&h=1"
    )
    assert uri == SipUri(
        scheme="sips",
        user="alice",
        password="secret",
        host="atlanta.example.com",
        port=5061,
        params={"transport": "TCP", "lr": None, "maddr": "x"},
        headers={"subject": "hi", "h": "1"},
    )
    assert isinstance(uri, SipUri)
    assert uri.transport == "TCP" and uri.lr and uri.maddr == "x" and uri.secure
    assert (
        str(uri)
        == "sips:alice:secret@atlanta.example.com:5061;transport=TCP;lr;maddr=x?subject=hi&h=1"
    )


def test_scheme_is_case_insensitive_and_host_only_uri() -> None:
    uri = SipUri.parse("SIP:example.com")
    assert (
        uri.scheme == "sip" and uri.user is None and uri.host == "example.com" and uri.port is None
    )
    assert str(uri) == "sip:example.com"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:[2001:db8::10]", "2001:db8::10", None),
        ("sip:[2001:db8::10]:5070", "2001:db8::10", 5070),
        ("sip:[2001:db8::10:5070]", "2001:db8::10:5070", None),  # RFC 5118 §4.1: all address
        ("sip:user@[::ffff:192.0.2.1]:5060;transport=udp", "::ffff:192.0.2.1", 5060),
    ],
)
def test_ipv6_references(text: str, host: str, port: int | None) -> None:
    uri = SipUri.parse(text)
    assert (uri.host, uri.port) == (host, port)
    assert str(uri) == text


@pytest.mark.parametrize(
    "text",
    [
        "sip:[2001:db8::10",
        "sip:2001:db8::10",
        "sip:[2001:db8:::10]",
        "sip:[g::1]",
        "sip:user@host:99999",
        "sip:user@",
        "sip:us er@host",
        "sip:user@host;",
        "sip:user%4@host",
        "sip:user@host?noequals",
        "tel:",
        "no-scheme",
        ":empty",
    ],
)
def test_malformed_uris_raise_400(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_uri(text)
    assert info.value.status_hint == 400


def test_escapes_are_kept_as_written_and_decoded_once() -> None:
    uri = SipUri.parse("sip:%61lice%2541@example.com")
    assert uri.user == "%61lice%2541"
    assert unescape(uri.user) == "alice%41"
    assert str(uri) == "sip:%61lice%2541@example.com"


def test_tel_uri() -> None:
    uri = parse_uri("tel:+1-201-555-0123;phone-context=example.com;ext=22")
    assert uri == TelUri(
        number="+1-201-555-0123", params={"phone-context": "example.com", "ext": "22"}
    )
    assert str(uri) == "tel:+1-201-555-0123;phone-context=example.com;ext=22"


def test_absolute_uri_and_refused_scheme() -> None:
    uri = parse_uri("urn:service:sos")
    assert uri == AbsoluteUri("urn:service:sos") and uri.scheme == "urn"
    with pytest.raises(ParseError) as info:
        parse_uri("urn:service:sos", allow_absolute=False)
    assert info.value.status_hint == 416
    with pytest.raises(ParseError) as info:
        SipUri.parse("tel:+123")
    assert info.value.status_hint == 416


def test_replace_returns_a_changed_copy() -> None:
    uri = SipUri.parse("sip:bob@biloxi.example.com")
    moved = uri.replace(host="192.0.2.4", port=5080)
    assert str(moved) == "sip:bob@192.0.2.4:5080"
    assert str(uri) == "sip:bob@biloxi.example.com"
    assert dataclasses.replace(uri, user=None) == SipUri(host="biloxi.example.com")
