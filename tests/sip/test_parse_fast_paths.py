"""The fast name-addr and Via parsers accept and return exactly what the general ones do.

Proves that the display name read without a regex (none, quoted, one ASCII word, other
tokens, blanks and tabs before "<") gives the general parser's value, that what the fast
path leaves out (quoted-pairs, non-ASCII token names, upper-case schemes) still parses or
fails as RFC 3261 §25.1 says, and that an empty parameter value (``;a=``), which the flat
parameter patterns match, is still rejected in Via, name-addr and generic parameters.
"""

from __future__ import annotations

import pytest

from voipkit.sip import NameAddr, ParseError, SipUri, Via


@pytest.mark.parametrize(("text", "display", "canonical"), [
    ("<sip:a@example.com>", None, "<sip:a@example.com>"),
    ("Bob <sip:a@example.com>", "Bob", "Bob <sip:a@example.com>"),
    ("Bob\t<sip:a@example.com>", "Bob", '"Bob" <sip:a@example.com>'),
    ("Bob<sip:a@example.com>", "Bob", '"Bob" <sip:a@example.com>'),
    ("A.b-c  Smith  <sip:a@example.com>", "A.b-c  Smith", '"A.b-c  Smith" <sip:a@example.com>'),
    ('"Alice L" <sip:a@example.com>;tag=1', "Alice L", '"Alice L" <sip:a@example.com>;tag=1'),
    ('"Alice"<sip:a@example.com>', "Alice", '"Alice" <sip:a@example.com>'),
    ('"a<b" <sip:a@example.com>', "a<b", '"a<b" <sip:a@example.com>'),
    ('"a\\"b" <sip:a@example.com>', 'a"b', '"a\\"b" <sip:a@example.com>'),
    ('"José" <sips:a@example.com>', "José", '"José" <sips:a@example.com>'),
    ("<SIP:a@example.com;lr>", None, "<sip:a@example.com;lr>"),
])
def test_display_names_parse_to_the_same_value_either_way(text: str, display: str | None,
                                                          canonical: str) -> None:
    value = NameAddr.parse(text)
    assert value.display_name == display
    assert str(value) == canonical
    assert NameAddr.parse(canonical) == value


def test_non_ascii_token_display_name_is_rejected() -> None:
    with pytest.raises(ParseError):
        NameAddr.parse("José <sip:a@example.com>")


@pytest.mark.parametrize("text", [
    "<sip:a@example.com>;tag=", "<sip:a@example.com>;tag=;x", "Bob <sip:a@example.com>;a=",
])
def test_empty_header_parameter_value_is_rejected(text: str) -> None:
    with pytest.raises(ParseError):
        NameAddr.parse(text)


@pytest.mark.parametrize("text", ["SIP/2.0/UDP h.example.com;branch=",
                                  "SIP/2.0/UDP h.example.com;branch=;rport"])
def test_empty_via_parameter_value_is_rejected(text: str) -> None:
    with pytest.raises(ParseError):
        Via.parse(text)


def test_empty_uri_parameter_value_is_kept() -> None:
    # uri-parameter values may be empty (RFC 3261 §25.1 pvalue = 1*paramchar is for
    # other-param; the grammar of this SDK has always taken ";x=" in a URI).
    value = NameAddr.parse("<sip:h.example.com;x=>")
    assert isinstance(value.uri, SipUri) and value.uri.params == {"x": ""}
    assert str(value) == "<sip:h.example.com;x=>"


def test_via_fast_path_values() -> None:
    via = Via.parse("SIP/2.0/udp h.example.com:5060;BRANCH=z9hG4bK1;rport")
    assert (via.transport, via.host, via.port, via.branch, via.has_rport) == (
        "UDP", "h.example.com", 5060, "z9hG4bK1", True)
    assert str(via) == "SIP/2.0/UDP h.example.com:5060;branch=z9hG4bK1;rport"


ADDR_SPECS = [
    "sip:sipp@127.0.0.1:5061", "sip:sipp@127.0.0.1:5061;tag=1", "sips:b@example.com;a;B=2",
    "sip:example.com", "sip:u:pw@[::1]:5060;expires=60", "sip:a%41@h", "sip:alice;x@host",
    "sip:a@h;tag=", "sip:a@h?x=1", "sip:a,b@h", "sip:a@h ;tag=1", "sip:a@h;tag=\"q\"",
    "sip:a@h:99999", "sip:a@h;Tag=1;tag=2", "sip:a@%zz", "SIP:a@h;x=1", "sip:a@h;x=y;x=z",
    "sip:a@h;", "sip:@h", "sip:a@h:0050",
]


@pytest.mark.parametrize("text", ADDR_SPECS)
def test_addr_spec_fast_path_agrees_with_the_general_parser(text: str) -> None:
    # RFC 3261 §20.10: in an addr-spec everything after the first ";" is a header
    # parameter. Whatever the fast path takes must read exactly as the general patterns
    # read it; whatever they reject, NameAddr.parse rejects too.
    try:
        general = NameAddr._parse_general(text)
    except ParseError:
        with pytest.raises(ParseError):
            NameAddr.parse(text)
        return
    fast = NameAddr.parse(text)
    assert fast == general
    assert str(fast) == str(general)
    assert str(fast.uri) == str(general.uri)


def test_addr_spec_fast_path_is_taken_for_the_usual_contact() -> None:
    value = NameAddr._parse_addr_spec("sip:sipp@127.0.0.1:5061;expires=60")
    assert value is not None
    assert isinstance(value.uri, SipUri)
    assert (value.uri.user, value.uri.host, value.uri.port) == ("sipp", "127.0.0.1", 5061)
    assert value.params == {"expires": "60"}
    assert NameAddr._parse_addr_spec("sip:a@h ;tag=1") is None  # blanks: the general path


def test_ipv4_literal_check_agrees_with_ipaddress() -> None:
    import ipaddress
    import random

    from voipkit.sip.addressing import is_ip_literal

    def reference(host: str) -> bool:
        try:
            ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
        except ValueError:
            return False
        return True

    rnd = random.Random(7)  # seeded: the same 5,000 strings every run
    pieces = ["0", "00", "1", "01", "255", "256", "999", "12", "a", "", "\u0663", "1 "]
    hosts = ["1.2.3.4", "[1.2.3.4]", "::1", "[::1]", "example.com", "１.2.3.4", ""]
    hosts += [".".join(rnd.choice(pieces) for _ in range(rnd.choice((3, 4, 4, 5))))
              for _ in range(5000)]
    assert [h for h in hosts if is_ip_literal(h) != reference(h)] == []
