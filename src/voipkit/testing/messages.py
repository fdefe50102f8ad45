"""Builders for the requests and responses tests need, with readable defaults.

Knows: how to assemble a plausible out-of-dialog request (RFC 3261 §8.1.1)
from a few arguments. Must not know: transactions or the core — the core adds
the Via itself when sending. Nothing in ``src`` imports this module.
"""

from __future__ import annotations

from voipkit.sip.message import CSeq, NameAddr, Request, Response
from voipkit.sip.uri import SipUri

ALICE = "sip:alice@example.com"
BOB = "sip:bob@example.com"


def _request(method: str, uri: str, *, from_: str, to: str, call_id: str, cseq: int,
             from_tag: str, contact: str | None, body: bytes = b"",
             content_type: str | None = None) -> Request:
    return Request(
        method,
        SipUri.parse(uri),
        from_=NameAddr(SipUri.parse(from_), None, {"tag": from_tag}),
        to=NameAddr(SipUri.parse(to)),
        call_id=call_id,
        cseq=CSeq(cseq, method),
        contact=[NameAddr(SipUri.parse(contact))] if contact else [],
        body=body,
        content_type=content_type,
    )


def options(uri: str = BOB, *, from_: str = ALICE, call_id: str = "options-1",
            cseq: int = 1, from_tag: str = "a1") -> Request:
    """An out-of-dialog OPTIONS (RFC 3261 §11)."""
    return _request("OPTIONS", uri, from_=from_, to=uri, call_id=call_id, cseq=cseq,
                    from_tag=from_tag, contact=None)


def invite(uri: str = BOB, *, from_: str = ALICE, call_id: str = "call-1", cseq: int = 1,
           from_tag: str = "a1", contact: str = "sip:alice@127.0.0.1:5060",
           body: bytes = b"", content_type: str | None = None) -> Request:
    """An initial INVITE (RFC 3261 §13.2.1) with a Contact; the body is opaque."""
    return _request("INVITE", uri, from_=from_, to=uri, call_id=call_id, cseq=cseq,
                    from_tag=from_tag, contact=contact, body=body,
                    content_type=content_type)


def register(registrar: str = "sip:example.com", *, aor: str = ALICE,
             contact: str = "sip:alice@127.0.0.1:5060", call_id: str = "reg-1",
             cseq: int = 1, from_tag: str = "a1", expires: int = 3600) -> Request:
    """A REGISTER binding ``contact`` to ``aor`` (RFC 3261 §10.2)."""
    request = _request("REGISTER", registrar, from_=aor, to=aor, call_id=call_id, cseq=cseq,
                       from_tag=from_tag, contact=contact)
    request.expires = expires
    return request


def response_to(request: Request, status: int, reason: str | None = None, *,
                to_tag: str | None = "b1", contact: str | None = None) -> Response:
    """A response to ``request`` (RFC 3261 §8.2.6); 100 never gets a To tag."""
    tag = None if status == 100 else to_tag
    response = Response.for_request(request, status, reason, to_tag=tag)
    if contact is not None:
        response.contact = [NameAddr(SipUri.parse(contact))]
    return response
