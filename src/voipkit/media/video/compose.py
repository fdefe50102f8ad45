"""Video composition: the manual's conference layouts 0-7 drawn from I420 frames.

Knows: the layouts of ``createVideoConference`` (the manual: "0 - Adaptive(1,3,5,6)
1 - Only Local Video 2 - 2 video,PIP 3 - 2 video, Left and right 4 - 2 video, Up and
Down 5 - 3 video 6 - 4 split video 7 - 5 video"), where each slot goes on the canvas,
how to scale an I420 frame into a cell (nearest neighbour, aspect ratio kept, the rest
of the cell black) and how to mirror one (``displayLocalVideo``'s ``mirror``).
Must not know: codecs, RTP, calls, sockets, threads or the clock; the caller passes
the latest frame of each slot and decides when to compose.

Slots. Slot 0 is the local party (the conference host's camera), slots 1.. are the
members in joining order. A layout shows a fixed number of slots; a slot with no
frame yet (or a member slot nobody fills) is black, a slot beyond the layout's
capacity is not shown. ``ADAPTIVE`` picks layout 1, 3, 5 or 6 for 1, 2, 3 or 4+
slots.

Geometry (W x H canvas; every edge is rounded down to an even pixel so the chroma
planes split exactly):

- 1 LOCAL_ONLY: slot 0 on the whole canvas;
- 2 PIP: slot 1 on the whole canvas, slot 0 in a W/4 x H/4 inset at the bottom
  right, W/32 and H/32 from the edges (drawn last, on top);
- 3 LEFT_RIGHT: slot 0 in the left half, slot 1 in the right half;
- 4 UP_DOWN: slot 0 in the top half, slot 1 in the bottom half;
- 5 THREE: a 2x2 grid of W/2 x H/2 cells: slots 0 and 1 on top, slot 2 centred below;
- 6 QUAD: the 2x2 grid, slots 0 1 / 2 3;
- 7 FIVE: slots 0 and 1 in W/2 x H/2 cells on top, slots 2 3 4 in W/3 x H/2 cells below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from voipkit.media.video.frames import VideoFrame

__all__ = [
    "BLACK",
    "ConferenceLayout",
    "Region",
    "VideoCompositor",
    "layout_regions",
    "mirrored",
    "resolve_layout",
    "solid_frame",
]

BLACK = (16, 128, 128)
"Y, U, V of black in video range (ITU-R BT.601): empty cells and letterbox bars."


class ConferenceLayout(IntEnum):
    """The manual's ``createVideoConference`` layout numbers."""

    ADAPTIVE = 0
    LOCAL_ONLY = 1
    PIP = 2
    LEFT_RIGHT = 3
    UP_DOWN = 4
    THREE = 5
    QUAD = 6
    FIVE = 7


@dataclass(frozen=True, slots=True)
class Region:
    """Where one slot is drawn: a rectangle of the canvas in pixels (all even)."""

    slot: int
    x: int
    y: int
    width: int
    height: int


def _even(value: float) -> int:
    whole = int(value)
    return whole - whole % 2


def resolve_layout(layout: ConferenceLayout | int, slots: int) -> ConferenceLayout:
    """The concrete layout for ``slots`` parties (``ADAPTIVE``: 1, 3, 5 or 6).

    Raises:
        ValueError: ``layout`` is not 0-7.
    """
    chosen = ConferenceLayout(layout)
    if chosen is not ConferenceLayout.ADAPTIVE:
        return chosen
    if slots <= 1:
        return ConferenceLayout.LOCAL_ONLY
    if slots == 2:
        return ConferenceLayout.LEFT_RIGHT
    if slots == 3:
        return ConferenceLayout.THREE
    return ConferenceLayout.QUAD


