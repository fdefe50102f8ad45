"""The media layer's packet errors, in a module of their own that stays interpreted.

Knows: nothing but the exception classes. Must not know: anything else. They live
here, not in ``rtp.py``, so that the packet modules can be compiled by mypyc
(setup.py: a compiled exception class gets a fixed instance layout, and classes that
combine it with another built-in exception then fail); ``voipkit.media.rtp`` re-exports
them under their old name.
"""

from __future__ import annotations


class MalformedPacket(ValueError):  # noqa: N818 (contracted name)
    """Bytes that cannot be an RTP/RTCP packet. The message says exactly why."""


__all__ = ["MalformedPacket"]
