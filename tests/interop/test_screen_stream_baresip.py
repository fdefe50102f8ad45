"""A peer that knows one video line only (baresip 1.0.0) keeps the camera when voipkit
adds its screen as a second, ``a=content:slides`` line.

Proves, with Xvfb (one red 320x240 screen) and baresip (avcodec H.264, snapshot module)
on loopback: voipkit calls baresip with video; ``Call.update(screen=True)`` re-offers
audio, the camera (``a=content:main``) and the screen (``a=content:slides``); baresip
answers the re-INVITE, refusing the screen line (port 0), so the screen stream is not
negotiated, and the picture baresip decodes is still the camera's moving pattern
(structure: green channel spread > 20), never the flat red screen;
``update(screen=False)`` is answered too and the call goes on.
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
from voipkit.api import CallUpdated
from voipkit.api.screen_share import screen_settings
from voipkit.api.screen_stream import SCREEN_INDEX, content_of

pytestmark = pytest.mark.interop


def _snapshot_rgb(path: Path) -> np.ndarray | None:
    try:
        with av.open(str(path)) as container:
            picture = next(container.decode(video=0))
    except (FileNotFoundError, av.FFmpegError, StopIteration):
        return None
    return np.asarray(picture.to_ndarray(format="rgb24"), dtype=np.int32)


async def _camera_arrives(ua: Baresip, png: Path) -> None:
    """baresip decodes the moving pattern (not the flat red screen) within 10 s."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        png.unlink(missing_ok=True)
        response = await in_thread(ua.command, f"snapshot_recv {png}")
        assert response.get("ok"), response
        await wait_until(lambda: _snapshot_rgb(png) is not None, 5, what="snapshot")
        picture = _snapshot_rgb(png)
        assert picture is not None
        assert not (float(picture[..., 0].mean()) >= 200
                    and float(picture[..., 1].mean()) <= 40), "the screen took the camera"
        if float(picture[..., 1].std()) > 20:
            return
        assert asyncio.get_running_loop().time() < deadline, "no camera picture"


def test_baresip_refuses_the_screen_line_and_keeps_the_camera(tmp_path: Path) -> None:
    ua = Baresip(state=tmp_path / "baresip", user="alice", video_codecs="H264")

    async def main(display: str) -> None:
        async with running(phone_config()) as phone:
            phone.video.set_resolution(320, 240)
            screen_settings(phone).display = display
            paint(display, "#ff0000")
            call = await phone.call(ua.uri, video=True)
            await call.answered(timeout=10)
            png = tmp_path / "recv.png"
            await _camera_arrives(ua, png)

            updated = asyncio.ensure_future(call.bus.wait_for(
                CallUpdated, lambda e: e.initiated_locally, timeout=10))
            await call.update(screen=True)
            await updated
            offer = call._local_sdp
            answer = call.remote_sdp
            assert offer is not None and answer is not None
            assert len(offer.media) == 3 and content_of(offer.media[SCREEN_INDEX]) == "slides"
            assert content_of(offer.media[1]) == "main"
            assert len(answer.media) == 3 and answer.media[SCREEN_INDEX].port == 0
            assert answer.media[1].port != 0
            assert call.screen is not None and not call.screen.active
            assert call.video is not None and call.video.active
            await _camera_arrives(ua, png)

            updated = asyncio.ensure_future(call.bus.wait_for(
                CallUpdated, lambda e: e.initiated_locally, timeout=10))
            await call.update(screen=False)
            await updated
            assert call.screen.capture is None
            await _camera_arrives(ua, png)
            await call.hangup()
            await call.ended(timeout=5)

    with xvfb([(320, 240)]) as display, ua:
        asyncio.run(asyncio.wait_for(main(display), 90))
