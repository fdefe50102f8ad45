"""L0: clock, id sources and wrap-safe sequence arithmetic.

Knows: the standard library. Must not know: SIP, SDP, media, asyncio or any
other voipkit package. Only ``base.clock`` reads the system time and only
``base.ids`` draws randomness, so every layer above can be made deterministic
by injecting a ``Clock`` and an ``IdSource``.
"""

from voipkit.base.clock import Clock, MonotonicClock
from voipkit.base.ids import IdSource, RandomIds, SequentialIds
from voipkit.base.seqnum import uint16_add, uint16_gt, uint32_add, uint32_gt

__all__ = [
    "Clock",
    "IdSource",
    "MonotonicClock",
    "RandomIds",
    "SequentialIds",
    "uint16_add",
    "uint16_gt",
    "uint32_add",
    "uint32_gt",
]
