"""The Replaces header (RFC 3891) and the Refer-To URIs that carry it (attended transfer).

Knows: the header's syntax (call-id, to-tag, from-tag, early-only), the
escaping of a header embedded in a URI (RFC 3261 §19.1.1), and the rule a UAS
applies to an INVITE with Replaces: which of its dialogs is targeted, or which
error to answer (RFC 3891 §3). Must not know: how the new call replaces the
old one (that is the api's job: answer the new INVITE, BYE the old dialog),
transactions, sockets or clocks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from voipkit.sip.dialog import Dialog, DialogId, DialogState
from voipkit.sip.errors import ReplacesError
from voipkit.sip.message import Request
from voipkit.sip.uri import SipUri, unescape

_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_WORD = r"[A-Za-z0-9.!%*_+`'~()<>:\\\"/\[\]?{}-]+"
_CALLID = re.compile(f"{_WORD}(?:@{_WORD})?")
# RFC 3261 §25.1: hnv-unreserved and unreserved characters stay as they are in a
# URI header value; everything else is %HH-escaped.
_HVALUE_SAFE = "[]/?:+$-_.!~*'()"


@dataclass(frozen=True, slots=True)
class Replaces:
    """RFC 3891 §6.1: ``callid;to-tag=..;from-tag=..[;early-only]``.

    The tags are "matched as if they were tags present in an incoming request"
    at the UA that receives the INVITE: ``to_tag`` is that UA's local tag.
    """

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False

    @property
    def dialog_id(self) -> DialogId:
        """The dialog this header names, from the receiving UA's point of view."""
        return DialogId(self.call_id, self.to_tag, self.from_tag)

    def __str__(self) -> str:
        text = f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}"
        return text + ";early-only" if self.early_only else text

    @classmethod
    def for_dialog(cls, dialog_id: DialogId, *, early_only: bool = False) -> Replaces:
        """The Replaces that names our dialog ``dialog_id`` at our peer in it (attended transfer).

        The INVITE with Replaces reaches the *peer* of that dialog, whose local
        tag is our remote tag: so to-tag is our remote tag, from-tag our local tag.
        """
        return cls(dialog_id.call_id, dialog_id.remote_tag, dialog_id.local_tag, early_only)


def parse_replaces(value: str) -> Replaces:
    """Parse a Replaces header value.

    RFC 3891 §6.1: "replaces-param = to-tag / from-tag / early-flag / generic-param";
    a Replaces header "MUST contain exactly one to-tag and exactly one from-tag".

    Raises:
        ReplacesError: 400 for a bad Call-ID, missing or repeated tags, an early-only with a value.
    """
    call_id, *params = [part.strip() for part in value.strip().split(";")]
    if not call_id or _CALLID.fullmatch(call_id) is None:
        raise ReplacesError(f"Replaces Call-ID {call_id!r} is not a callid")
    tags: dict[str, str] = {}
    early_only = False
    for param in params:
        name, eq, raw = param.partition("=")
        name = name.strip().lower()
        if _TOKEN.fullmatch(name) is None:
            raise ReplacesError(f"Replaces parameter {param!r} is not a token")
        if name in ("to-tag", "from-tag"):
            if name in tags:
                raise ReplacesError(f"Replaces has more than one {name} (RFC 3891 §6.1)")
            tag = raw.strip()
            if not eq or _TOKEN.fullmatch(tag) is None:
                raise ReplacesError(f"Replaces {name} {tag!r} is not a token")
            tags[name] = tag
        elif name == "early-only":
            if eq:
                raise ReplacesError("Replaces early-only takes no value (RFC 3891 §6.1)")
            early_only = True
    for name in ("to-tag", "from-tag"):
        if name not in tags:
            raise ReplacesError(f"Replaces has no {name} (RFC 3891 §6.1)")
    return Replaces(call_id, tags["to-tag"], tags["from-tag"], early_only)


