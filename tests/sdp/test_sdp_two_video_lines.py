"""Two video m= lines (camera and slides, RFC 4796) answered by m= line index.

Proves: ``negotiate_answer`` with ports by kind takes only the first video line (the
second is answered with port 0, as before); with ports keyed by m= line index it
accepts both video lines, each on its own port, in the offer's order, even when the
slides line comes first; an index key for a disabled (port 0) line still answers port
0; and ``api.screen_stream.slides_index`` finds the active ``a=content:slides`` line.
"""

from __future__ import annotations

from voipkit.api.screen_stream import content_of, slides_index
from voipkit.media.codecs import DEFAULT_CODECS
from voipkit.media.video.codecs import DEFAULT_VIDEO_CODECS
from voipkit.sdp import SessionDescription, negotiate_answer

CAPS = DEFAULT_CODECS.capabilities() + DEFAULT_VIDEO_CODECS.capabilities()


def _offer(first: str, second: str, first_port: int = 5002) -> SessionDescription:
    return SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n"
        f"m=video {first_port} RTP/AVP 120\r\na=rtpmap:120 VP8/90000\r\na=content:{first}\r\n"
        "m=video 5004 RTP/AVP 120\r\na=rtpmap:120 VP8/90000\r\na=sendonly\r\n"
        f"a=content:{second}\r\n")


def _answer(offer: SessionDescription, ports: dict[str | int, int]
            ) -> tuple[list[int], list[int]]:
    answer, streams = negotiate_answer(offer, capabilities=CAPS, address="127.0.0.1",
                                       port=ports, session_id=2, session_version=1)
    return [m.port for m in answer.media], [s.index for s in streams]


def test_by_kind_takes_the_first_video_line_only() -> None:
    offer = _offer("main", "slides")
    assert _answer(offer, {"audio": 6000, "video": 6002}) == ([6000, 6002, 0], [0, 1])


def test_by_index_takes_both() -> None:
    offer = _offer("main", "slides")
    assert slides_index(offer) == 2 and content_of(offer.media[1]) == "main"
    ports, indexes = _answer(offer, {"audio": 6000, 1: 6002, 2: 6004})
    assert ports == [6000, 6002, 6004] and indexes == [0, 1, 2]
    answer, streams = negotiate_answer(offer, capabilities=CAPS, address="127.0.0.1",
                                       port={"audio": 6000, 1: 6002, 2: 6004},
                                       session_id=2, session_version=1)
    assert streams[2].remote_port == 5004 and answer.media[2].direction.value == "recvonly"


def test_slides_first_and_disabled_lines() -> None:
    offer = _offer("slides", "main")
    assert slides_index(offer) == 1
    assert _answer(offer, {"audio": 6000, 2: 6002, 1: 6004}) == ([6000, 6004, 6002],
                                                                 [0, 1, 2])
    offer = _offer("main", "slides", first_port=0)
    assert _answer(offer, {"audio": 6000, 1: 6002, 2: 6004}) == ([6000, 0, 6004], [0, 2])
    assert _answer(offer, {"audio": 6000, 2: 6004}) == ([6000, 0, 6004], [0, 2])
