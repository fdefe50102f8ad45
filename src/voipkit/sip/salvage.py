"""Answer a request the parser rejected, from what survives of its raw text.

Knows: the bare shape of a SIP request (a start line, header lines, RFC 3261
§7.3.1 folding) and which headers a response must copy (§8.2.6.2: From, Call-ID,
CSeq, Via, and To with a tag added). Must not know: transactions, dialogs or
sockets — the core decides whether to send what this builds.

The parser is strict, so a request it rejects may have an unparsable Via, From,
To or CSeq (RFC 4475 §3.1.2 is a catalogue of such messages, each of which
"should" get a 400 or 505). Re-parsing those values would fail again, so this
module copies them byte for byte into the response instead: the response the
sender gets back carries exactly the values it sent, which is what it matches
on. Only the top Via is interpreted, to add ``received``/``rport`` and to pick
the destination; when even that is unparsable the response goes back to the
packet's source address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voipkit.sip.addressing import Address, Destination, TransportKind
from voipkit.sip.errors import ParseError
from voipkit.sip.headers import Via, split_list
from voipkit.sip.transaction.server import response_destination

_FOLD = re.compile(rb"\r?\n[ \t]+")
_TOKEN = re.compile(rb"[A-Za-z0-9\-.!%*_+`'~]+")

#: Header names whose values a response copies, with their compact forms (RFC 3261 §7.3.3).
_COPIED = {b"via": b"Via", b"v": b"Via", b"from": b"From", b"f": b"From", b"to": b"To",
           b"t": b"To", b"call-id": b"Call-ID", b"i": b"Call-ID", b"cseq": b"CSeq"}


@dataclass(frozen=True, slots=True)
class SalvagedRequest:
    """What a response to an unparsable request needs, as raw header values."""

    method: str
    "The request method (a token), e.g. to refuse to answer an ACK."

    headers: dict[bytes, list[bytes]]
    "Raw values of Via, From, To, Call-ID and CSeq, keyed by canonical name, in order."

    @property
    def top_via(self) -> Via | None:
        """The first Via value, if it parses."""
        vias = self.headers.get(b"Via")
        if not vias:
            return None
        try:
            return Via.parse(split_list(vias[0].decode("latin-1"))[0])
        except (ParseError, IndexError, ValueError):
            return None


def salvage(data: bytes) -> SalvagedRequest | None:
    """Pull the start line and copied headers out of ``data``.

    Returns None when ``data`` is not recognisably a request (a response, no
    method token, no Via), since then there is nobody to answer.
    """
    head = data.split(b"\r\n\r\n", 1)[0].lstrip(b"\r\n")
    lines = _FOLD.sub(b" ", head).splitlines()
    if not lines:
        return None
    start = lines[0].split()
    if len(start) < 2 or start[0].upper().startswith(b"SIP/") or not _TOKEN.fullmatch(start[0]):
        return None
    headers: dict[bytes, list[bytes]] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        canonical = _COPIED.get(name.strip().lower()) if colon else None
        if canonical is not None:
            headers.setdefault(canonical, []).append(value.strip())
    if not headers.get(b"Via"):
        return None
    return SalvagedRequest(start[0].decode("ascii"), headers)


def build_response(request: SalvagedRequest, status: int, reason: str, *, to_tag: str,
                   source: Address, transport: TransportKind,
                   extra: tuple[tuple[str, str], ...] = ()) -> tuple[Destination, bytes]:
    """The bytes of a ``status`` response to ``request`` and where to send them.

    The top Via gets ``received`` (and ``rport`` when asked for) as RFC 3261
    §18.2.1 and RFC 3581 require; a To without a tag gets ``to_tag``.
    """
    reason_bytes = " ".join(reason.split()).encode("utf-8", "replace")[:200] or b"Error"
    out = [b"SIP/2.0 %d %s" % (status, reason_bytes)]
    top = request.top_via
    vias = list(request.headers[b"Via"])
    if top is not None:
        host, port = source
        if top.has_rport and top.rport is None:
            top.params["rport"] = str(port)
            top.params["received"] = host
        elif top.host.lower() != host.lower():
            top.params["received"] = host
        rest = split_list(vias[0].decode("latin-1"))[1:]
        vias[0] = ", ".join([str(top), *rest]).encode("latin-1")
        destination = response_destination(top, source, transport)
    else:
        destination = Destination(transport, source[0], source[1])
    out += [b"Via: " + value for value in vias]
    for name in (b"From", b"To", b"Call-ID", b"CSeq"):
        for value in request.headers.get(name, []):
            if name == b"To" and b";tag=" not in value.lower().replace(b" ", b""):
                value += b";tag=" + to_tag.encode("ascii")
            out.append(name + b": " + value)
    out += [f"{name}: {value}".encode() for name, value in extra]
    out.append(b"Content-Length: 0")
    return destination, b"\r\n".join(out) + b"\r\n\r\n"
