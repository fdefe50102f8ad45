"""Cutting a TCP/TLS byte stream into SIP messages and keep-alives.

Knows: RFC 3261 §18.3 (on a stream the Content-Length header field says where a
message ends), §7.3.3 (the compact form ``l``), §7.3.1 (header folding and the
``HCOLON`` rule), §7.5 (CRLFs before a start-line are ignored), and RFC 5626
§3.5.1/§4.4.1 (a CRLFCRLF "ping" from the client, a single CRLF "pong" from the
server). Must not know: sockets, the message grammar beyond the header-block
boundary and Content-Length, or what the messages mean — the parser
(``voipkit.sip.message``) gets the framed bytes and may still reject them.

Line endings are strict: RFC 3261 §7 builds every line from CRLF, so a bare-LF
header block (``\\n\\n``) is a FramingError rather than something to guess
around. A peer that gets framing wrong cannot be resynchronised safely, so every
FramingError is final: the framer stays failed and the connection must be
closed.

The scan is linear and done by ``bytes.find`` and one compiled regex over the
header block; there is no per-byte Python loop. A header block is parsed at most
once, however the body trickles in.
"""

from __future__ import annotations

import re
from enum import Enum

__all__ = ["FramingError", "KeepAlive", "StreamFramer"]

_CRLF = b"\r\n"
_CRLFCRLF = b"\r\n\r\n"

# A Content-Length header line (full or compact name, RFC 3261 §7.3.3), anchored
# on the CRLF that ends the previous line so that a folded continuation (which
# starts with SP or HTAB) can never be taken for a header name. HCOLON allows
# whitespace before the colon (§25.1). The value runs over continuation lines.
_CONTENT_LENGTH = re.compile(
    rb"\r\n(?:content-length|l)[ \t]*:((?:[^\r\n]|\r\n[ \t])*)", re.IGNORECASE
)
_DIGITS = re.compile(rb"[0-9]+")
_WHITESPACE = re.compile(rb"[ \t\r\n]+")


class KeepAlive(Enum):
    """An RFC 5626 keep-alive seen between messages."""

    PING = "ping"
    """CRLFCRLF, sent by the client; the server answers with a PONG."""

    PONG = "pong"
    """A single CRLF, the server's answer to a PING."""