def replaces_of(request: Request) -> Replaces | None:
    """The Replaces of an incoming INVITE, or None when it has none.

    RFC 3891 §3: "If more than one Replaces header field is present in an
    INVITE, or if a Replaces header field is present in a request other than
    INVITE, the UAS MUST reject the request with a 400 Bad Request response."

    Raises:
        ReplacesError: 400 for several headers, a non-INVITE, or a bad value.
    """
    values = [v for name, v in request.headers if name.lower() == "replaces"]
    if not values:
        return None
    if request.method != "INVITE":
        raise ReplacesError(f"Replaces in a {request.method} request (RFC 3891 §3)")
    if len(values) > 1:
        raise ReplacesError("more than one Replaces header (RFC 3891 §3)")
    return parse_replaces(values[0])


def escape_header_value(text: str) -> str:
    """Escape ``text`` for use as a URI header value (RFC 3261 §19.1.1, §25.1 hvalue)."""
    return quote(text, safe=_HVALUE_SAFE)


def refer_to_with_replaces(target: SipUri, replaces: Replaces) -> SipUri:
    """``target`` with ``?Replaces=<escaped>`` added: the Refer-To of an attended transfer.

    For example ``sip:bob@host?Replaces=callid%3Bto-tag%3Dx%3Bfrom-tag%3Dy``
    (RFC 3891 §7.1, escaped per RFC 3261 §19.1.1).
    """
    headers = dict(target.headers)
    headers["Replaces"] = escape_header_value(str(replaces))
    return target.replace(headers=headers)


def replaces_in_uri(uri: SipUri) -> Replaces | None:
    """The Replaces embedded in a Refer-To URI (unescaped and parsed), or None.

    Raises:
        ReplacesError: the embedded value is not a valid Replaces.
    """
    for name, value in uri.headers.items():
        if name.lower() == "replaces":
            return parse_replaces(unescape(value))
    return None


def uri_without_headers(uri: SipUri) -> SipUri:
    """The request target for the INVITE a Refer-To asks for (headers go into the request)."""
    return uri.replace(headers={}) if uri.headers else uri


@dataclass(frozen=True, slots=True)
class ReplacesMatch:
    """What a UAS does with an INVITE carrying Replaces (``match_replaces``)."""

    dialog: DialogId | None
    "The dialog to replace; None when the INVITE must be refused."

    status: int | None
    "The refusal: 481, 486 or 603; None when ``dialog`` is set."

    reason: str
    "Why, for logs and the reason phrase."


def match_replaces(replaces: Replaces, lookup: Callable[[DialogId], Dialog | None],
                   *, invite_dialog: Callable[[DialogId], bool] | None = None) -> ReplacesMatch:
    """RFC 3891 §3: find the dialog an INVITE with Replaces targets, or the error to send.

    - no dialog matches: 481 ("the UAS MUST respond with a 481 Call/Transaction
      Does Not Exist"); also for a dialog not created by INVITE, and for "an
      early dialog that was not initiated by this UA";
    - the dialog has terminated: 603 ("the UA SHOULD decline the request with a
      603 Declined response");
    - early-only and the dialog is confirmed: 486 ("the UA MUST return a 486 Busy Here");
    - otherwise that dialog is replaced.

    Args:
        replaces: the parsed header (tags as in an incoming request).
        lookup: finds our dialog by id (``UserAgentCore.dialog``).
        invite_dialog: tells INVITE-created dialogs from others (default: all are).
    """
    dialog_id = replaces.dialog_id
    dialog = lookup(dialog_id)
    if dialog is None or (invite_dialog is not None and not invite_dialog(dialog_id)):
        return ReplacesMatch(None, 481, "no INVITE dialog matches the Replaces header")
    if dialog.state is DialogState.TERMINATED:
        return ReplacesMatch(None, 603, "the dialog to replace has already terminated")
    if dialog.state is DialogState.EARLY:
        if not dialog.is_uac:
            return ReplacesMatch(None, 481, "the early dialog to replace was not initiated"
                                            " by this UA")
        return ReplacesMatch(dialog_id, None, "replaces our early outgoing dialog")
    if replaces.early_only:
        return ReplacesMatch(None, 486, "early-only, but the dialog is confirmed")
    return ReplacesMatch(dialog_id, None, "replaces our confirmed dialog")


__all__ = [
    "Replaces",
    "ReplacesError",
    "ReplacesMatch",
    "escape_header_value",
    "match_replaces",
    "parse_replaces",
    "refer_to_with_replaces",
    "replaces_in_uri",
    "replaces_of",
    "uri_without_headers",
]
