"""Request-level checks a UAS makes before processing a parsed request (RFC 3261 §8.2).

Knows: which properties of a syntactically valid request still oblige a UAS to reject it,
and with which status. Must not know: transactions, dialogs or how the response is sent;
the server-transaction boundary turns the ParseError into a response with ``status_hint``.

``parse_message`` already guarantees what every message needs (SIP/2.0; Via, From, To,
Call-ID and CSeq present once; CSeq method equal to the request method; numbers in range).
``validate_request`` adds the checks that depend on what this UAS supports.
"""

from __future__ import annotations

from typing import Final

from voipkit.sip.errors import BadExtensionError, ParseError
from voipkit.sip.message import Request
from voipkit.sip.uri import SipUri, TelUri

#: Methods defined by RFC 3261 and the extensions in this SDK's table; a method outside this
#: set is "not implemented" (501), one inside it but not allowed here is 405 (§8.2.1).
KNOWN_METHODS: Final = frozenset({
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
})

#: RFC 3261 §8.1.1.7: the magic cookie that starts every RFC 3261 branch.
_MAGIC_COOKIE: Final = "z9hG4bK"


def validate_request(request: Request, *, supported: frozenset[str],
                     allowed_methods: frozenset[str] | None = None) -> None:
    """Raise the error a UAS must answer ``request`` with, or return None.

    Checks, in the order of RFC 3261 §8.2:

    - §8.2.1: when ``allowed_methods`` is given, a method outside it gets 405 if it is a
      known SIP method and 501 otherwise (the response must carry Allow).
    - §8.2.2.1: the Request-URI scheme must be sip, sips or tel, else 416.
    - §8.2.2.3: every option tag in Require must be in ``supported``, else 420
      (``BadExtensionError.unsupported`` lists them). Not checked for ACK and CANCEL,
      which cannot be rejected that way.
    - §10.3: a REGISTER's To must hold a SIP or SIPS address-of-record, else 400
      (RFC 4475 §3.3.4).
    - RFC 4475 §3.2.1: a branch that is only the magic cookie identifies nothing; 400.
    - §8.1.1.5: the CSeq method must match the request method, 400 (also enforced by
      ``parse_message``, repeated here for requests built in code).

    Raises:
        ParseError: with ``status_hint`` set to the response status.
    """
    method = request.method
    if allowed_methods is not None and method not in allowed_methods:
        if method in KNOWN_METHODS:
            raise ParseError(f"method {method} is not allowed here", status_hint=405)
        raise ParseError(f"method {method[:40]} is not implemented", status_hint=501)
    if not isinstance(request.uri, SipUri | TelUri):
        raise ParseError(f"unsupported Request-URI scheme {request.uri.scheme!r} "
                         "(RFC 3261 §8.2.2.1)", status_hint=416)
    if request.cseq.method != method:
        raise ParseError(f"CSeq method {request.cseq.method} does not match request method "
                         f"{method} (RFC 3261 §8.1.1.5)")
    if method != "ACK" and method != "CANCEL":
        required = [tag for value in request.headers.getall("Require")
                    for tag in (value.strip(),) if tag]
        unsupported = tuple(tag for tag in required if tag not in supported)
        if unsupported:
            raise BadExtensionError(f"unsupported option tags in Require: {', '.join(unsupported)}"
                                    " (RFC 3261 §8.2.2.3)", unsupported=unsupported)
    if method == "REGISTER" and not isinstance(request.to.uri, SipUri):
        raise ParseError("the To of a REGISTER must be a SIP or SIPS address-of-record "
                         "(RFC 3261 §10.2)")
    branch = request.via[0].branch
    if branch == _MAGIC_COOKIE:
        raise ParseError("Via branch is only the magic cookie z9hG4bK (RFC 4475 §3.2.1)")
