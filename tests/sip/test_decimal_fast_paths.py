"""The cheap number, CSeq, scheme and parameter-name paths give exactly what the old ones did.

Proves that ``uri.decimal_value`` reads 1 to 9 ASCII digits and refuses everything else
(-1); that every number it serves (Via port and rport, URI port, CSeq, Max-Forwards,
Content-Length) still takes the other Unicode decimal digits where ``\\d`` and
``str.isdecimal`` took them, still rejects the same out-of-range and non-digit values and
still accepts long zero-padded numbers within range; that a CSeq line keeps the received
octets exactly when ``str()`` of the value gives it back; that ``parse_uri`` lower-cases
the scheme whether or not it is written ``sip:``; and that the common parameter names
compared as literals are keys and canonical exactly as before.
"""

from __future__ import annotations

import pytest

from voipkit.sip import ParseError, Request, SipUri, Via, parse_message
from voipkit.sip.headers import CSeq
from voipkit.sip.uri import decimal_value, parse_uri

ARABIC_5060 = "\u0665\u0660\u0666\u0660"  # Arabic-Indic digits, str.isdecimal() is True


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("5060", 5060), ("000000070", 70), ("999999999", 999999999),
    ("", -1), ("1234567890", -1), ("12a", -1), ("-1", -1), ("+1", -1), (" 1", -1),
    ("/", -1), (":", -1), (ARABIC_5060, -1), ("\uff15", -1),
])
def test_decimal_value_reads_only_one_to_nine_ascii_digits(text: str, value: int) -> None:
    assert decimal_value(text) == value


def test_via_port_takes_other_decimal_digits_as_before() -> None:
    assert Via.parse(f"SIP/2.0/UDP host.example.com:{ARABIC_5060};branch=z9hG4bK1").port == 5060


@pytest.mark.parametrize("rport", ["0", "05060", "65535"])
def test_via_rport_in_range_is_accepted(rport: str) -> None:
    assert Via.parse(f"SIP/2.0/UDP h.example.com;rport={rport}").params["rport"] == rport


@pytest.mark.parametrize("rport", ["65536", "99999", "000001", "5o60", ARABIC_5060])
def test_via_rport_out_of_range_or_not_ascii_digits_is_rejected(rport: str) -> None:
    with pytest.raises(ParseError):
        Via.parse(f"SIP/2.0/UDP h.example.com;rport={rport}")


def test_via_port_above_65535_is_rejected() -> None:
    with pytest.raises(ParseError):
        Via.parse("SIP/2.0/UDP h.example.com:65536;branch=z9hG4bK1")


def test_uri_port_takes_other_decimal_digits_and_rejects_out_of_range() -> None:
    uri = parse_uri(f"sip:a@example.com:{ARABIC_5060}")
    assert isinstance(uri, SipUri)
    assert uri.port == 5060
    with pytest.raises(ParseError):
        parse_uri("sip:a@example.com:70000")


@pytest.mark.parametrize(("text", "seq"), [
    ("1 INVITE", 1), ("000000001 ACK", 1), ("0000000001 BYE", 1),
    ("4294967295 INVITE", 2**32 - 1), ("\u0661\u0662 INVITE", 12), ("\uff11 BYE", 1),
    ("7\tINVITE", 7),
    ("8 FOO", 8),
])
def test_cseq_numbers_parse_as_before(text: str, seq: int) -> None:
    assert CSeq.parse(text).seq == seq


@pytest.mark.parametrize("text", ["4294967296 INVITE", "12345678901 INVITE", " INVITE",
                                  "1a INVITE", "-1 INVITE", "1x"])
def test_bad_cseq_numbers_are_rejected(text: str) -> None:
    with pytest.raises(ParseError):
        CSeq.parse(text)


def _invite(max_forwards: str, content_length: str = "0") -> bytes:
    return (
        "INVITE sip:bob@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
        "From: <sip:alice@example.com>;tag=1\r\n"
        "To: <sip:bob@example.com>\r\n"
        "Call-ID: c1\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Max-Forwards: {max_forwards}\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(("text", "value"), [
    ("70", 70), ("0", 0), ("255", 255), ("0000000000000000070", 70), ("\u0667\u0660", 70),
])
def test_max_forwards_values_parse_as_before(text: str, value: int) -> None:
    msg = parse_message(_invite(text))
    assert isinstance(msg, Request)
    assert msg.max_forwards == value


@pytest.mark.parametrize("text", ["256", "1000000000", "7O", "-1", "000000000000000000070"])
def test_bad_max_forwards_values_are_rejected(text: str) -> None:
    with pytest.raises(ParseError):
        parse_message(_invite(text))


def test_content_length_takes_other_decimal_digits_and_rejects_others() -> None:
    assert parse_message(_invite("70", "\u0660")).body == b""
    with pytest.raises(ParseError):
        parse_message(_invite("70", "x"))


def _with_cseq(cseq: str) -> bytes:
    """The INVITE of ``_invite`` with this CSeq, its request method made to match."""
    method = cseq.split()[-1]
    data = _invite("70").replace(b"CSeq: 1 INVITE", f"CSeq: {cseq}".encode())
    return method.encode() + data[len("INVITE"):]


@pytest.mark.parametrize("cseq", ["1 INVITE", "0 INVITE", "314159 INVITE", "999999999 BYE",
                                  "1234567890 INVITE", "4294967295 ACK", "7 FOO"])
def test_canonical_cseq_keeps_the_received_octets(cseq: str) -> None:
    data = _with_cseq(cseq)
    assert bytes(parse_message(data)) == data


@pytest.mark.parametrize(("cseq", "written"), [
    ("01 INVITE", "1 INVITE"), ("00 INVITE", "0 INVITE"), ("0123456789 INVITE", "123456789 INVITE"),
    ("7\tINVITE", "7 INVITE"), ("7  FOO", "7 FOO"), ("\u0661\u0662 INVITE", "12 INVITE"),
])
def test_other_cseq_spellings_are_written_canonically(cseq: str, written: str) -> None:
    out = bytes(parse_message(_with_cseq(cseq)))
    assert f"\r\nCSeq: {written}\r\n".encode() in out
    assert parse_message(out) == parse_message(_with_cseq(cseq))


@pytest.mark.parametrize(("uri", "scheme"), [("sip:a@example.com", "sip"),
                                             ("SIP:a@example.com", "sip"),
                                             ("Sips:a@example.com", "sips")])
def test_request_uri_scheme_is_lower_case_either_way(uri: str, scheme: str) -> None:
    parsed = parse_uri(uri)
    assert isinstance(parsed, SipUri)
    assert parsed.scheme == scheme
    assert str(parsed) == f"{scheme}:a@example.com"


@pytest.mark.parametrize(("params", "key"), [(";tag=1", "tag"), (";Tag=1", "tag"),
                                             (";TRANSPORT=udp", "transport"), (";lR", "lr")])
def test_common_parameter_names_are_lower_case_keys(params: str, key: str) -> None:
    from voipkit.sip.uri import split_params
    one, canonical = split_params(params)
    assert list(one) == [key]
    assert canonical == (params == params.lower())
    two, canonical = split_params(";branch=z9" + params)
    assert list(two) == ["branch", key]
    assert canonical == (params == params.lower())
