"""Sans-IO SIP: messages, URIs, and (from other modules) transactions, dialogs and the core.

Knows: what the submodules export. Must not know: anything of its own; it only re-exports.
"""

from voipkit.sip.errors import (
    BadExtensionError,
    LocalProtocolError,
    ParseError,
    RemoteProtocolError,
    SipProtocolError,
)
from voipkit.sip.headers import HEADER_SPECS, Headers, HeaderSpec
from voipkit.sip.message import CSeq, Message, NameAddr, Request, Response, Via, parse_message
from voipkit.sip.status import StatusCode, reason_phrase
from voipkit.sip.uri import AbsoluteUri, SipUri, TelUri, parse_uri

__all__ = [
    "HEADER_SPECS",
    "AbsoluteUri",
    "BadExtensionError",
    "CSeq",
    "HeaderSpec",
    "Headers",
    "LocalProtocolError",
    "Message",
    "NameAddr",
    "ParseError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "SipProtocolError",
    "SipUri",
    "StatusCode",
    "TelUri",
    "Via",
    "parse_message",
    "parse_uri",
    "reason_phrase",
]
