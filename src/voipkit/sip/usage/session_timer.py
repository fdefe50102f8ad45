"""RFC 4028 session timers: configuration, header values and the negotiation arithmetic.

Knows: the Session-Expires and Min-SE header syntax, who refreshes a session
(the ``refresher`` parameter names the UAC or UAS *of the refresh transaction*,
§4), when the refresher refreshes (half the interval, §10) and when the other
side gives up (§10: "the minimum of 32 seconds and one third of the session
interval" before expiry). Must not know: transactions, clocks or SDP; callers
pass ``now`` and schedule the deadlines this module computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from voipkit.sip.message import Message

#: RFC 4028 §4: "the minimum value is 90 seconds" for Min-SE.
MIN_SE_FLOOR = 90


class Refresher(Enum):
    """Who refreshes; the manual's SESSION_REFERESH_UAC / SESSION_REFERESH_UAS."""

    UAC = "uac"
    UAS = "uas"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionTimerConfig:
    """enableSessionTimer(timerSeconds, refreshMode) / disableSessionTimer() as data."""

    enabled: bool = False
    "Ask for (as UAC) or impose (as UAS) a session interval."

    interval: int = 1800
    "Session-Expires we ask for, seconds (the manual requires at least 90)."

    refresher: Refresher = Refresher.UAC
    "Who we want to refresh, as roles of the initial INVITE (UAC: the caller)."

    min_se: int = MIN_SE_FLOOR
    "The smallest interval we accept; a smaller Session-Expires gets 422 (§8.1)."

    def __post_init__(self) -> None:
        if self.min_se < MIN_SE_FLOOR:
            raise ValueError(f"Min-SE must be at least {MIN_SE_FLOOR} s (RFC 4028 §4)")
        if self.enabled and self.interval < self.min_se:
            raise ValueError(f"session interval {self.interval} is below Min-SE {self.min_se}")


@dataclass(frozen=True, slots=True)
class SessionExpires:
    """One Session-Expires value: ``delta-seconds [;refresher=uac|uas]``."""

    interval: int
    "Seconds."

    refresher: Refresher | None
    "The refresher parameter, if present."

    def __str__(self) -> str:
        if self.refresher is None:
            return str(self.interval)
        return f"{self.interval};refresher={self.refresher.value}"


def parse_session_expires(message: Message) -> SessionExpires | None:
    """The message's Session-Expires (compact form ``x`` is expanded by the parser).

    Unparsable values are treated as absent (a malformed optional extension
    must not break the call).
    """
    value = message.headers.get("Session-Expires")
    if value is None:
        return None
    parts = [p.strip() for p in value.split(";")]
    if not parts[0].isdigit():
        return None
    refresher: Refresher | None = None
    for param in parts[1:]:
        name, _, val = param.partition("=")
        if name.strip().lower() == "refresher":
            try:
                refresher = Refresher(val.strip().lower())
            except ValueError:
                return None
    return SessionExpires(int(parts[0]), refresher)


def parse_min_se(message: Message) -> int | None:
    """The message's Min-SE delta-seconds, if present and well formed."""
    value = message.headers.get("Min-SE")
    if value is None:
        return None
    digits = value.split(";")[0].strip()
    return int(digits) if digits.isdigit() else None


def option_tags(message: Message, header: str) -> frozenset[str]:
    """The option tags listed in Supported/Require (lower-cased)."""
    tags: set[str] = set()
    for value in message.headers.getall(header):
        tags.update(t.strip().lower() for t in value.split(",") if t.strip())
    return frozenset(tags)


def refresh_delay(interval: int) -> float:
    """§10: "the refresher SHOULD send a refresh at half the session interval"."""
    return interval / 2


def expiry_delay(interval: int) -> float:
    """§10: the non-refresher sends BYE min(32, interval/3) before expiry."""
    return interval - min(32.0, interval / 3)
