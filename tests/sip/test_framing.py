"""StreamFramer cuts TCP/TLS byte streams into SIP messages and keep-alives.

Proves: a message is framed by its header block plus exactly Content-Length body
octets (RFC 3261 §18.3), whatever the read boundaries (every split point of a
message, and random splits of random pipelined streams via hypothesis); the
full and compact (``l``) names match case-insensitively, with HCOLON whitespace
and folded values; CRLFCRLF is a PING and a lone CRLF a PONG (RFC 5626 §4.4.1),
including leading CRLFs before a message (RFC 3261 §7.5); a missing, non-numeric,
negative or conflicting Content-Length, bare-LF line endings and oversize
messages raise FramingError, after which the framer stays failed.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voipkit.sip.framing import FramingError, KeepAlive, StreamFramer

OPTIONS = (
    b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: <sip:bob@example.com>\r\n"
    b"From: <sip:alice@example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 63104 OPTIONS\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

BODY = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n\r\n\r\nINVITE not a start line\r\n\r\n"
INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n"
    b"l: " + str(len(BODY)).encode() + b"\r\n"
    b"Content-Type: application/sdp\r\n"
    b"\r\n" + BODY
)


def drain(framer: StreamFramer) -> list[bytes | KeepAlive]:
    items: list[bytes | KeepAlive] = []
    while (item := framer.next_item()) is not None:
        items.append(item)
    return items


def frame(*chunks: bytes, max_message_size: int = 65536) -> list[bytes | KeepAlive]:
    framer = StreamFramer(max_message_size)
    items: list[bytes | KeepAlive] = []
    for chunk in chunks:
        framer.feed(chunk)
        items += drain(framer)
    return items


def message(headers: bytes, body: bytes = b"") -> bytes:
    return b"MESSAGE sip:bob@example.com SIP/2.0\r\n" + headers + b"\r\n" + body


# --- whole messages ----------------------------------------------------------


def test_one_message_without_body() -> None:
    framer = StreamFramer()
    framer.feed(OPTIONS)
    assert framer.next_item() == OPTIONS
    assert framer.next_item() is None
    assert framer.buffered == b""


def test_body_is_exactly_content_length_octets_even_if_it_contains_crlfcrlf() -> None:
    assert frame(INVITE) == [INVITE]


def test_pipelined_messages_in_one_read() -> None:
    assert frame(OPTIONS + INVITE + OPTIONS) == [OPTIONS, INVITE, OPTIONS]


def test_partial_message_waits_and_keeps_the_bytes() -> None:
    framer = StreamFramer()
    framer.feed(INVITE[:-5])
    assert framer.next_item() is None
    assert framer.buffered == INVITE[:-5]
    framer.feed(INVITE[-5:] + OPTIONS[:10])
    assert framer.next_item() == INVITE
    assert framer.next_item() is None
    assert framer.buffered == OPTIONS[:10]


@pytest.mark.parametrize("stream", [OPTIONS + INVITE, b"\r\n\r\n" + INVITE + b"\r\n" + OPTIONS])
def test_every_two_way_split_frames_the_same(stream: bytes) -> None:
    whole = frame(stream)
    for cut in range(len(stream) + 1):
        assert frame(stream[:cut], stream[cut:]) == whole, cut


def test_byte_at_a_time() -> None:
    stream = b"\r\n\r\n" + INVITE + OPTIONS + b"\r\n\r\n"
    assert frame(*(stream[i : i + 1] for i in range(len(stream)))) == [
        KeepAlive.PING,
        INVITE,
        OPTIONS,
        KeepAlive.PING,
    ]


# --- Content-Length lookup ---------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"Content-Length: 5",
        b"content-length: 5",
        b"CONTENT-LENGTH:5",
        b"Content-Length   :   5   ",
        b"l: 5",
        b"L:5",
        b"Content-Length:\r\n 5",
        b"Content-Length: \r\n\t5",
    ],
)
def test_content_length_spellings(line: bytes) -> None:
    data = message(b"To: <sip:bob@example.com>\r\n" + line + b"\r\n", b"hello")
    assert frame(data + OPTIONS) == [data, OPTIONS]


def test_other_headers_that_look_like_content_length_are_ignored() -> None:
    data = message(
        b"X-Content-Length: 99\r\n"
        b"Lx: 99\r\n"
        b"Subject: see\r\n l: 99\r\n"  # a folded continuation, not a header
        b"Content-Length: 2\r\n",
        b"ok",
    )
    assert frame(data) == [data]


def test_repeated_identical_content_length_is_accepted() -> None:
    data = message(b"Content-Length: 2\r\nl: 2\r\n", b"ok")
    assert frame(data) == [data]


def test_content_length_in_the_start_line_is_not_a_header() -> None:
    data = b"l: 3 sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    assert frame(data) == [data]


# --- keep-alives ---------------------------------------------------------------


def test_crlfcrlf_is_a_ping_and_crlf_before_a_message_is_a_pong() -> None:
    assert frame(b"\r\n\r\n" + b"\r\n" + OPTIONS) == [KeepAlive.PING, KeepAlive.PONG, OPTIONS]


def test_run_of_crlfs_pairs_into_pings() -> None:
    assert frame(b"\r\n" * 5 + OPTIONS) == [
        KeepAlive.PING,
        KeepAlive.PING,
        KeepAlive.PONG,
        OPTIONS,
    ]


def test_ping_split_across_reads_is_still_one_ping() -> None:
    framer = StreamFramer()
    framer.feed(b"\r\n")
    assert framer.next_item() is None
    framer.feed(b"\r\n")
    assert framer.next_item() is KeepAlive.PING
    assert framer.buffered == b""


def test_trailing_lone_crlf_waits_by_default_then_resolves() -> None:
    framer = StreamFramer()
    framer.feed(b"\r\n")
    assert framer.next_item() is None
    assert framer.buffered == b"\r\n"
    framer.feed(b"OPTIONS")
    assert framer.next_item() is KeepAlive.PONG
    assert framer.next_item() is None
    assert framer.buffered == b"OPTIONS"


def test_pinging_side_sees_a_lone_pong_at_once() -> None:
    framer = StreamFramer(expect_pongs=True)
    framer.feed(b"\r\n")
    assert framer.next_item() is KeepAlive.PONG
    assert framer.next_item() is None
    framer.feed(b"\r\n\r\n" + OPTIONS)
    assert drain(framer) == [KeepAlive.PING, OPTIONS]


def test_crlfs_inside_a_message_are_not_keep_alives() -> None:
    body = b"\r\n\r\n\r\n"
    data = message(b"Content-Length: 6\r\n", body)
    assert frame(data + b"\r\n\r\n") == [data, KeepAlive.PING]


# --- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (b"To: <sip:bob@example.com>\r\n", "has no Content-Length (RFC 3261 §18.3)"),
        (b"Content-Length: ten\r\n", "Content-Length 'ten' is not a non-negative integer"),
        (b"Content-Length: -1\r\n", "Content-Length '-1' is not a non-negative integer"),
        (b"Content-Length: 1 2\r\n", "Content-Length '1 2' is not a non-negative integer"),
        (b"Content-Length:\r\n", "Content-Length '' is not a non-negative integer"),
        (b"Content-Length: 2\r\nl: 3\r\n", "conflicting Content-Length values: 2, 3"),
        (b"Content-Length: " + b"9" * 40 + b"\r\n", "absurdly large"),
    ],
)
def test_bad_content_length_fails_the_framer(headers: bytes, reason: str) -> None:
    framer = StreamFramer()
    framer.feed(message(headers, b"abc"))
    with pytest.raises(FramingError) as first:
        framer.next_item()
    assert reason in first.value.reason
    assert framer.failed
    # Failed for good: the connection must be closed, never resynchronised.
    with pytest.raises(FramingError) as again:
        framer.next_item()
    assert again.value is first.value
    with pytest.raises(FramingError):
        framer.feed(OPTIONS)


def test_framing_error_is_a_value_error() -> None:
    assert issubclass(FramingError, ValueError)


def test_bare_lf_header_block_is_rejected() -> None:
    framer = StreamFramer()
    framer.feed(b"OPTIONS sip:bob@example.com SIP/2.0\nContent-Length: 0\n\n")
    with pytest.raises(FramingError, match="bare LF"):
        framer.next_item()


def test_bare_lf_inside_an_otherwise_crlf_header_block_is_rejected() -> None:
    framer = StreamFramer()
    framer.feed(b"OPTIONS sip:b SIP/2.0\r\nTo: x\n\nContent-Length: 0\r\n\r\n")
    with pytest.raises(FramingError, match="bare LF"):
        framer.next_item()


def test_bare_lf_in_a_body_is_just_body() -> None:
    data = message(b"Content-Length: 4\r\n", b"a\n\nb")
    assert frame(data) == [data]


def test_bare_cr_between_messages_is_rejected() -> None:
    framer = StreamFramer()
    framer.feed(b"\rOPTIONS")
    with pytest.raises(FramingError, match="bare CR"):
        framer.next_item()


def test_message_at_the_size_limit_is_accepted_and_one_octet_more_is_not() -> None:
    size = len(INVITE)
    assert frame(INVITE, max_message_size=size) == [INVITE]
    framer = StreamFramer(size - 1)
    framer.feed(INVITE[: INVITE.index(b"\r\n\r\n") + 4])  # the header block alone
    with pytest.raises(FramingError) as error:
        framer.next_item()
    assert error.value.reason == (
        f"message of {size} octets (Content-Length {len(BODY)}) exceeds max_message_size "
        f"({size - 1})"
    )


def test_oversize_header_block_is_rejected() -> None:
    data = message(b"Subject: " + b"x" * 200 + b"\r\nContent-Length: 0\r\n")
    framer = StreamFramer(100)
    framer.feed(data)
    with pytest.raises(FramingError, match=r"header block of \d+ octets exceeds"):
        framer.next_item()


def test_endless_header_block_is_rejected_before_it_ends() -> None:
    framer = StreamFramer(100)
    framer.feed(b"OPTIONS sip:b SIP/2.0\r\n")
    assert framer.next_item() is None
    for _ in range(10):
        framer.feed(b"X-Filler: " + b"y" * 10 + b"\r\n")
        if framer.failed:
            break
        try:
            framer.next_item()
        except FramingError as exc:
            assert "without an empty line" in exc.reason
            break
    assert framer.failed


def test_max_message_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        StreamFramer(0)


# --- hypothesis: random pipelined streams at random split points -------------------

_names = st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH", "l", "L"])
_bodies = st.binary(max_size=64) | st.sampled_from([b"\r\n\r\n", b"\r\n", b"x\r\n\r\ny"])


@st.composite
def sip_messages(draw: st.DrawFn) -> bytes:
    body = draw(_bodies)
    name = draw(_names)
    colon = draw(st.sampled_from([": ", ":", " : ", ":\r\n "]))
    extra = draw(st.lists(st.sampled_from([b"Subject: hi\r\n", b"X-L: 3\r\n"]), max_size=2))
    header = f"{name}{colon}{len(body)}\r\n".encode()
    return message(b"".join(extra) + header, body)


@st.composite
def streams(draw: st.DrawFn) -> list[bytes | KeepAlive]:
    kinds = draw(st.lists(st.sampled_from(["msg", "ping", "pong"]), max_size=8))
    items: list[bytes | KeepAlive] = []
    for i, kind in enumerate(kinds):
        if kind == "msg":
            items.append(draw(sip_messages()))
        elif kind == "ping":
            items.append(KeepAlive.PING)
        elif i + 1 < len(kinds) and kinds[i + 1] == "msg":
            # A pong is only unambiguous when a message follows it: CRLF then
            # CRLFCRLF is read as PING, PONG (CRLFs pair up greedily).
            items.append(KeepAlive.PONG)
    return items


def encode(item: bytes | KeepAlive) -> bytes:
    if item is KeepAlive.PING:
        return b"\r\n\r\n"
    if item is KeepAlive.PONG:
        return b"\r\n"
    assert isinstance(item, bytes)
    return item


@settings(max_examples=300, deadline=None)
@given(items=streams(), data=st.data())
def test_random_splits_of_random_streams_frame_identically(
    items: list[bytes | KeepAlive], data: st.DataObject
) -> None:
    stream = b"".join(encode(item) for item in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    framer = StreamFramer()
    got: list[bytes | KeepAlive] = []
    for chunk in chunks:
        framer.feed(chunk)
        got += drain(framer)
    assert got == items
    assert framer.buffered == b""
