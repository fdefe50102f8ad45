"""message/sipfrag (RFC 3420) as REFER progress reports use it (RFC 3515 §2.4.5).

Knows: a fragment's start line and optional header lines, and the status
lines a transferee reports ("SIP/2.0 100 Trying", "SIP/2.0 180 Ringing",
"SIP/2.0 200 OK", "SIP/2.0 503 Service Unavailable"). Must not know:
subscriptions, dialogs or transactions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from voipkit.sip.bodies.errors import BodyError
from voipkit.sip.status import reason_phrase

SIPFRAG = "message/sipfrag"
"The content type (RFC 3420 §2)."

_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9]) ([^\r\n]*)")
_HEADER_NAME = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")


@dataclass(frozen=True, slots=True)
class SipFrag:
    """A status-line fragment: status, reason and any header lines that followed."""

    status: int
    "The status code (100-699)."

    reason: str
    "The reason phrase as written (may be empty)."

    headers: tuple[tuple[str, str], ...] = ()
    "Header lines after the status line, in order, names as written."

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def is_final(self) -> bool:
        return self.status >= 200

    def __str__(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


def parse_sipfrag(data: bytes) -> SipFrag:
    """Parse a message/sipfrag body that must start with a SIP status line.

    RFC 3515 §2.4.5: "the body of a NOTIFY MUST begin with a SIP Response
    Status-Line". Header lines (RFC 3420 §2: any subset of a message's headers)
    may follow, then an optional blank line and body, which is ignored.

    Raises:
        BodyError: empty, not UTF-8, a request line or bad status line, a bad header line.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"sipfrag is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise BodyError("sipfrag is empty; a REFER NOTIFY needs a status line")
    lines = re.split(r"\r?\n", text)
    first = lines[0]
    match = _STATUS_LINE.fullmatch(first)
    if match is None:
        if re.fullmatch(r"[A-Za-z]+ \S+ SIP/2\.0", first):
            raise BodyError(f"sipfrag starts with a request line {first!r};"
                            " RFC 3515 §2.4.5 requires a status line")
        raise BodyError(f"sipfrag start line {first!r} is not 'SIP/2.0 <100-699> <reason>'")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line == "":
            break  # end of the headers; a fragment body may follow
        if line[0] in " \t" and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or _HEADER_NAME.fullmatch(name.rstrip()) is None:
            raise BodyError(f"sipfrag header line {line!r} is not 'Name: value'")
        headers.append((name.rstrip(), value.strip()))
    return SipFrag(int(match.group(1)), match.group(2), tuple(headers))


def build_sipfrag(status: int, reason: str | None = None,
                  headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """The body for a REFER progress NOTIFY: ``SIP/2.0 <status> <reason>`` and CRLF.

    Raises:
        ValueError: a status outside 100-699 or a line break inside a field.
    """
    if not 100 <= status <= 699:
        raise ValueError(f"sipfrag status {status} is outside 100-699")
    phrase = reason_phrase(status) if reason is None else reason
    parts = [f"SIP/2.0 {status} {phrase}"]
    parts += [f"{name}: {value}" for name, value in headers]
    text = "\r\n".join(parts) + "\r\n"
    if text.count("\n") != len(parts):
        raise ValueError("sipfrag fields must not contain line breaks")
    return text.encode("utf-8")
