"""The SDP errors: what is malformed or cannot be used in a session description.

Knows: the reason text and the SIP status a UAS answers an unusable offer with.
Must not know: anything else. Kept apart from ``model`` so that the SDP modules can be
compiled by mypyc while these exception classes stay interpreted (other layers
subclass them: ``media.srtp.SrtpError``; see setup.py).
"""

from __future__ import annotations


class SdpError(ValueError):
    """A session description that is malformed or cannot be used.

    ``reason`` says precisely what is wrong; ``status_hint`` is the SIP response a UAS
    should answer an offer carrying it with (400 for syntax, 488 Not Acceptable Here for
    a well-formed description we cannot accept).
    """

    reason: str
    status_hint: int

    def __init__(self, reason: str, *, status_hint: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, status_hint={self.status_hint})"


class NegotiationError(SdpError):
    """RFC 3264: no usable stream could be agreed (488), or an answer breaks the rules."""

    def __init__(self, reason: str, *, status_hint: int = 488) -> None:
        super().__init__(reason, status_hint=status_hint)


__all__ = ["NegotiationError", "SdpError"]
