"""A call's camera is released when its video ends, not at garbage collection.

Proves (two Phones on 127.0.0.1, 160x120 video, the virtual camera looping a small
Matroska clip): while the call runs, the clip is open in this process (a
/proc/self/fd link to it); after the hang-up the link is gone at once (the source
is closed by the call, not by the collector: ``gc`` is disabled for the check), and
the same happens when the call's video is removed by a re-INVITE (update(video=False)).
"""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path

from voipkit import api
from voipkit.api import IncomingCall, Phone, PhoneConfig
from voipkit.api.video_devices import use_video_file
from voipkit.media.video import pattern_frame
from voipkit.media.video_recorder import AvRecorder


def _clip(path: Path) -> None:
    recorder = AvRecorder(path, width=160, height=120, frame_rate=10, audio_mode=None)
    for index in range(3):
        recorder.write_video(pattern_frame(160, 120, index), at=index / 10)
    recorder.close()


def _open_links(path: Path) -> int:
    target = str(path.resolve())
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                count += 1
        except OSError:
            continue
    return count


def test_looped_file_is_closed_when_the_video_ends(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    _clip(clip)

    async def main() -> None:
        phones = [Phone(PhoneConfig(listen=("udp:127.0.0.1:0",),
                                    media=api.MediaConfig(rtp_port_range=(50000, 54999))))
                  for _ in range(2)]
        alice, bob = phones
        for phone in phones:
            phone.video.set_resolution(160, 120)
            phone.video.set_frame_rate(10)
            await phone.start()
        use_video_file(alice, clip)

        @bob.on(IncomingCall)
        async def answer(event: IncomingCall) -> None:
            await event.call.answer(video=True)

        _, host, port = bob.listening[0]
        gc.disable()
        try:
            call = await alice.call(f"sip:bob@{host}:{port}", video=True)
            await call.answered(timeout=5)
            assert _open_links(clip) == 1
            await call.hangup()
            await call.ended(timeout=5)
            assert _open_links(clip) == 0

            call = await alice.call(f"sip:bob@{host}:{port}", video=True)
            await call.answered(timeout=5)
            assert _open_links(clip) == 1
            await call.update(video=False)
            assert _open_links(clip) == 0
            await call.hangup()
        finally:
            gc.enable()
            for phone in phones:
                await phone.close()

    asyncio.run(asyncio.wait_for(main(), 30))