def layout_regions(layout: ConferenceLayout | int, width: int, height: int,
                   slots: int = 1) -> list[Region]:
    """The regions of ``layout`` on a ``width`` x ``height`` canvas, in drawing order.

    Args:
        layout: 0-7 (``ADAPTIVE`` is resolved with ``slots``).
        slots: how many parties there are (local included); only ``ADAPTIVE`` uses it.

    Raises:
        ValueError: an unknown layout, or odd or non-positive dimensions.
    """
    if width < 4 or height < 4 or width % 2 or height % 2:
        raise ValueError(f"a conference canvas needs even dimensions >= 4, not "
                         f"{width}x{height}")
    concrete = resolve_layout(layout, slots)
    half_w, half_h = _even(width / 2), _even(height / 2)
    if concrete is ConferenceLayout.LOCAL_ONLY:
        return [Region(0, 0, 0, width, height)]
    if concrete is ConferenceLayout.PIP:
        inset_w, inset_h = max(2, _even(width / 4)), max(2, _even(height / 4))
        margin_x, margin_y = _even(width / 32), _even(height / 32)
        return [Region(1, 0, 0, width, height),
                Region(0, width - inset_w - margin_x, height - inset_h - margin_y,
                       inset_w, inset_h)]
    if concrete is ConferenceLayout.LEFT_RIGHT:
        return [Region(0, 0, 0, half_w, height), Region(1, half_w, 0, width - half_w, height)]
    if concrete is ConferenceLayout.UP_DOWN:
        return [Region(0, 0, 0, width, half_h), Region(1, 0, half_h, width, height - half_h)]
    right_w, low_h = width - half_w, height - half_h
    if concrete is ConferenceLayout.THREE:
        return [Region(0, 0, 0, half_w, half_h), Region(1, half_w, 0, right_w, half_h),
                Region(2, _even(width / 4), half_h, half_w, low_h)]
    if concrete is ConferenceLayout.QUAD:
        return [Region(0, 0, 0, half_w, half_h), Region(1, half_w, 0, right_w, half_h),
                Region(2, 0, half_h, half_w, low_h), Region(3, half_w, half_h, right_w, low_h)]
    edges = [_even(width * i / 3) for i in range(3)] + [width]
    return [Region(0, 0, 0, half_w, half_h), Region(1, half_w, 0, right_w, half_h)] + [
        Region(2 + i, edges[i], half_h, edges[i + 1] - edges[i], low_h) for i in range(3)]


