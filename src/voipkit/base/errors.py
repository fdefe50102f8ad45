"""The root of every exception voipkit raises on purpose.

Knows: nothing but ``Exception``. Must not know: any layer above. Each layer
derives its own errors from ``VoipkitError`` (``sip.errors``, ``aio.errors``,
``media``, ``api.errors``), so an application can catch everything voipkit means
to raise with one ``except VoipkitError`` while bugs (``TypeError``, ...) still
surface as themselves. The whole tree is drawn in ``voipkit.api.errors``.
"""

from __future__ import annotations


class VoipkitError(Exception):
    """Base class of all of voipkit's own exceptions."""


__all__ = ["VoipkitError"]
