"""Raw video frames (I420), a deterministic test pattern and PSNR.

Knows: the I420 layout (a full-size Y plane, then U and V planes of half width and
half height: the manual's ``sendVideoStreamToRemote`` and ``onVideoRawCallback``
format), numpy, and the peak signal-to-noise ratio of 8-bit samples.
Must not know: codecs, RTP, sockets or the clock; the pattern is a pure function of
the frame index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["PatternSource", "VideoFrame", "i420_size", "mirror", "pattern_frame",
           "pattern_index", "psnr", "rotate"]

Plane = npt.NDArray[np.uint8]


def i420_size(width: int, height: int) -> int:
    """Bytes of one I420 frame (width and height must be even)."""
    return width * height * 3 // 2


@dataclass(frozen=True, slots=True, eq=False)
class VideoFrame:
    """One I420 frame: ``data`` has shape (height * 3 / 2, width), the layout PyAV's
    ``yuv420p`` ndarrays and raw I420 buffers share."""

    data: Plane

    def __post_init__(self) -> None:
        rows, width = self.data.shape
        if self.data.dtype != np.uint8 or rows % 3 or width % 2 or (rows * 2 // 3) % 2:
            raise ValueError(f"not an I420 frame: shape {self.data.shape}, {self.data.dtype}")

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def height(self) -> int:
        return int(self.data.shape[0] * 2 // 3)

    @classmethod
    def from_i420(cls, data: bytes, width: int, height: int) -> VideoFrame:
        """A frame from raw I420 bytes.

        Raises:
            ValueError: odd dimensions, or ``data`` is not exactly one frame.
        """
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"I420 needs positive even dimensions, not {width}x{height}")
        if len(data) != i420_size(width, height):
            raise ValueError(f"{len(data)} bytes is not one {width}x{height} I420 frame "
                             f"({i420_size(width, height)} bytes)")
        array = np.frombuffer(data, dtype=np.uint8).reshape(height * 3 // 2, width)
        return cls(array.copy())

    def to_i420(self) -> bytes:
        """The raw I420 bytes (Y, then U, then V)."""
        return self.data.tobytes()

    @property
    def y(self) -> Plane:
        return self.data[: self.height]

    def planes(self) -> tuple[Plane, Plane, Plane]:
        """Y (h x w), U and V (h/2 x w/2), as views."""
        h, w = self.height, self.width
        chroma = self.data[h:].reshape(-1)
        size = (h // 2) * (w // 2)
        return (self.data[:h], chroma[:size].reshape(h // 2, w // 2),
                chroma[size:].reshape(h // 2, w // 2))


_CODE_BITS = 16
_CODE_BLOCK = 16


def pattern_frame(width: int, height: int, index: int) -> VideoFrame:
    """Frame ``index`` of a moving test pattern: smooth luma and chroma gradients that
    drift two pixels per frame, eight vertical bars, a bright 64x64 square that moves
    diagonally, and (from 256x32 up) the index as a barcode of sixteen 16x16 blocks
    along the top (:func:`pattern_index` reads it back). Deterministic and easy to
    encode, so a decoded copy's PSNR measures the transport, not the content."""
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"the pattern needs positive even dimensions, not {width}x{height}")
    cols = np.arange(width, dtype=np.int32)
    rows = np.arange(height, dtype=np.int32)
    shift = 2 * index
    y = (16 + ((cols[None, :] + shift) * 160 // max(width, 1)) % 160
         + (rows[:, None] * 40 // max(height, 1)))
    bars = ((cols + shift) * 8 // max(width, 1)) % 2
    y = y + 24 * bars[None, :]
    size = min(64, width // 2, height // 2)
    x0 = (4 * index) % max(width - size, 1)
    y0 = (3 * index) % max(height - size, 1)
    y[y0 : y0 + size, x0 : x0 + size] = 235
    if width >= _CODE_BITS * _CODE_BLOCK and height >= 2 * _CODE_BLOCK:
        for bit in range(_CODE_BITS):  # the frame index as a 16-bit barcode, top left
            y[:_CODE_BLOCK, bit * _CODE_BLOCK : (bit + 1) * _CODE_BLOCK] = (
                235 if index >> bit & 1 else 16)
    ch, cw = height // 2, width // 2
    ccols = np.arange(cw, dtype=np.int32)
    crows = np.arange(ch, dtype=np.int32)
    u = 64 + ((ccols[None, :] + index) * 128 // max(cw, 1)) % 128 + 0 * crows[:, None]
    v = 64 + ((crows[:, None] + index) * 128 // max(ch, 1)) % 128 + 0 * ccols[None, :]
    data = np.concatenate([
        np.clip(y, 0, 255).astype(np.uint8),
        np.concatenate([u.reshape(-1), v.reshape(-1)]).astype(np.uint8).reshape(height // 2,
                                                                                 width),
    ])
    return VideoFrame(data)


def rotate(frame: VideoFrame, degrees: int) -> VideoFrame:
    """``frame`` turned clockwise by 0, 90, 180 or 270 degrees (each plane alike).

    Raises:
        ValueError: another angle.
    """
    if degrees % 360 not in (0, 90, 180, 270):
        raise ValueError(f"rotation {degrees} is not 0, 90, 180 or 270 degrees")
    turns = (degrees % 360) // 90
    if turns == 0:
        return frame
    y, u, v = (np.rot90(plane, -turns) for plane in frame.planes())
    height, width = y.shape
    chroma = np.concatenate([u.reshape(-1), v.reshape(-1)]).reshape(height // 2, width)
    return VideoFrame(np.ascontiguousarray(np.concatenate([y, chroma])))


def mirror(frame: VideoFrame) -> VideoFrame:
    """``frame`` flipped left to right (a selfie view)."""
    y, u, v = (plane[:, ::-1] for plane in frame.planes())
    chroma = np.concatenate([u.reshape(-1), v.reshape(-1)]).reshape(frame.height // 2,
                                                                     frame.width)
    return VideoFrame(np.ascontiguousarray(np.concatenate([y, chroma])))


def pattern_index(frame: VideoFrame) -> int:
    """The frame index a (possibly lossy) copy of :func:`pattern_frame` carries.

    Raises:
        ValueError: the frame is too small to carry the barcode.
    """
    if frame.width < _CODE_BITS * _CODE_BLOCK or frame.height < 2 * _CODE_BLOCK:
        raise ValueError(f"a {frame.width}x{frame.height} frame carries no index")
    y = frame.y
    index = 0
    for bit in range(_CODE_BITS):
        block = y[4 : _CODE_BLOCK - 4, bit * _CODE_BLOCK + 4 : (bit + 1) * _CODE_BLOCK - 4]
        if float(block.mean()) > 125.0:
            index |= 1 << bit
    return index


class PatternSource:
    """Frames of :func:`pattern_frame` one after another (a virtual camera)."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        self.width = width
        self.height = height
        self.index = 0

    def read_frame(self) -> VideoFrame:
        """The next frame of the pattern."""
        frame = pattern_frame(self.width, self.height, self.index)
        self.index += 1
        return frame


def psnr(reference: VideoFrame, other: VideoFrame) -> float:
    """Peak signal-to-noise ratio in dB over all I420 samples (peak 255); ``inf`` for
    identical frames.

    Raises:
        ValueError: the frames differ in size.
    """
    if reference.data.shape != other.data.shape:
        raise ValueError(f"frames differ in size: {reference.width}x{reference.height} vs "
                         f"{other.width}x{other.height}")
    diff = reference.data.astype(np.int32) - other.data.astype(np.int32)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0 * 255.0 / mse)