def solid_frame(width: int, height: int, yuv: tuple[int, int, int] = BLACK) -> VideoFrame:
    """A ``width`` x ``height`` I420 frame of one colour."""
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"I420 needs positive even dimensions, not {width}x{height}")
    data = np.empty((height * 3 // 2, width), dtype=np.uint8)
    data[:height] = yuv[0]
    chroma = data[height:].reshape(-1)
    size = (height // 2) * (width // 2)
    chroma[:size] = yuv[1]
    chroma[size:] = yuv[2]
    return VideoFrame(data)


def mirrored(frame: VideoFrame) -> VideoFrame:
    """``frame`` flipped left to right (a mirror image)."""
    y, u, v = frame.planes()
    return _from_planes(y[:, ::-1], u[:, ::-1], v[:, ::-1])


def _from_planes(y: npt.NDArray[np.uint8], u: npt.NDArray[np.uint8],
                 v: npt.NDArray[np.uint8]) -> VideoFrame:
    height, width = y.shape
    data = np.empty((height * 3 // 2, width), dtype=np.uint8)
    data[:height] = y
    chroma = data[height:].reshape(-1)
    size = u.size
    chroma[:size] = u.reshape(-1)
    chroma[size:] = v.reshape(-1)
    return VideoFrame(data)


def _fit(source_w: int, source_h: int, cell_w: int, cell_h: int) -> tuple[int, int, int, int]:
    """(x offset, y offset, width, height) of a source fitted into a cell, aspect kept."""
    scale = min(cell_w / source_w, cell_h / source_h)
    fit_w = min(cell_w, max(2, _even(round(source_w * scale))))
    fit_h = min(cell_h, max(2, _even(round(source_h * scale))))
    return _even((cell_w - fit_w) / 2), _even((cell_h - fit_h) / 2), fit_w, fit_h


class VideoCompositor:
    """Draws the slots' latest frames into one canvas per :meth:`compose` call.

    Index tables for each (source size, target size) pair are cached, so a steady
    conference costs one fancy-indexing copy per plane and slot.
    """

    def __init__(self, width: int, height: int,
                 layout: ConferenceLayout | int = ConferenceLayout.ADAPTIVE) -> None:
        layout_regions(layout, width, height)  # validates both
        self.width = width
        self.height = height
        self.layout = ConferenceLayout(layout)
        self._indices: dict[tuple[int, int, int, int],
                            tuple[npt.NDArray[np.intp], npt.NDArray[np.intp],
                                  npt.NDArray[np.intp], npt.NDArray[np.intp]]] = {}

    def set_layout(self, layout: ConferenceLayout | int) -> None:
        """Use ``layout`` from the next frame on.

        Raises:
            ValueError: not 0-7.
        """
        self.layout = ConferenceLayout(layout)

    def regions(self, slots: int) -> list[Region]:
        return layout_regions(self.layout, self.width, self.height, slots)

    def compose(self, frames: Sequence[VideoFrame | None]) -> VideoFrame:
        """The canvas for ``frames`` (slot 0 local, then the members; None: black)."""
        canvas = solid_frame(self.width, self.height)
        y, u, v = canvas.planes()
        for region in self.regions(max(1, len(frames))):
            frame = frames[region.slot] if region.slot < len(frames) else None
            y[region.y:region.y + region.height, region.x:region.x + region.width] = BLACK[0]
            cu = u[region.y // 2:(region.y + region.height) // 2,
                   region.x // 2:(region.x + region.width) // 2]
            cv = v[region.y // 2:(region.y + region.height) // 2,
                   region.x // 2:(region.x + region.width) // 2]
            cu[...] = BLACK[1]
            cv[...] = BLACK[2]
            if frame is None:
                continue
            dx, dy, fit_w, fit_h = _fit(frame.width, frame.height, region.width,
                                        region.height)
            sy, su, sv = frame.planes()
            x0, y0 = region.x + dx, region.y + dy
            ys, yx = slice(y0, y0 + fit_h), slice(x0, x0 + fit_w)
            cs, cx = slice(y0 // 2, (y0 + fit_h) // 2), slice(x0 // 2, (x0 + fit_w) // 2)
            step_h, step_w = frame.height // fit_h, frame.width // fit_w
            if step_h * fit_h == frame.height and step_w * fit_w == frame.width and (
                    (frame.height // 2) % (fit_h // 2) == 0
                    and (frame.width // 2) % (fit_w // 2) == 0):
                # a whole-number shrink: nearest neighbour is a strided view (same pixels
                # as the index tables would pick, several times faster)
                y[ys, yx] = sy[::step_h, ::step_w]
                u[cs, cx] = su[::step_h, ::step_w]
                v[cs, cx] = sv[::step_h, ::step_w]
                continue
            rows, cols, crows, ccols = self._table(frame.width, frame.height, fit_w, fit_h)
            y[ys, yx] = sy[rows[:, None], cols[None, :]]
            u[cs, cx] = su[crows[:, None], ccols[None, :]]
            v[cs, cx] = sv[crows[:, None], ccols[None, :]]
        return canvas

    def _table(self, source_w: int, source_h: int, fit_w: int, fit_h: int
               ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp],
                          npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        key = (source_w, source_h, fit_w, fit_h)
        table = self._indices.get(key)
        if table is None:
            table = (np.arange(fit_h, dtype=np.intp) * source_h // fit_h,
                     np.arange(fit_w, dtype=np.intp) * source_w // fit_w,
                     np.arange(fit_h // 2, dtype=np.intp) * (source_h // 2) // (fit_h // 2),
                     np.arange(fit_w // 2, dtype=np.intp) * (source_w // 2) // (fit_w // 2))
            if len(self._indices) > 64:
                self._indices.clear()
            self._indices[key] = table
        return table
