"""Video m= lines negotiate like audio ones, with fmtp and RTCP feedback (RFC 4585 §4.2).

Proves:
- an offer with an extra video m= line lists H.264 (125 in packetization mode 1, 96 in
  mode 0, profile-level-id) and VP8 (120) with their a=rtcp-fb lines, no
  telephone-event and no ptime;
- the answerer accepts audio and video on their own ports, keeps the offerer's payload
  types and fmtp, and answers only the feedback it understands (wildcard lines count);
- the offerer reads the agreed feedback and send fmtp back from the answer;
- a video line is rejected (port 0) when the answerer has no video port or no common codec.
"""

from __future__ import annotations

from voipkit.media.codecs import DEFAULT_CODECS
from voipkit.media.video.codecs import DEFAULT_VIDEO_CODECS
from voipkit.sdp import (
    MediaOffer,
    SessionDescription,
    create_offer,
    negotiate_answer,
    process_answer,
    rtcp_feedback,
)


def video_offer() -> SessionDescription:
    return create_offer(
        capabilities=DEFAULT_CODECS.capabilities(), address="127.0.0.1", port=4000,
        session_id=1, session_version=1,
        extra_media=[MediaOffer(capabilities=DEFAULT_VIDEO_CODECS.capabilities(), port=4002,
                                kind="video", ptime=None, telephone_event=False)])


def test_offer_lists_video_codecs_and_feedback() -> None:
    text = str(video_offer())
    video = text[text.index("m=video"):]
    assert video.startswith("m=video 4002 RTP/AVP 125 96 120\r\n")
    assert ("a=rtpmap:96 H264/90000\r\n"
            "a=fmtp:96 profile-level-id=42e01f;packetization-mode=0;"
            "level-asymmetry-allowed=1\r\n") in video
    assert ("a=rtpmap:125 H264/90000\r\n"
            "a=fmtp:125 profile-level-id=42e01f;packetization-mode=1;"
            "level-asymmetry-allowed=1\r\n"
            "a=rtcp-fb:125 nack\r\na=rtcp-fb:125 nack pli\r\na=rtcp-fb:125 ccm fir\r\n"
            "a=rtpmap:96 H264/90000\r\n") in video
    assert "a=rtcp-fb:96 nack pli\r\n" in video and "a=rtpmap:120 VP8/90000\r\n" in video
    assert "telephone-event" not in video and "ptime" not in video


def test_answer_keeps_known_feedback_and_offer_fmtp() -> None:
    offer = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n"
        "m=video 5002 RTP/AVP 97 98\r\n"
        "a=rtpmap:97 VP8/90000\r\na=rtcp-fb:* nack\r\na=rtcp-fb:97 goog-remb\r\n"
        "a=rtpmap:98 H264/90000\r\na=fmtp:98 packetization-mode=0;profile-level-id=42001f\r\n"
        "a=rtcp-fb:98 nack pli\r\n")
    caps = DEFAULT_CODECS.capabilities() + DEFAULT_VIDEO_CODECS.capabilities()
    answer, streams = negotiate_answer(
        offer, capabilities=caps, address="127.0.0.1", port={"audio": 6000, "video": 6002},
        session_id=2, session_version=1)
    video = answer.media[1]
    assert video.port == 6002 and video.formats == ["97", "98"]
    assert rtcp_feedback(video, 97) == ["nack"]  # goog-remb is not understood
    assert rtcp_feedback(video, 98) == ["nack", "nack pli"]
    assert video.fmtp[98] == {"packetization-mode": "0", "profile-level-id": "42001f"}
    (_, negotiated) = streams
    assert negotiated.kind == "video" and negotiated.send_codec.encoding == "VP8"
    assert negotiated.rtcp_fb == frozenset({"nack"})
    assert negotiated.remote_port == 5002


def test_offerer_reads_feedback_from_the_answer() -> None:
    offer = video_offer()
    caps = DEFAULT_CODECS.capabilities() + DEFAULT_VIDEO_CODECS.capabilities()
    answer, _ = negotiate_answer(offer, capabilities=caps, address="127.0.0.1",
                                 port={"audio": 6000, "video": 6002}, session_id=2,
                                 session_version=1)
    streams = process_answer(offer, answer)
    video = streams[1]
    assert video.send_codec.encoding == "H264" and video.send_codec.payload_type == 125
    assert video.send_fmtp["packetization-mode"] == "1"
    assert video.rtcp_fb == frozenset({"nack", "nack pli", "ccm fir"})
    assert streams[0].rtcp_fb == frozenset()


def test_video_rejected_without_port_or_codec() -> None:
    offer = video_offer()
    answer, streams = negotiate_answer(offer, capabilities=DEFAULT_CODECS.capabilities(),
                                       address="127.0.0.1", port={"audio": 6000, "video": 6002},
                                       session_id=2, session_version=1)
    assert answer.media[1].port == 0 and [s.kind for s in streams] == ["audio"]
    caps = DEFAULT_CODECS.capabilities() + DEFAULT_VIDEO_CODECS.capabilities()
    answer, streams = negotiate_answer(offer, capabilities=caps, address="127.0.0.1",
                                       port=6000, session_id=2, session_version=1)
    assert answer.media[1].port == 0 and len(streams) == 1
    assert process_answer(offer, answer)[0].kind == "audio"
