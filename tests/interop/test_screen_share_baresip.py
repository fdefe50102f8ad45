"""Screen sharing from an Xvfb display to a real baresip 1.0.0.

Proves, with Xvfb (one 320x240 screen painted with xsetroot) and baresip (avcodec
H.264, snapshot module) on loopback: voipkit calls baresip with video, starts
``ScreenShare`` on the call, and the picture baresip decodes (its snapshot PNG, RGB) is
the screen's colour - red, then green after the screen is repainted - over the whole
640x480 frame (that channel >= 200 on average, the others <= 40); stopping the share
gives baresip the test pattern again (a picture with structure: green channel spread
> 20, where a flat screen has about 0).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from interop.api_helpers import in_thread, phone_config, running, wait_until
from interop.baresip import Baresip
from interop.xvfb import paint, xvfb
from voipkit.api.screen_share import ScreenShare, screen_settings, stop_screen_share

pytestmark = pytest.mark.interop


def _snapshot_rgb(path: Path) -> np.ndarray | None:
    try:
        with av.open(str(path)) as container:
            picture = next(container.decode(video=0))
    except (FileNotFoundError, av.FFmpegError, StopIteration):
        return None
    return np.asarray(picture.to_ndarray(format="rgb24"), dtype=np.int32)


async def _snapshot_is(ua: Baresip, png: Path, rgb: tuple[bool, bool, bool]) -> bool:
    """Is baresip's picture all of one primary colour (its channel >= 200 on average,
    the others <= 40)? baresip's PNG conversion treats the video as full range, so red
    comes out as (234, 14, 15) rather than (255, 0, 0)."""
    png.unlink(missing_ok=True)
    response = await in_thread(ua.command, f"snapshot_recv {png}")
    assert response.get("ok"), response
    await wait_until(lambda: _snapshot_rgb(png) is not None, 5, what="baresip's snapshot")
    picture = _snapshot_rgb(png)
    assert picture is not None and picture.shape == (480, 640, 3)
    means = [float(picture[..., c].mean()) for c in range(3)]
    return all((m >= 200) if want else (m <= 40) for m, want in zip(means, rgb, strict=True))


def test_screen_share_reaches_baresip(tmp_path: Path) -> None:
    ua = Baresip(state=tmp_path / "baresip", user="alice", video_codecs="H264")

    async def main(display: str) -> None:
        async with running(phone_config()) as phone:
            screen_settings(phone).display = display
            call = await phone.call(ua.uri, video=True)
            await call.answered(timeout=10)
            share = await ScreenShare.start(call)
            assert share.capture.wait_first(5)
            png = tmp_path / "recv.png"
            for colour, rgb in (("#ff0000", (True, False, False)),
                                ("#00ff00", (False, True, False))):
                paint(display, colour)
                deadline = asyncio.get_running_loop().time() + 10
                while not await _snapshot_is(ua, png, rgb):
                    assert asyncio.get_running_loop().time() < deadline, colour
            assert stop_screen_share(call)
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                png.unlink(missing_ok=True)
                await in_thread(ua.command, f"snapshot_recv {png}")
                await wait_until(lambda: _snapshot_rgb(png) is not None, 5, what="snapshot")
                picture = _snapshot_rgb(png)
                if picture is not None and float(picture[..., 1].std()) > 20:
                    break  # the moving pattern (bars, gradients), not a flat screen
                assert asyncio.get_running_loop().time() < deadline, "the pattern is back"
            await call.hangup()
            await call.ended(timeout=5)

    with xvfb([(320, 240)]) as display, ua:
        asyncio.run(asyncio.wait_for(main(display), 60))
