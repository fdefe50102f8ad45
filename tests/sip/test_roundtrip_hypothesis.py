"""Property tests: built messages survive bytes() and parsing; bad bytes only raise ParseError.

Proves that for generated requests and responses (random methods, sip/sips/tel URIs with
params, IPv6 hosts, display names needing quoted-pairs, unknown headers, binary bodies)
``parse_message(bytes(msg)) == msg``, and that random bytes and mutated RFC 4475 messages
never make ``parse_message`` raise anything but ParseError.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voipkit.sip import (
    CSeq,
    Headers,
    NameAddr,
    ParseError,
    Request,
    Response,
    SipUri,
    TelUri,
    Via,
    parse_message,
)
from voipkit.sip.uri import Uri

DATA = Path(__file__).resolve().parent.parent / "data" / "rfc4475"
CORPUS = [path.read_bytes() for path in sorted(DATA.glob("*.dat"))]

TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(TOKEN_ALPHABET, min_size=1, max_size=12)
lower_tokens = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
labels = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
hostnames = st.lists(labels, min_size=1, max_size=4).map(".".join)
ipv6 = st.ip_addresses(v=6).map(str)
hosts = st.one_of(hostnames, st.ip_addresses(v=4).map(str), ipv6)
ports = st.none() | st.integers(1, 65535)
users = st.none() | st.text(
    "abcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()&=+$,;?/", min_size=1, max_size=12
)
uri_params = st.dictionaries(
    lower_tokens, st.none() | st.text("abc123-_.", min_size=1, max_size=6), max_size=3
)
sip_uris = st.builds(
    lambda scheme, user, host, port, params: SipUri(
        scheme=scheme, user=user, host=host, port=port, params=params
    ),
    st.sampled_from(["sip", "sips"]),
    users,
    hosts,
    ports,
    uri_params,
)
tel_uris = st.builds(
    lambda digits, params: TelUri(number="+" + digits, params=params),
    st.text("0123456789", min_size=1, max_size=12),
    uri_params,
)
uris: st.SearchStrategy[Uri] = st.one_of(sip_uris, tel_uris)
display_names = st.none() | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=15
)
gen_params = st.dictionaries(lower_tokens, st.none() | tokens, max_size=3)
name_addrs = st.builds(NameAddr, uris, display_names, gen_params)
vias = st.builds(
    Via,
    st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS"]),
    hosts,
    ports,
    # ttl and rport have numeric grammars (RFC 3261 §20.42, RFC 3581); generate them apart
    st.dictionaries(
        lower_tokens.filter(lambda name: name not in ("ttl", "rport")),
        st.none() | tokens,
        max_size=3,
    ).map(
        lambda p: {"branch": "z9hG4bK" + "x" * len(p), **p}
    ),
).flatmap(
    lambda via: st.builds(
        lambda rport, ttl: Via(
            via.transport,
            via.host,
            via.port,
            {**via.params, **rport, **ttl},
        ),
        st.sampled_from([{}, {"rport": None}]) | st.integers(0, 65535).map(
            lambda n: {"rport": str(n)}
        ),
        st.just({}) | st.integers(0, 255).map(lambda n: {"ttl": str(n)}),
    )
)
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"), max_size=30
).map(str.strip)
unknown_headers = st.lists(st.tuples(tokens.map(lambda t: "X-" + t), header_values), max_size=5)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(tokens)
    return Request(
        method,
        draw(uris),
        via=draw(st.lists(vias, min_size=1, max_size=3)),
        from_=draw(name_addrs),
        to=draw(name_addrs),
        call_id=draw(tokens),
        cseq=CSeq(draw(st.integers(0, 2**32 - 1)), method),
        max_forwards=draw(st.none() | st.integers(0, 255)),
        contact=draw(st.lists(name_addrs, max_size=2)),
        route=draw(st.lists(name_addrs, max_size=2)),
        record_route=draw(st.lists(name_addrs, max_size=2)),
        headers=Headers(draw(unknown_headers)),
        body=draw(st.binary(max_size=64)),
        content_type=draw(st.none() | st.just("application/sdp")),
        expires=draw(st.none() | st.integers(0, 2**32 - 1)),
    )


@st.composite
def responses(draw: st.DrawFn) -> Response:
    return Response(
        draw(st.integers(100, 699)),
        draw(header_values),
        via=draw(st.lists(vias, min_size=1, max_size=3)),
        from_=draw(name_addrs),
        to=draw(name_addrs),
        call_id=draw(tokens),
        cseq=CSeq(draw(st.integers(0, 99)), "INVITE"),
        contact=draw(st.lists(name_addrs, max_size=2)),
        headers=Headers(draw(unknown_headers)),
        body=draw(st.binary(max_size=64)),
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_requests_round_trip(request: Request) -> None:
    data = bytes(request)
    again = parse_message(data, stream=True)
    assert again == request
    assert bytes(again) == data


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(responses())
def test_responses_round_trip(response: Response) -> None:
    assert parse_message(bytes(response)) == response


def _parse_or_parse_error(data: bytes) -> None:
    try:
        parse_message(data)
    except ParseError as exc:
        assert exc.status_hint in {400, 505, 513}
        assert exc.reason


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_parse_error(data: bytes) -> None:
    _parse_or_parse_error(data)
    _parse_or_parse_error(b"INVITE sip:a@b SIP/2.0\r\n" + data)


@settings(max_examples=800)
@given(
    st.sampled_from(CORPUS),
    st.lists(
        st.tuples(st.integers(0, 4000), st.binary(max_size=4), st.integers(0, 4)),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_torture_messages_only_raise_parse_error(
    message: bytes, edits: list[tuple[int, bytes, int]]
) -> None:
    data = bytearray(message)
    for position, insert, delete in edits:
        at = position % (len(data) + 1)
        data[at : at + delete] = insert
    _parse_or_parse_error(bytes(data))


@settings(max_examples=300)
@given(
    st.sampled_from(CORPUS),
    st.sampled_from(
        [
            b":",
            b";",
            b",",
            b"<",
            b">",
            b'"',
            b"\\",
            b"[",
            b"]",
            b"%",
            b"=",
            b"\r\n",
            b" ",
            b"@",
            b"9" * 5000,
        ]
    ),
    st.integers(0, 4000),
)
def test_structural_characters_inserted_only_raise_parse_error(
    message: bytes, insert: bytes, position: int
) -> None:
    at = position % (len(message) + 1)
    _parse_or_parse_error(message[:at] + insert + message[at:])
