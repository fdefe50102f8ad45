"""Custom header rules applied to every outgoing SIP message (addSipMessageHeader & co).

Knows: requests and responses as objects, and which call a Call-ID belongs to
(asked of the phone). Must not know: sockets or how the message is sent — the
core calls ``HeaderRules.apply`` just before it serializes a message.

A rule is scoped by call (or all calls), by method (``"ALL"`` for every method;
for a response, the method of its CSeq) and by message kind (requests,
responses or both). *Added* headers are appended; *modified* headers replace
the value of a header the message already has (and do nothing otherwise).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from voipkit.api.errors import ConfigurationError, NotFoundError
from voipkit.sip.message import Request, Response

_TOKEN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
#: Headers whose values the stack owns; a rule may not add or change them.
PROTECTED = frozenset({"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq",
                       "content-length", "l", "max-forwards"})


class MessageKind(IntEnum):
    """The manual's msgType."""

    REQUEST = 1
    RESPONSE = 2
    BOTH = 3


@dataclass(frozen=True, slots=True)
class HeaderRule:
    rule_id: int
    call_id: int | None
    "The call (session id) it applies to; None: every message."
    method: str
    "A method name, or ALL."
    kind: MessageKind
    name: str
    value: str

    def matches(self, message: Request | Response, call_id: int | None) -> bool:
        if self.call_id is not None and self.call_id != call_id:
            return False
        if isinstance(message, Request):
            if self.kind is MessageKind.RESPONSE:
                return False
            method = message.method
        else:
            if self.kind is MessageKind.REQUEST:
                return False
            method = message.cseq.method
        return self.method == "ALL" or self.method == method.upper()


class HeaderRules:
    """The phone's added and modified header rules."""

    def __init__(self, call_of: Callable[[str], int | None]) -> None:
        self._call_of = call_of
        self._ids = itertools.count(1)
        self._added: dict[int, HeaderRule] = {}
        self._modified: dict[int, HeaderRule] = {}

    def _rule(self, call_id: int | None, method: str, kind: int, name: str,
              value: str) -> HeaderRule:
        if not name or not set(name) <= _TOKEN:
            raise ConfigurationError(f"header name {name!r} is not a SIP token")
        if name.lower() in PROTECTED:
            raise ConfigurationError(f"header {name!r} is managed by the SIP stack")
        if "\r" in value or "\n" in value:
            raise ConfigurationError(f"header value for {name!r} contains CR or LF")
        if not method or not set(method) <= _TOKEN:
            raise ConfigurationError(f"method {method!r} is not a SIP method or ALL")
        try:
            message_kind = MessageKind(kind)
        except ValueError:
            raise ConfigurationError(
                f"message type {kind} is not 1 (requests), 2 (responses) or 3 (both)") from None
        return HeaderRule(next(self._ids), call_id, method.upper(), message_kind, name, value)

    def add(self, name: str, value: str, *, call_id: int | None = None, method: str = "ALL",
            kind: int = MessageKind.BOTH) -> int:
        """Append ``name: value`` to matching outgoing messages; returns the rule id (> 0)."""
        rule = self._rule(call_id, method, kind, name, value)
        self._added[rule.rule_id] = rule
        return rule.rule_id

    def modify(self, name: str, value: str, *, call_id: int | None = None, method: str = "ALL",
               kind: int = MessageKind.BOTH) -> int:
        """Replace the value of ``name`` in matching outgoing messages that carry it."""
        rule = self._rule(call_id, method, kind, name, value)
        self._modified[rule.rule_id] = rule
        return rule.rule_id

    def remove_added(self, rule_id: int) -> None:
        if self._added.pop(rule_id, None) is None:
            raise NotFoundError(f"no added-header rule {rule_id}")

    def remove_modified(self, rule_id: int) -> None:
        if self._modified.pop(rule_id, None) is None:
            raise NotFoundError(f"no modified-header rule {rule_id}")

    def clear_added(self) -> None:
        self._added.clear()

    def clear_modified(self) -> None:
        self._modified.clear()

    def __bool__(self) -> bool:
        return bool(self._added or self._modified)

    def apply(self, message: Request | Response) -> None:
        """Apply every matching rule to ``message`` (the core's outgoing hook)."""
        if not self:
            return
        call_id = self._call_of(message.call_id)
        for rule in self._modified.values():
            if rule.matches(message, call_id) and rule.name in message.headers:
                message.headers.set(rule.name, rule.value)
        for rule in self._added.values():
            if rule.matches(message, call_id):
                message.headers.add(rule.name, rule.value)
