"""A call's video recording is never left unfinished.

Proves (two Phones on 127.0.0.1, 320x240 H.264): ``start_video_recording`` into .mp4
(whose index is written only at the end) is finalised by the hang-up of the call and,
for a call still up, by ``Phone.close``: both files decode to the frames recorded,
with the pattern indices the peer sent, in order; ``Call.stop_record`` after the
hang-up has nothing left to stop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import av

from voipkit import api
from voipkit.api import IncomingCall, Phone, PhoneConfig
from voipkit.api.video_recording import start_video_recording
from voipkit.media.recorder import RecordMode
from voipkit.media.video import VideoFrame, pattern_index


def _config() -> PhoneConfig:
    return PhoneConfig(listen=("udp:127.0.0.1:0",),
                       media=api.MediaConfig(rtp_port_range=(50000, 54999)))


class Count:
    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.seen = 0
        self.done = asyncio.Event()

    def __call__(self, frame: VideoFrame) -> None:
        self.seen += 1
        if self.seen >= self.wanted:
            self.done.set()


def _indices(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [pattern_index(VideoFrame(f.to_ndarray(format="yuv420p")))
                for f in container.decode(video=0)]


def test_hangup_and_close_finalise(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob = Phone(_config()), Phone(_config())
        for phone in (alice, bob):
            phone.video.set_resolution(320, 240)
            await phone.start()

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)

        try:
            _, host, port = bob.listening[0]
            for name, end in (("hangup.mp4", "hangup"), ("close.mp4", "close")):
                call = await alice.call(f"sip:bob@{host}:{port}", video=True)
                await call.answered(timeout=5)
                assert call.video is not None
                count = Count(6)
                call.video.add_sink(count)
                recording = start_video_recording(call, tmp_path / name,
                                                  video_mode=RecordMode.RECV,
                                                  audio_mode=RecordMode.BOTH)
                await asyncio.wait_for(count.done.wait(), 10)
                if end == "hangup":
                    await call.hangup()
                    await call.ended(timeout=5)
                    assert not recording.active and call.stop_record() is None
                else:
                    await alice.close()
                    assert not recording.active
                indices = _indices(tmp_path / name)
                assert len(indices) >= 4 and indices == sorted(indices)
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(asyncio.wait_for(main(), 40))
