"""voipkit video calls with a real baresip 1.0.0 (avcodec H.264, libvpx VP8, fakevideo).

Proves, with baresip started per test on loopback (fakevideo camera and display,
snapshot module), for H.264 and VP8, both call directions:
- voipkit's offer (H.264 in packetization modes 1 and 0, VP8) is accepted with the
  codec baresip supports (baresip's avcodec does H.264 in mode 0 only), and baresip's
  own offer is answered with video;
- baresip decodes voipkit's 640x480 test pattern: the picture its snapshot module saves
  (PNG, RGB) carries a valid pattern index and matches that pattern frame with
  PSNR >= 25 dB after the RGB round trip;
- voipkit decodes baresip's 352x288 fakevideo stream (still red, green and blue
  vertical thirds: their luma, every frame alike) with no frame dropped and no packet
  lost;
- voipkit's PLI (RFC 4585 §6.3.1) makes baresip send a key frame within 1 s, where it
  sent none in the second before (baresip sends one key frame at the start only).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from interop.api_helpers import in_thread, phone_config, running, uri_of, wait_until
from interop.baresip import Baresip
from voipkit.api import Call, IncomingCall
from voipkit.media.video import VideoFrame, pattern_frame, pattern_index, psnr

pytestmark = pytest.mark.interop

CODECS = ["H264", "VP8"]


def _snapshot(path: Path) -> VideoFrame | None:
    """The PNG baresip wrote, as I420; None while the file is missing or still partial."""
    try:
        with av.open(str(path)) as container:
            picture = next(container.decode(video=0))
    except (FileNotFoundError, av.FFmpegError, StopIteration):
        return None
    return VideoFrame(np.asarray(picture.reformat(format="yuv420p").to_ndarray(),
                                 dtype=np.uint8))


async def _check_both_ways(call: Call, ua: Baresip, codec: str, tmp_path: Path) -> None:
    video = call.video
    assert video is not None and video.negotiated is not None
    assert video.negotiated.send_codec.encoding == codec
    if codec == "H264":
        assert video.negotiated.send_fmtp.get("packetization-mode", "0") == "0"
    received: list[VideoFrame] = []
    video.add_sink(received.append)
    await wait_until(lambda: len(received) >= 15, 10, what="15 frames from baresip")
    assert {(f.width, f.height) for f in received} == {(352, 288)}
    # fakevideo sends still red, green and blue vertical thirds: BT.601 luma 82, 145, 41
    columns = received[-1].y.mean(axis=0)
    thirds = [float(columns[i * 352 // 3 + 20: (i + 1) * 352 // 3 - 20].mean())
              for i in range(3)]
    assert [abs(m - e) <= 4 for m, e in zip(thirds, (82, 145, 41), strict=True)] == [True] * 3
    assert min(psnr(received[-1], f) for f in received[1:]) >= 35.0  # every frame alike
    stats = video.statistics()
    assert stats["frames_dropped"] == 0 and stats["packets_lost"] == 0

    png = tmp_path / "recv.png"
    response = await in_thread(ua.command, f"snapshot_recv {png}")
    assert response.get("ok"), response
    await wait_until(lambda: _snapshot(png) is not None, 5, what="baresip's snapshot")
    picture = _snapshot(png)
    assert picture is not None
    assert (picture.width, picture.height) == (640, 480)
    index = pattern_index(picture)
    assert 0 <= index < 1000  # frames since the call started, at 15 fps
    assert psnr(pattern_frame(640, 480, index), picture) >= 25.0


@pytest.mark.parametrize("codec", CODECS)
def test_voipkit_calls_baresip_with_video(codec: str, tmp_path: Path) -> None:
    ua = Baresip(state=tmp_path / "baresip", user="alice", video_codecs=codec)

    async def main() -> None:
        async with running(phone_config()) as phone:
            call = await phone.call(ua.uri, video=True)
            await call.answered(timeout=10)
            await _check_both_ways(call, ua, codec, tmp_path)
            await call.hangup()
            await call.ended(timeout=5)

    with ua:
        asyncio.run(asyncio.wait_for(main(), 40))


@pytest.mark.parametrize("codec", CODECS)
def test_baresip_calls_voipkit_with_video(codec: str, tmp_path: Path) -> None:
    ua = Baresip(state=tmp_path / "baresip", user="alice", video_codecs=codec)

    async def main() -> None:
        async with running(phone_config()) as phone:
            calls: asyncio.Queue[Call] = asyncio.Queue()

            @phone.on(IncomingCall)
            async def answer(event: IncomingCall) -> None:
                await event.call.answer(video=True)
                await calls.put(event.call)

            response = await in_thread(ua.dial, uri_of(phone, "bob"))
            assert response.get("ok"), response
            call = await asyncio.wait_for(calls.get(), 10)
            offer = call.remote_sdp
            assert offer is not None and any(m.kind == "video" for m in offer.media)
            await _check_both_ways(call, ua, codec, tmp_path)
            await call.hangup()
            await call.ended(timeout=5)

    with ua:
        asyncio.run(asyncio.wait_for(main(), 40))


@pytest.mark.parametrize("codec", CODECS)
def test_baresip_answers_pli_with_a_key_frame(codec: str, tmp_path: Path) -> None:
    ua = Baresip(state=tmp_path / "baresip", user="alice", video_codecs=codec)

    async def main() -> None:
        async with running(phone_config()) as phone:
            call = await phone.call(ua.uri, video=True)
            await call.answered(timeout=10)
            video = call.video
            assert video is not None

            def counters() -> tuple[int, int]:
                stream = video.session.stream
                assert stream is not None
                return stream.counters.frames_received, stream.counters.keyframes_received

            await wait_until(lambda: counters()[0] >= 10, 10, what="10 frames from baresip")
            before = counters()[1]
            assert before >= 1  # the stream starts with one
            frames = counters()[0]
            await wait_until(lambda: counters()[0] >= frames + 10, 5, what="10 more frames")
            assert counters()[1] == before  # no key frame without a request
            assert video.session.request_remote_keyframe()
            await wait_until(lambda: counters()[1] > before, 1.0, what="a key frame after PLI")
            await call.hangup()
            await call.ended(timeout=5)

    with ua:
        asyncio.run(asyncio.wait_for(main(), 40))
