"""The conference compositor draws the manual's layouts 0-7 pixel-exactly.

Proves (pure numpy, no codec):
- every layout's regions for a 320x240 canvas, edge by edge, including the adaptive
  choice (1, 3, 5, 6 for 1, 2, 3, 4+ parties) and the odd-width rounding of layout 7;
- compose() puts each slot's colour in exactly its cell (Y, U and V planes), black
  where a slot has no frame or the layout has no member, and hides slots beyond the
  layout's capacity;
- a frame of another aspect ratio is letterboxed (scaled to fit, centred, bars black),
  a frame of the cell's size is copied unchanged, a whole-number shrink takes every
  n-th pixel and any other scale picks source pixel ``i * source // target``;
- the PIP inset is drawn over the full-canvas member;
- mirrored() flips left to right; bad layouts and sizes are refused.
"""

from __future__ import annotations

import numpy as np
import pytest

from voipkit.media.video import VideoFrame, pattern_frame
from voipkit.media.video.compose import (
    BLACK,
    ConferenceLayout,
    Region,
    VideoCompositor,
    layout_regions,
    mirrored,
    resolve_layout,
    solid_frame,
)

W, H = 320, 240
COLOURS = [(200, 60, 90), (80, 160, 100), (120, 90, 200), (50, 110, 70), (230, 128, 128)]


def _cell(frame: VideoFrame, region: Region) -> tuple[set[int], set[int], set[int]]:
    y, u, v = frame.planes()
    ys = y[region.y:region.y + region.height, region.x:region.x + region.width]
    us = u[region.y // 2:(region.y + region.height) // 2,
           region.x // 2:(region.x + region.width) // 2]
    vs = v[region.y // 2:(region.y + region.height) // 2,
           region.x // 2:(region.x + region.width) // 2]
    return set(np.unique(ys).tolist()), set(np.unique(us).tolist()), set(np.unique(vs).tolist())


def _is(frame: VideoFrame, region: Region, yuv: tuple[int, int, int]) -> bool:
    return _cell(frame, region) == ({yuv[0]}, {yuv[1]}, {yuv[2]})


def test_regions_of_every_layout() -> None:
    assert layout_regions(1, W, H) == [Region(0, 0, 0, 320, 240)]
    assert layout_regions(2, W, H) == [Region(1, 0, 0, 320, 240), Region(0, 230, 174, 80, 60)]
    assert layout_regions(3, W, H) == [Region(0, 0, 0, 160, 240), Region(1, 160, 0, 160, 240)]
    assert layout_regions(4, W, H) == [Region(0, 0, 0, 320, 120), Region(1, 0, 120, 320, 120)]
    assert layout_regions(5, W, H) == [Region(0, 0, 0, 160, 120), Region(1, 160, 0, 160, 120),
                                       Region(2, 80, 120, 160, 120)]
    assert layout_regions(6, W, H) == [Region(0, 0, 0, 160, 120), Region(1, 160, 0, 160, 120),
                                       Region(2, 0, 120, 160, 120),
                                       Region(3, 160, 120, 160, 120)]
    assert layout_regions(7, W, H) == [Region(0, 0, 0, 160, 120), Region(1, 160, 0, 160, 120),
                                       Region(2, 0, 120, 106, 120),
                                       Region(3, 106, 120, 106, 120),
                                       Region(4, 212, 120, 108, 120)]


def test_adaptive_picks_1_3_5_6() -> None:
    assert [resolve_layout(0, n) for n in (1, 2, 3, 4, 5)] == [
        ConferenceLayout.LOCAL_ONLY, ConferenceLayout.LEFT_RIGHT, ConferenceLayout.THREE,
        ConferenceLayout.QUAD, ConferenceLayout.QUAD]
    assert layout_regions(0, W, H, 2) == layout_regions(3, W, H)
    assert resolve_layout(ConferenceLayout.PIP, 5) is ConferenceLayout.PIP


def test_each_slot_lands_in_its_cell_and_empty_cells_are_black() -> None:
    frames: list[VideoFrame | None] = [solid_frame(160, 120, c) for c in COLOURS]
    for layout in range(1, 8):
        compositor = VideoCompositor(W, H, layout)
        out = compositor.compose(frames)
        regions = compositor.regions(len(frames))
        covered = np.zeros((H, W), dtype=bool)
        for region in regions:
            covered[region.y:region.y + region.height, region.x:region.x + region.width] = True
        for region in regions:
            if layout == 2 and region.slot == 1:
                continue  # under the inset; checked below
            if layout in (3, 4):
                continue  # letterboxed; checked in test_letterbox
            if layout == 7 and region.slot >= 2:  # 4:3 in a 106x120 cell: 106x80, 20 down
                region = Region(region.slot, region.x, region.y + 20, region.width, 80)
            assert _is(out, region, COLOURS[region.slot]), (layout, region)
        if layout != 2:  # nothing outside the cells but black
            assert set(np.unique(out.y[~covered]).tolist()) <= {BLACK[0]}
    # slot 4 appears only in layout 7; slots 2-3 not in 3 or 4
    out = VideoCompositor(W, H, 6).compose(frames)
    assert COLOURS[4][0] not in set(np.unique(out.y).tolist())


def test_missing_frames_are_black() -> None:
    compositor = VideoCompositor(W, H, ConferenceLayout.QUAD)
    out = compositor.compose([solid_frame(160, 120, COLOURS[0]), None])
    regions = compositor.regions(2)
    assert _is(out, regions[0], COLOURS[0])
    for region in regions[1:]:  # slot 1 has no frame; slots 2 and 3 have no member
        assert _is(out, region, BLACK)


def test_letterbox_and_exact_copy() -> None:
    pattern = pattern_frame(160, 120, 7)
    out = VideoCompositor(W, H, ConferenceLayout.QUAD).compose([pattern])
    assert np.array_equal(out.y[:120, :160], pattern.y)  # same size: an exact copy
    assert np.array_equal(out.planes()[1][:60, :80], pattern.planes()[1])
    # a 4:3 frame in a 160x240 half (layout 3) is 160x120 centred, black above and below
    out = VideoCompositor(W, H, ConferenceLayout.LEFT_RIGHT).compose(
        [solid_frame(640, 480, COLOURS[0]), solid_frame(320, 240, COLOURS[1])])
    assert _is(out, Region(0, 0, 60, 160, 120), COLOURS[0])
    assert _is(out, Region(0, 0, 0, 160, 60), BLACK)
    assert _is(out, Region(0, 0, 180, 160, 60), BLACK)
    assert _is(out, Region(1, 160, 60, 160, 120), COLOURS[1])
    # downscaling 2:1 by nearest neighbour takes every other pixel
    big = pattern_frame(320, 240, 3)
    out = VideoCompositor(W, H, ConferenceLayout.QUAD).compose([None, big])
    assert np.array_equal(out.y[:120, 160:], big.y[::2, ::2])
    assert np.array_equal(out.planes()[2][:60, 80:], big.planes()[2][::2, ::2])
    # a 240x180 source in a 160x120 cell (2/3): the index tables, row r from r * 3 // 2
    odd = pattern_frame(240, 180, 5)
    out = VideoCompositor(W, H, ConferenceLayout.QUAD).compose([odd])
    rows, cols = np.arange(120) * 180 // 120, np.arange(160) * 240 // 160
    assert np.array_equal(out.y[:120, :160], odd.y[rows[:, None], cols[None, :]])
    crows, ccols = np.arange(60) * 90 // 60, np.arange(80) * 120 // 80
    assert np.array_equal(out.planes()[1][:60, :80],
                          odd.planes()[1][crows[:, None], ccols[None, :]])


def test_pip_inset_on_top() -> None:
    compositor = VideoCompositor(W, H, ConferenceLayout.PIP)
    out = compositor.compose([solid_frame(320, 240, COLOURS[0]),
                              solid_frame(320, 240, COLOURS[1])])
    inset = Region(0, 230, 174, 80, 60)
    assert _is(out, inset, COLOURS[0])
    assert _is(out, Region(1, 0, 0, 320, 174), COLOURS[1])
    assert _is(out, Region(1, 0, 0, 230, 240), COLOURS[1])
    assert _is(out, Region(1, 310, 0, 10, 240), COLOURS[1])


def test_mirror_and_validation() -> None:
    frame = pattern_frame(64, 32, 2)
    flipped = mirrored(frame)
    assert np.array_equal(flipped.y, frame.y[:, ::-1])
    assert np.array_equal(flipped.planes()[2], frame.planes()[2][:, ::-1])
    assert np.array_equal(mirrored(flipped).data, frame.data)
    with pytest.raises(ValueError):
        VideoCompositor(W, H, 8)
    with pytest.raises(ValueError):
        VideoCompositor(321, 240)
    compositor = VideoCompositor(W, H)
    with pytest.raises(ValueError):
        compositor.set_layout(-1)
