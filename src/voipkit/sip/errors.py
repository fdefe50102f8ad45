"""Protocol errors of the SIP layer, each carrying the status a server would answer with.

Knows: the split between "we tried something SIP forbids" (local) and "the peer sent
something SIP forbids" (remote), as h11 draws it, and the response status each maps to.
Must not know: how a response is built or sent; the server-transaction boundary catches
these and answers with ``status_hint`` (or drops the message when it cannot answer).

SipProtocolError            .status_hint, .reason (a voipkit.base.errors.VoipkitError)
├── LocalProtocolError      we tried to build or send something SIP forbids
└── RemoteProtocolError     the peer did
    └── ParseError          (also a ValueError) bytes or values that are not valid SIP
        └── BadExtensionError    420: the request Requires option tags we do not support

AuthError (a ValueError)    a Digest header value voipkit cannot use (``sip.auth``)
└── UnsupportedChallengeError    well-formed, but another scheme or algorithm
ReplacesError (a ValueError)     a Replaces header that cannot be used (``sip.replaces``)

The last three belong to ``sip.auth`` and ``sip.replaces`` (which re-export them) but
live here because those modules are compiled with mypyc and exception classes stay in
interpreted modules (setup.py says why).
"""

from __future__ import annotations

from voipkit.base.errors import VoipkitError


class SipProtocolError(VoipkitError):
    """A violation of RFC 3261, with the status code that best answers it."""

    status_hint: int
    reason: str

    def __init__(self, reason: str, *, status_hint: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, status_hint={self.status_hint})"


class LocalProtocolError(SipProtocolError):
    """Our own code tried to build or send a message that SIP forbids."""


class RemoteProtocolError(SipProtocolError):
    """The peer sent something that SIP forbids."""


class ParseError(RemoteProtocolError, ValueError):
    """Bytes (or a received message) that are not acceptable SIP.

    ``status_hint`` is the response a UAS should send: 400 for syntax, 416 for an
    unsupported URI scheme, 420 for unsupported extensions, 505 for a SIP version other
    than 2.0, 513 for an oversized message. ``reason`` says precisely what is wrong.
    """


class BadExtensionError(ParseError):
    """RFC 3261 §8.2.2.3: the request Requires option tags the UAS does not support.

    ``unsupported`` lists them, for the Unsupported header field of the 420 response.
    """

    unsupported: tuple[str, ...]

    def __init__(self, reason: str, *, unsupported: tuple[str, ...]) -> None:
        super().__init__(reason, status_hint=420)
        self.unsupported = unsupported


class AuthError(ValueError):
    """A Digest header value is malformed or cannot be answered.

    Attributes:
        reason: what is wrong, naming the parameter concerned.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedChallengeError(AuthError):
    """A well-formed challenge voipkit cannot answer (another scheme or algorithm)."""


class ReplacesError(ValueError):
    """A Replaces header that cannot be used; ``status_hint`` is the answer (400)."""

    def __init__(self, reason: str, status_hint: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint
