"""The facade's session table (sessionId <-> ``voipkit.api.Call``) and message text helpers.

Knows: ``voipkit.api.Call`` objects and the text of SIP messages as the vendor
hands them to callbacks (``str`` of the whole message). Must not know: the SIP or
SDP object model below ``api`` — what the callbacks need from a message body
(which audio codecs an offer carries) is read from its text here.

The table is touched only on the I/O loop, so it needs no lock.
"""

from __future__ import annotations

import re
from typing import SupportsBytes

from voipkit.api import Call, NotFoundError

#: RFC 3551 §6 static audio payload types voipkit may meet in an offer without a=rtpmap.
_STATIC_AUDIO = {0: "PCMU", 3: "GSM", 8: "PCMA", 9: "G722", 18: "G729"}
_RTPMAP = re.compile(r"^a=rtpmap:(\d+)\s+([^/\s]+)", re.IGNORECASE)


class SessionTable:
    """Live calls by sessionId (``Call.id``, always > 0)."""

    def __init__(self) -> None:
        self._calls: dict[int, Call] = {}

    def add(self, call: Call) -> int:
        self._calls[call.id] = call
        return call.id

    def discard(self, session_id: int) -> None:
        self._calls.pop(session_id, None)

    def call(self, session_id: int) -> Call:
        """The call with ``session_id``.

        Raises:
            NotFoundError: no live call has that id (it ended, or never existed).
        """
        if isinstance(session_id, bool) or not isinstance(session_id, int):
            raise NotFoundError(f"session id {session_id!r} is not an integer")
        call = self._calls.get(session_id)
        if call is None:
            raise NotFoundError(f"no call has session id {session_id}")
        return call

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._calls

    def __len__(self) -> int:
        return len(self._calls)

    def clear(self) -> None:
        self._calls.clear()


def message_text(message: SupportsBytes | None) -> str:
    """The whole SIP message as text (the manual's ``StringBuilder sipMessage``); "" for None."""
    if message is None:
        return ""
    return bytes(message).decode("utf-8", "replace")


def body_of(text: str) -> str:
    """The body of a SIP message's text (after the blank line, RFC 3261 §7)."""
    _, sep, body = text.partition("\r\n\r\n")
    return body if sep else ""


def media_summary(sdp: str, ours: tuple[str, ...]) -> tuple[str, bool, bool]:
    """(audioCodecNames, existsAudio, existsVideo) of an SDP body, as the callbacks report them.

    ``audioCodecNames`` are the codecs of the first active audio stream that we
    support too, in our order of preference, joined with ``#`` (the manual's
    separator). A stream with port 0 is disabled (RFC 3264 §6) and does not count.
    """
    names: list[str] = []
    exists_audio = exists_video = False
    in_audio = False
    seen_audio = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            fields = line[2:].split()
            active = len(fields) >= 3 and fields[1].split("/")[0] != "0"
            in_audio = fields[:1] == ["audio"] and active and not seen_audio
            if fields[:1] == ["audio"] and active:
                exists_audio = True
                if in_audio:
                    seen_audio = True
                    names += [_STATIC_AUDIO[int(pt)] for pt in fields[3:]
                              if pt.isdigit() and int(pt) in _STATIC_AUDIO]
            elif fields[:1] == ["video"] and active:
                exists_video = True
        elif in_audio and (match := _RTPMAP.match(line)) is not None:
            names.append(match.group(2))
    offered = {n.upper() for n in names}
    matched = [c.upper() for c in ours if c.upper() in offered]
    return "#".join(matched), exists_audio, exists_video


def header_value(message: str, name: str) -> str | None:
    """The value of header ``name`` in a SIP message's text, or None when it is absent.

    RFC 3261 §7.3.1: names are case-insensitive, a line starting with white space
    continues the previous header, and several lines of one header combine into a
    comma-separated list. Compact forms (§7.3.3) are accepted for either spelling.
    """
    wanted = {name.strip().lower()}
    for long_form, short in _COMPACT.items():
        if name.strip().lower() in (long_form, short):
            wanted = {long_form, short}
    head = message.split("\r\n\r\n", 1)[0].replace("\r\n", "\n")
    lines = head.split("\n")[1:]  # skip the start line
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        elif line:
            unfolded.append(line)
    values = []
    for line in unfolded:
        field, sep, value = line.partition(":")
        if sep and field.strip().lower() in wanted:
            values.append(value.strip())
    return ", ".join(values) if values else None


_COMPACT = {"call-id": "i", "contact": "m", "content-encoding": "e", "content-length": "l",
            "content-type": "c", "from": "f", "subject": "s", "supported": "k", "to": "t",
            "via": "v", "event": "o", "refer-to": "r", "allow-events": "u",
            "session-expires": "x", "referred-by": "b"}
