"""Codec protocols: what an RTP stream needs from an audio codec.

Knows: frames of mono int16 PCM in numpy arrays, payload bytes, and packet
loss concealment as "give me ``n`` samples for a frame that never arrived".
Must not know: RTP headers, SDP, sockets or the clock.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["Decoder", "Encoder", "Pcm"]

Pcm: TypeAlias = npt.NDArray[np.int16]
"""Mono 16-bit linear PCM, one sample per element."""


class Encoder(Protocol):
    """Turns one frame of PCM into one RTP payload."""

    def encode(self, pcm: Pcm) -> bytes:
        """Encode one frame (any length the codec accepts) into payload bytes."""
        ...


class Decoder(Protocol):
    """Turns RTP payloads back into PCM, and invents PCM for lost packets."""

    def decode(self, payload: bytes) -> Pcm:
        """Decode one payload into a frame of PCM."""
        ...

    def conceal(self, samples: int) -> Pcm:
        """Packet loss concealment: ``samples`` of PCM standing in for a lost frame."""
        ...
