"""application/simple-message-summary (RFC 3842): message waiting indication.

Knows: the summary text — Messages-Waiting yes|no, Message-Account, and one
line per message-context-class (Voice-Message, Fax-Message, Pager-Message,
Multimedia-Message, Text-Message, None) as ``new/old (urgent_new/urgent_old)``
— followed by optional message headers after a blank line. Must not know:
subscriptions or transport.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from voipkit.sip.bodies.errors import BodyError

MESSAGE_SUMMARY = "application/simple-message-summary"
"The content type (RFC 3842 §5)."

#: RFC 3842 §5.2 / RFC 3458 message-context-class values, lower-cased -> as written.
CLASSES: Mapping[str, str] = {
    "voice-message": "Voice-Message", "fax-message": "Fax-Message",
    "pager-message": "Pager-Message", "multimedia-message": "Multimedia-Message",
    "text-message": "Text-Message", "none": "None",
}  # fmt: skip

_COUNTS = re.compile(r"(\d+)\s*/\s*(\d+)(?:\s*\(\s*(\d+)\s*/\s*(\d+)\s*\))?")


@dataclass(frozen=True, slots=True)
class MessageCounts:
    """``new/old (urgent_new/urgent_old)`` for one message class."""

    new: int
    old: int
    urgent_new: int = 0
    urgent_old: int = 0

    def __str__(self) -> str:
        text = f"{self.new}/{self.old}"
        if self.urgent_new or self.urgent_old:
            text += f" ({self.urgent_new}/{self.urgent_old})"
        return text


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """A parsed message summary."""

    waiting: bool
    "Messages-Waiting: yes."

    account: str | None = None
    "Message-Account (the mailbox URI), if given."

    counts: Mapping[str, MessageCounts] = field(default_factory=dict)
    "Per message-context-class, keyed lower-case (``voice-message``, ``fax-message`` ...)."

    extra: str = ""
    "The optional message headers after the blank line, as written."

    @property
    def voice(self) -> MessageCounts | None:
        """Voice-Message counts (onWaitingVoiceMessage)."""
        return self.counts.get("voice-message")

    @property
    def fax(self) -> MessageCounts | None:
        """Fax-Message counts (onWaitingFaxMessage)."""
        return self.counts.get("fax-message")


def parse_message_summary(data: bytes) -> MessageSummary:
    """Parse a simple-message-summary body (RFC 3842 §5.2).

    "message-summary = msg-status-line CRLF [msg-account CRLF]
    [*(msg-summary-line CRLF)] [*(opt-msg-headers CRLF)]": the status line
    comes first; lines before the blank line must be an account or a summary line.

    Raises:
        BodyError: not UTF-8, no Messages-Waiting first, a bad yes/no, an unknown
            class or malformed counts, a duplicated line.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"message-summary is not UTF-8 (byte {exc.start})") from None
    parts = re.split(r"\r?\n\r?\n", text, maxsplit=1)
    head, extra = parts[0], (parts[1] if len(parts) > 1 else "")
    lines = [line for line in re.split(r"\r?\n", head) if line.strip()]
    if not lines:
        raise BodyError("message-summary is empty; it must start with Messages-Waiting")
    name, colon, value = lines[0].partition(":")
    if not colon or name.strip().lower() != "messages-waiting":
        raise BodyError(f"message-summary starts with {lines[0]!r}, not Messages-Waiting"
                        " (RFC 3842 §5.2)")
    flag = value.strip().lower()
    if flag not in ("yes", "no"):
        raise BodyError(f"Messages-Waiting is {value.strip()!r}; expected yes or no")
    account: str | None = None
    counts: dict[str, MessageCounts] = {}
    for index, line in enumerate(lines[1:], start=1):
        name, colon, value = line.partition(":")
        key = name.strip().lower()
        if not colon:
            raise BodyError(f"message-summary line {line!r} is not 'Name: value'")
        if key == "message-account":
            if index != 1:
                raise BodyError("Message-Account must directly follow Messages-Waiting"
                                " (RFC 3842 §5.2)")
            account = value.strip()
            continue
        if key not in CLASSES:
            raise BodyError(f"message-summary line {line!r} names no message-context-class")
        if key in counts:
            raise BodyError(f"message-summary repeats {CLASSES[key]}")
        match = _COUNTS.fullmatch(value.strip())
        if match is None:
            raise BodyError(f"{CLASSES[key]} value {value.strip()!r} is not"
                            " 'new/old' or 'new/old (urgent_new/urgent_old)'")
        new, old, urgent_new, urgent_old = match.groups()
        counts[key] = MessageCounts(int(new), int(old), int(urgent_new or 0),
                                    int(urgent_old or 0))
    return MessageSummary(waiting=flag == "yes", account=account, counts=counts, extra=extra)


def build_message_summary(summary: MessageSummary) -> bytes:
    """Serialize ``summary`` in the RFC 3842 §5.2 order, CRLF line ends."""
    lines = [f"Messages-Waiting: {'yes' if summary.waiting else 'no'}"]
    if summary.account is not None:
        lines.append(f"Message-Account: {summary.account}")
    for key, counts in summary.counts.items():
        if key.lower() not in CLASSES:
            raise ValueError(f"unknown message-context-class {key!r}")
        lines.append(f"{CLASSES[key.lower()]}: {counts}")
    text = "\r\n".join(lines) + "\r\n"
    if summary.extra:
        text += "\r\n" + summary.extra
    return text.encode("utf-8")
