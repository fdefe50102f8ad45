"""onInviteUpdated carries the peer's re-INVITE and reports what was negotiated.

Proves (two PortSIPLib on 127.0.0.1): when Alice re-INVITEs to add video and Bob's
call has no video (answered audio only), Bob's onInviteUpdated carries the re-INVITE
(its offer lists the video line) yet says existsVideo false with no videoCodecNames,
because Bob's answer refused the line (it used to read the ACK); existsAudio is true
with the call's audio codec. When Bob's call has video, a re-INVITE that removes it
(port 0) gives existsVideo false, and one that adds it again gives true with the
agreed codecs; sipMessage is the INVITE each time, never the ACK.
"""

from __future__ import annotations

from typing import Any

from tests.compat.conftest import Recorder, sip_port

from voipkit.compat.portsip import PortSIPLib

Pair = tuple[PortSIPLib, Recorder, PortSIPLib, Recorder]


def _connect(pair: Pair, bob_video: bool) -> tuple[int, int]:
    alice, alice_events, bob, bob_events = pair
    for lib in (alice, bob):
        assert lib.setVideoResolution(160, 120) == 0

    def answer(sid: int, *rest: Any) -> None:
        assert bob.answerCall(sid, bob_video) == 0

    bob_events.hooks["onInviteIncoming"] = answer
    sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, bob_video)
    assert sid > 0
    alice_events.wait("onInviteConnected", lambda a: a == (sid,))
    bob_events.wait("onInviteConnected")
    return sid, bob_events.wait("onInviteIncoming")[0]


def test_refused_video_is_not_reported(pair: Pair) -> None:
    alice, _, _, bob_events = pair
    sid, bob_sid = _connect(pair, bob_video=False)
    assert alice.updateCall(sid, True, True, False) == 0
    updated = bob_events.wait("onInviteUpdated")
    session, audio, video, has_audio, has_video, has_screen, message = updated
    assert session == bob_sid and message.startswith("INVITE ")
    assert "m=video" in message  # the offer had video ...
    assert has_video is False and video == ""  # ... but the call did not take it
    assert has_audio is True and audio
    assert has_screen is False
    assert alice.hangUp(sid) == 0


def test_removed_and_added_video(pair: Pair) -> None:
    alice, _, _, bob_events = pair
    sid, bob_sid = _connect(pair, bob_video=True)
    assert alice.updateCall(sid, True, False, False) == 0
    removed = bob_events.wait("onInviteUpdated")
    assert removed[0] == bob_sid and removed[6].startswith("INVITE ")
    assert removed[4] is False and removed[2] == ""
    assert alice.updateCall(sid, True, True, False) == 0
    added = bob_events.wait("onInviteUpdated", count=2)
    assert added[6].startswith("INVITE ") and added[4] is True
    assert added[2] == "H264#VP8"
    assert alice.hangUp(sid) == 0