class FramingError(ValueError):
    """The stream cannot be framed; the connection must be closed.

    Attributes:
        reason: what was wrong, for logs and counters.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StreamFramer:
    """Turns stream reads into whole SIP messages and keep-alives.

    Feed it whatever the socket produced, then call ``next_item()`` until it
    returns None::

        framer.feed(data)
        while (item := framer.next_item()) is not None:
            ...  # bytes: one message; KeepAlive.PING / KeepAlive.PONG

    A lone CRLF at the very end of the buffer is ambiguous: it may be a PONG, or
    the first half of a PING whose second half is still in flight. By default
    the framer waits for the next byte, so the result never depends on how the
    stream was split. The side of a flow that *sends* pings (the RFC 5626
    client; servers never ping) should pass ``expect_pongs=True``: a trailing
    lone CRLF is then a PONG at once, because waiting would make every pong
    look late. Leading CRLFs before a message (RFC 3261 §7.5) come out as
    keep-alive items too; callers ignore the ones they were not waiting for.

    Args:
        max_message_size: the largest message (header block plus body, in
            octets) accepted; anything larger is a FramingError.
        expect_pongs: report a trailing lone CRLF as a PONG immediately.
    """

    def __init__(self, max_message_size: int = 65536, *, expect_pongs: bool = False) -> None:
        if max_message_size < 1:
            raise ValueError(f"max_message_size must be positive, not {max_message_size}")
        self.max_message_size = max_message_size
        self.expect_pongs = expect_pongs
        self._buffer = bytearray()
        self._start = 0  # where the unconsumed data begins in _buffer
        self._scan_from = 0  # offset (from _start) where the header-end search resumes
        self._total: int | None = None  # size of the current message, once its headers are read
        self._error: FramingError | None = None

    @property
    def buffered(self) -> bytes:
        """The bytes received but not yet returned as an item."""
        return bytes(self._buffer[self._start :])

    @property
    def failed(self) -> bool:
        """True once a FramingError has been raised; the framer is then unusable."""
        return self._error is not None

    def feed(self, data: bytes) -> None:
        """Append bytes read from the stream.

        Raises:
            FramingError: the framer already failed (the same error again).
        """
        if self._error is not None:
            raise self._error
        if self._start:
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data

    def next_item(self) -> bytes | KeepAlive | None:
        """The next complete message or keep-alive, or None if more data is needed.

        Returns:
            The octets of one message (header block, blank line and exactly
            Content-Length body octets), a KeepAlive, or None.

        Raises:
            FramingError: the stream is broken (missing, invalid or conflicting
                Content-Length, bare-LF line endings, a message larger than
                ``max_message_size``). Once raised, every later call raises it
                again.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next_item()
        except FramingError as exc:
            self._error = exc
            raise

    def _next_item(self) -> bytes | KeepAlive | None:
        buf = self._buffer
        start = self._start
        available = len(buf) - start
        if self._total is None:
            if available == 0:
                return None
            if buf[start] == 0x0D:  # "\r": a keep-alive, or the start of one
                return self._keep_alive(available)
            self._total = self._read_header_block()
            if self._total is None:
                return None
        total = self._total
        if available < total:
            return None
        message = bytes(buf[start : start + total])
        self._start = start + total
        self._scan_from = 0
        self._total = None
        return message

    def _keep_alive(self, available: int) -> KeepAlive | None:
        """Classify CRLFs between messages (RFC 5626 §4.4.1, RFC 3261 §7.5)."""
        head = bytes(self._buffer[self._start : self._start + 4])
        if head == _CRLFCRLF:
            self._start += 4
            return KeepAlive.PING
        if not _CRLFCRLF.startswith(head):
            if head.startswith(_CRLF):  # CRLF followed by a start-line
                self._start += 2
                return KeepAlive.PONG
            # "\r" not followed by "\n": neither a keep-alive nor a start-line.
            raise FramingError(
                f"bare CR between messages (got {head!r}); RFC 3261 §7 lines end in CRLF"
            )
        # head is a strict prefix of CRLFCRLF: "\r", "\r\n" or "\r\n\r"
        if head == _CRLF and self.expect_pongs:
            self._start += 2
            return KeepAlive.PONG
        return None

    def _read_header_block(self) -> int | None:
        """Find the header block's end and return the whole message's size."""
        buf = self._buffer
        start = self._start
        available = len(buf) - start
        end = buf.find(_CRLFCRLF, start + self._scan_from)
        if end < 0:
            if buf.find(b"\n\n", start + max(self._scan_from - 1, 0)) >= 0:
                raise FramingError(
                    "header block ends with a bare LF; RFC 3261 §7 requires CRLF line endings"
                )
            if available > self.max_message_size:
                raise FramingError(
                    f"header block exceeds max_message_size ({self.max_message_size} octets) "
                    "without an empty line"
                )
            # Resume next time just before the end: the CRLFCRLF may straddle reads.
            self._scan_from = max(available - 3, 0)
            return None
        header_length = end + 4 - start
        if buf.find(b"\n\n", start, end) >= 0:
            raise FramingError(
                "header block contains a bare LF; RFC 3261 §7 requires CRLF line endings"
            )
        if header_length > self.max_message_size:
            raise FramingError(
                f"header block of {header_length} octets exceeds max_message_size "
                f"({self.max_message_size})"
            )
        body_length = self._content_length(bytes(buf[start:end]))
        total = header_length + body_length
        if total > self.max_message_size:
            raise FramingError(
                f"message of {total} octets (Content-Length {body_length}) exceeds "
                f"max_message_size ({self.max_message_size})"
            )
        return total

    @staticmethod
    def _content_length(header_block: bytes) -> int:
        """The Content-Length of a header block (start-line included, final CRLFCRLF not).

        RFC 3261 §18.3: "In the case of stream-oriented transports such as TCP,
        the Content-Length header field indicates the size of the body. The
        Content-Length header field MUST be used with stream oriented
        transports."
        """
        values: set[int] = set()
        for match in _CONTENT_LENGTH.finditer(header_block):
            raw = _WHITESPACE.sub(b" ", match.group(1)).strip()
            if not _DIGITS.fullmatch(raw):
                shown = raw.decode("ascii", "backslashreplace")
                raise FramingError(f"Content-Length {shown!r} is not a non-negative integer")
            if len(raw) > 18:  # far beyond any max_message_size; int() would be slow
                raise FramingError(f"Content-Length {raw.decode()} is absurdly large")
            values.add(int(raw))
        if not values:
            raise FramingError(
                "message on a stream transport has no Content-Length (RFC 3261 §18.3)"
            )
        if len(values) > 1:
            shown = ", ".join(str(v) for v in sorted(values))
            raise FramingError(f"conflicting Content-Length values: {shown}")
        return values.pop()
