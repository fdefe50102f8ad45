"""The video conference on real calls: Phone A hosts, B and C join with video.

Proves (real SIP, SDP, RTP, H.264 both ways, small 160x120 frames to spare the CPU):
- ``VideoConference.create(phone, width, height, layout=QUAD, window=...)`` composes
  A's local source (slot 0), B's and C's decoded video (slots 1 and 2, in joining
  order) and black for the empty fourth cell into A's window;
- every member receives the composed picture: B decodes C's colour in cell 2;
- ``leave`` gives B its own source back (B's peer sees B's colour, not the picture)
  and frees its slot; ``set_layout`` switches at once; ``destroy`` (through the
  audio conference's ``destroy``) stops the pictures and restores C;
- one conference per phone; bad sizes and layouts are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from voipkit import api
from voipkit.api import IncomingCall, Phone, PhoneConfig
from voipkit.api.errors import ConfigurationError, InvalidStateError
from voipkit.api.video_conference import VideoConference
from voipkit.media.video import VideoFrame
from voipkit.media.video.compose import ConferenceLayout, Region, solid_frame

LOCAL = (60, 100, 160)
B_COLOUR = (180, 90, 100)
C_COLOUR = (110, 170, 80)


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(55000, 59999)))


class Solid:
    def __init__(self, yuv: tuple[int, int, int], width: int = 160, height: int = 120) -> None:
        self.frame = solid_frame(width, height, yuv)

    def read_frame(self) -> VideoFrame:
        return self.frame


def near(frame: VideoFrame, region: Region, yuv: tuple[int, int, int], tol: float = 8) -> bool:
    """The cell's inner part has mean Y, U, V within ``tol`` of ``yuv``."""
    y, u, v = frame.planes()
    x0, y0 = region.x + region.width // 4, region.y + region.height // 4
    x1, y1 = region.x + 3 * region.width // 4, region.y + 3 * region.height // 4
    means = (float(np.mean(y[y0:y1, x0:x1])),
             float(np.mean(u[y0 // 2:y1 // 2, x0 // 2:x1 // 2])),
             float(np.mean(v[y0 // 2:y1 // 2, x0 // 2:x1 // 2])))
    return all(abs(m - c) <= tol for m, c in zip(means, yuv, strict=True))


class Until:
    """A frame sink that sets ``hit`` once ``test(frame)`` holds."""

    def __init__(self, test: Callable[[VideoFrame], bool]) -> None:
        self.test = test
        self.hit = asyncio.Event()
        self.seen = 0

    def __call__(self, frame: VideoFrame) -> None:
        self.seen += 1
        if self.test(frame):
            self.hit.set()

    async def wait(self, timeout: float = 10) -> None:
        await asyncio.wait_for(self.hit.wait(), timeout)


async def _member(colour: tuple[int, int, int]) -> tuple[Phone, list[api.Call]]:
    phone = Phone(_config())
    phone.video.set_resolution(160, 120)
    await phone.start()
    calls: list[api.Call] = []

    @phone.on(IncomingCall)
    async def answer(event: IncomingCall) -> None:
        await event.call.answer(video=True)
        assert event.call.video is not None
        event.call.video.push(colour_frame(colour))
        calls.append(event.call)

    return phone, calls


def colour_frame(colour: tuple[int, int, int]) -> VideoFrame:
    return solid_frame(160, 120, colour)


def test_video_conference_composes_and_feeds_members() -> None:
    async def main() -> None:
        host = Phone(_config())
        host.video.set_resolution(160, 120)
        host.video.set_frame_rate(10)
        await host.start()
        (b, b_calls), (c, _) = await _member(B_COLOUR), await _member(C_COLOUR)
        try:
            calls = []
            for peer in (b, c):
                _, ip, port = peer.listening[0]
                call = await host.call(f"sip:peer@{ip}:{port}", video=True)
                await call.answered(timeout=5)
                calls.append(call)
            regions = {r.slot: r for r in
                       [Region(0, 0, 0, 160, 120), Region(1, 160, 0, 160, 120),
                        Region(2, 0, 120, 160, 120), Region(3, 160, 120, 160, 120)]}
            window = Until(lambda f: near(f, regions[0], LOCAL) and near(
                f, regions[1], B_COLOUR) and near(f, regions[2], C_COLOUR)
                and near(f, regions[3], (16, 128, 128), 1))
            video = VideoConference.create(host, width=320, height=240,
                                           layout=ConferenceLayout.QUAD, window=window,
                                           local_source=Solid(LOCAL))
            with pytest.raises(InvalidStateError):
                VideoConference.create(host)
            conference = video.conference
            own = [call.video.session.source for call in calls if call.video is not None]
            for call in calls:
                await conference.join(call)
            assert [call.id for call in video.calls] == [call.id for call in calls]
            await window.wait()
            # B receives the picture: C's colour in cell 2
            at_b = Until(lambda f: (f.width, f.height) == (320, 240)
                         and near(f, regions[2], C_COLOUR))
            assert b_calls[0].video is not None
            b_calls[0].video.add_sink(at_b)
            await at_b.wait()
            # B leaves: the host sends B its own pattern again, and B's slot is freed
            conference.leave(calls[0])
            assert [call.id for call in video.calls] == [calls[1].id]
            not_picture = Until(lambda f: (f.width, f.height) == (160, 120))
            b_calls[0].video.add_sink(not_picture)
            await not_picture.wait()
            moved = Until(lambda f: near(f, regions[1], C_COLOUR)
                          and near(f, regions[2], (16, 128, 128), 1))
            video.set_window(moved)
            await moved.wait()
            # layout 3: two halves, C letterboxed on the right
            halves = Until(lambda f: near(f, Region(1, 160, 60, 160, 120), C_COLOUR)
                           and near(f, Region(1, 160, 0, 160, 60), (16, 128, 128), 1))
            video.set_window(halves)
            video.set_layout(ConferenceLayout.LEFT_RIGHT)
            await halves.wait()
            conference.destroy()
            assert video.destroyed and not video.running
            assert VideoConference.of(host) is None
            assert calls[1].video is not None
            assert calls[1].video.session.source is own[1]
            assert calls[0].video is not None and calls[0].video.session.source is own[0]
        finally:
            await host.close()
            await b.close()
            await c.close()

    asyncio.run(asyncio.wait_for(main(), 40))


def test_refusals() -> None:
    async def main() -> None:
        phone = Phone(_config())
        await phone.start()
        try:
            for kwargs in ({"width": 321, "height": 240}, {"width": 0, "height": 240},
                           {"width": 4000, "height": 4000}, {"layout": 8},
                           {"frame_rate": 0}):
                with pytest.raises(ConfigurationError):
                    VideoConference.create(phone, **kwargs)  # type: ignore[arg-type]
            assert VideoConference.of(phone) is None
            video = VideoConference.create(phone, width=64, height=48, frame_rate=5)
            assert VideoConference.of(phone) is video and video.running
            with pytest.raises(ConfigurationError):
                video.set_layout(9)
        finally:
            await phone.close()
        assert video.destroyed

    asyncio.run(asyncio.wait_for(main(), 20))
