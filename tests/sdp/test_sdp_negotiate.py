"""RFC 3264 offer/answer: offers we build, answers we give, answers we accept or refuse.

Proves:
- create_offer writes static and dynamic payload types, telephone-event per clock rate,
  ptime, rtcp-mux, RTP/SAVP with a=crypto, and IP4/IP6 from the address;
- negotiate_answer keeps the offerer's codec order and payload numbers (§6.1), matches
  telephone-event by clock rate, echoes or overrides ptime, rejects m= lines with port 0
  in place (§6), answers hold offers (sendonly -> recvonly, inactive, c=0.0.0.0) and our
  own hold, negotiates rtcp-mux and SDES crypto, and raises 488 when nothing is common;
- process_answer derives what to send where (c= fallback, RTCP port, renumbered
  dynamic types) and refuses answers that do not match the offer;
- next_version bumps o= only when the description changed (§8); is_hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from voipkit.base import SequentialIds
from voipkit.sdp import (
    Attribute,
    CodecCapability,
    Connection,
    Direction,
    MediaOffer,
    NegotiatedMedia,
    NegotiationError,
    Rtcp,
    RtpMap,
    SdpError,
    SessionDescription,
    create_offer,
    is_hold,
    negotiate_answer,
    new_crypto,
    next_version,
    process_answer,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "sdp"

PCMU = CodecCapability("PCMU", 8000)
PCMA = CodecCapability("PCMA", 8000)
G722 = CodecCapability("G722", 8000)
OPUS = CodecCapability("opus", 48000, 2, payload_type=96, fmtp={"useinbandfec": "1"})
VP8 = CodecCapability("VP8", 90000, kind="video")


def load(name: str) -> SessionDescription:
    return SessionDescription.parse((DATA / name).read_bytes())


def offer_text(media: str, *, session: str = "c=IN IP4 198.51.100.7\r\n") -> str:
    return ("v=0\r\no=bob 100 200 IN IP4 198.51.100.7\r\ns=-\r\n" + session
            + "t=0 0\r\n" + media)


def answer_to(offer: SessionDescription | str, caps: list[CodecCapability] | None = None,
              **kwargs: Any) -> tuple[SessionDescription, list[NegotiatedMedia]]:
    sd = offer if isinstance(offer, SessionDescription) else SessionDescription.parse(offer)
    options: dict[str, Any] = {"address": "192.0.2.1", "port": 5000,
                               "session_id": 7, "session_version": 1, **kwargs}
    return negotiate_answer(sd, capabilities=caps or [PCMU, PCMA], **options)


def test_create_offer_writes_static_dynamic_and_telephone_event_lines() -> None:
    offer = create_offer(capabilities=[OPUS, G722, PCMU, PCMA], address="192.0.2.1",
                         port=4000, session_id=11, session_version=1, ptime=0.02)
    assert str(offer) == (
        "v=0\r\no=- 11 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 96 9 0 8 101 97\r\n"
        "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n"
        "a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/48000\r\na=fmtp:101 0-16\r\n"
        "a=rtpmap:97 telephone-event/8000\r\na=fmtp:97 0-16\r\n"
        "a=ptime:20\r\na=sendrecv\r\n")
    assert SessionDescription.parse(bytes(offer)) == offer


def test_create_offer_moves_colliding_preferred_types_and_uses_ipv6() -> None:
    clash = CodecCapability("speex", 16000, payload_type=101)
    offer = create_offer(capabilities=[PCMU, clash], address="2001:db8::1", port=4000,
                         session_id=1, session_version=1, telephone_event_pt=101,
                         direction=Direction.SENDONLY, ptime=None, maxptime=0.04,
                         rtcp_mux=True)
    media = offer.media[0]
    assert offer.origin.addrtype == "IP6"
    assert offer.connection == Connection("IN", "IP6", "2001:db8::1")
    assert media.formats == ["0", "101", "96", "97"]
    assert media.rtpmaps[96] == RtpMap(96, "telephone-event", 8000)
    assert media.rtpmaps[97] == RtpMap(97, "telephone-event", 16000)
    assert media.ptime is None and media.maxptime == 0.04
    assert media.rtcp_mux
    assert media.direction is Direction.SENDONLY


def test_create_offer_with_srtp_and_video() -> None:
    crypto = new_crypto(1, "AES_CM_128_HMAC_SHA1_80", SequentialIds("k"))
    offer = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000, session_id=1,
                         session_version=1, crypto=[crypto], telephone_event=False,
                         extra_media=[MediaOffer(capabilities=[VP8], port=4002,
                                                 kind="video", ptime=None)])
    audio, video = offer.media
    assert audio.proto == "RTP/SAVP"
    assert audio.crypto == [crypto]
    assert len(crypto.key_salt) == 30
    assert audio.formats == ["0"]
    assert (video.kind, video.port, video.proto, video.formats) == (
        "video", 4002, "RTP/AVP", ["96"])
    assert video.rtpmaps == {96: RtpMap(96, "VP8", 90000)}
    with pytest.raises(ValueError, match="no video capabilities"):
        create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000, session_id=1,
                     session_version=1, kind="video")


def test_pcmu_pcma_answer_to_g722_pcmu_offer() -> None:
    offer = offer_text("m=audio 6000 RTP/AVP 9 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
                       "a=fmtp:101 0-15\r\n")
    answer, (stream,) = answer_to(offer)
    assert str(answer) == (
        "v=0\r\no=- 7 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n")
    assert stream.send_codec == RtpMap(0, "PCMU", 8000)
    assert stream.telephone_event_pt == 101
    assert stream.payload_types == {0: RtpMap(0, "PCMU", 8000),
                                    101: RtpMap(101, "telephone-event", 8000)}
    assert (stream.remote_address, stream.remote_port) == ("198.51.100.7", 6000)
    assert stream.remote_rtcp == ("198.51.100.7", 6001)
    assert stream.direction is Direction.SENDRECV
    assert stream.ptime == 0.02
    assert not stream.rtcp_mux


def test_answer_keeps_offerers_order_and_dynamic_numbers() -> None:
    offer = offer_text("m=audio 6000 RTP/AVP 111 8 0 126\r\na=rtpmap:111 opus/48000/2\r\n"
                       "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
                       "a=rtpmap:126 telephone-event/48000\r\na=ptime:30\r\n")
    answer, (stream,) = answer_to(offer, [PCMU, OPUS])  # our preference differs
    media = answer.media[0]
    assert media.formats == ["111", "0", "126"]
    assert media.fmtp_text == {111: "minptime=10;useinbandfec=1"}
    assert media.ptime == 0.03  # echoed
    assert stream.send_codec == RtpMap(111, "opus", 48000, 2)
    assert stream.send_fmtp == {"minptime": "10", "useinbandfec": "1"}
    assert stream.telephone_event_pt == 126
    assert stream.ptime == 0.03
    answer2, (stream2,) = answer_to(offer, [PCMU, OPUS], ptime=0.02)
    assert answer2.media[0].ptime == 0.02
    assert stream2.ptime == 0.03  # we send what the offerer asked to receive


def test_telephone_event_is_matched_by_clock_rate() -> None:
    answer, (stream,) = answer_to(load("linphone_offer.sdp"), [PCMU, G722],
                                  port={"audio": 5000})
    audio, video = answer.media
    assert audio.formats == ["0", "100"]
    assert stream.telephone_event_pt == 100
    assert video.port == 0 and video.formats == ["96", "97"]
    _, (quiet,) = answer_to(load("linphone_offer.sdp"), [PCMU], telephone_event=False)
    assert quiet.telephone_event_pt is None


def test_rejected_video_keeps_its_m_line_and_process_answer_skips_it() -> None:
    offer = create_offer(capabilities=[PCMU], address="192.0.2.50", port=4000,
                         session_id=1, session_version=1,
                         extra_media=[MediaOffer(capabilities=[VP8], port=4002,
                                                 kind="video")])
    answer, streams = answer_to(offer, [PCMU])
    assert [m.port for m in answer.media] == [5000, 0]
    assert answer.media[1].lines() == ["m=video 0 RTP/AVP 96"]
    assert [s.index for s in streams] == [0]
    (agreed,) = process_answer(offer, SessionDescription.parse(str(answer)))
    assert agreed.index == 0 and agreed.send_codec == RtpMap(0, "PCMU", 8000)
    assert agreed.remote_address == "192.0.2.1" and agreed.remote_port == 5000


def test_unsupported_proto_second_stream_and_disabled_stream_are_rejected() -> None:
    offer = offer_text("m=audio 6000 UDP/TLS/RTP/SAVPF 0\r\n"
                       "m=audio 6002 RTP/AVP 0\r\n"
                       "m=audio 6004 RTP/AVP 0\r\n"
                       "m=audio 0 RTP/AVP 0\r\n"
                       "m=application 6006 UDP/BFCP *\r\n")
    answer, streams = answer_to(offer)
    assert [m.port for m in answer.media] == [0, 5000, 0, 0, 0]
    assert answer.media[4].formats == ["*"]
    assert [s.index for s in streams] == [1]


@pytest.mark.parametrize(("offered", "local", "answered"), [
    ("sendrecv", Direction.SENDRECV, Direction.SENDRECV),
    ("sendonly", Direction.SENDRECV, Direction.RECVONLY),
    ("recvonly", Direction.SENDRECV, Direction.SENDONLY),
    ("inactive", Direction.SENDRECV, Direction.INACTIVE),
    ("sendrecv", Direction.SENDONLY, Direction.SENDONLY),   # we hold
    ("sendonly", Direction.SENDONLY, Direction.INACTIVE),   # both hold
    ("sendrecv", Direction.INACTIVE, Direction.INACTIVE),
])
def test_answer_direction(offered: str, local: Direction, answered: Direction) -> None:
    offer = offer_text(f"m=audio 6000 RTP/AVP 0\r\na={offered}\r\n")
    answer, (stream,) = answer_to(offer, direction=local)
    assert answer.media[0].direction is answered
    assert stream.direction is answered
    agreed = process_answer(SessionDescription.parse(offer), answer)
    assert agreed[0].direction is Direction(offered).intersect(answered.reversed())


def test_session_level_direction_and_rfc2543_hold() -> None:
    held = SessionDescription.parse(offer_text("m=audio 6000 RTP/AVP 0\r\n",
                                               session="c=IN IP4 0.0.0.0\r\n"))
    assert is_hold(held.media[0], held)
    answer, (stream,) = answer_to(held)
    assert answer.media[0].direction is Direction.RECVONLY
    assert stream.remote_address == "0.0.0.0" and not stream.direction.sends
    session_level = SessionDescription.parse(offer_text(
        "m=audio 6000 RTP/AVP 0\r\n", session="c=IN IP4 198.51.100.7\r\na=inactive\r\n"))
    assert is_hold(session_level.media[0], session_level)
    assert not is_hold(session_level.media[0])  # alone, the m= line says sendrecv
    answer, _ = answer_to(session_level)
    assert answer.media[0].direction is Direction.INACTIVE
    unheld = SessionDescription.parse(offer_text("m=audio 6000 RTP/AVP 0\r\na=sendrecv\r\n"))
    assert not is_hold(unheld.media[0], unheld)


def test_hold_and_unhold_reoffer_versions() -> None:
    offer = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000,
                         session_id=5, session_version=1)
    same = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000,
                        session_id=99, session_version=99)
    assert next_version(offer, same) == offer
    hold = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000,
                        session_id=99, session_version=99, direction=Direction.SENDONLY)
    held = next_version(offer, hold)
    assert (held.origin.sess_id, held.origin.sess_version) == (5, 2)
    assert is_hold(held.media[0], held)
    _, (stream,) = answer_to(held)
    assert stream.direction is Direction.RECVONLY
    unhold = next_version(held, offer)
    assert unhold.origin.sess_version == 3
    assert unhold.media[0].direction is Direction.SENDRECV


def test_ipv6_offer_and_answer() -> None:
    answer, (stream,) = answer_to(load("kamailio_rtpengine_ipv6.sdp"), [PCMU, G722],
                                  address="2001:db8::99")
    assert answer.connection == Connection("IN", "IP6", "2001:db8::99")
    assert answer.origin.addrtype == "IP6"
    assert stream.remote_address == "2001:db8::15"
    assert stream.remote_rtcp == ("2001:db8::15", 30001)
    assert stream.send_codec == RtpMap(9, "G722", 8000)
    assert answer.media[0].formats == ["9", "0", "101"]  # CN not ours: left out
    assert answer.media[0].direction is Direction.SENDONLY  # offer was recvonly
    assert answer.media[0].mid == "audio"


def test_comfort_noise_is_kept_but_never_the_send_codec() -> None:
    offer = offer_text("m=audio 6000 RTP/AVP 13 0\r\n")
    answer, (stream,) = answer_to(offer, [CodecCapability("CN", 8000), PCMU])
    assert answer.media[0].formats == ["13", "0"]
    assert stream.send_codec.encoding == "PCMU"
    with pytest.raises(NegotiationError):
        answer_to(offer_text("m=audio 6000 RTP/AVP 13\r\n"), [CodecCapability("CN", 8000)])


def test_rtcp_mux_and_rtcp_attribute() -> None:
    muxed = offer_text("m=audio 6000 RTP/AVP 0\r\na=rtcp:6001\r\na=rtcp-mux\r\n")
    answer, (stream,) = answer_to(muxed)
    assert answer.media[0].rtcp_mux and stream.rtcp_mux
    assert stream.remote_rtcp == ("198.51.100.7", 6000)
    answer, (stream,) = answer_to(muxed, rtcp_mux=False)
    assert not answer.media[0].rtcp_mux and not stream.rtcp_mux
    assert stream.remote_rtcp == ("198.51.100.7", 6001)
    remote = offer_text("m=audio 6000 RTP/AVP 0\r\na=rtcp:7000 IN IP4 198.51.100.8\r\n")
    _, (stream,) = answer_to(remote)
    assert stream.remote_rtcp == ("198.51.100.8", 7000)
    # the offerer sees mux only when the answer has it too
    ours = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000, session_id=1,
                        session_version=1, rtcp_mux=True)
    answer, _ = answer_to(ours)
    (agreed,) = process_answer(ours, answer)
    assert agreed.rtcp_mux and agreed.remote_rtcp == ("192.0.2.1", 5000)
    answer, _ = answer_to(ours, rtcp_mux=False)
    (agreed,) = process_answer(ours, answer)
    assert not agreed.rtcp_mux and agreed.remote_rtcp == ("192.0.2.1", 5001)


def test_srtp_answer_and_round_trip() -> None:
    offer = load("pjsip_srtp_offer.sdp")
    answer, (stream,) = answer_to(offer, ids=SequentialIds("s"))
    media = answer.media[0]
    assert media.proto == "RTP/SAVP"
    (crypto,) = media.crypto
    assert (crypto.tag, crypto.suite) == (1, "AES_CM_128_HMAC_SHA1_80")
    assert stream.local_crypto == crypto
    assert stream.remote_crypto == offer.media[0].crypto[0]
    assert len(crypto.key_salt) == 30
    assert SessionDescription.parse(bytes(answer)) == answer
    assert stream.remote_rtcp == ("172.16.5.4", 4001)
    assert stream.send_codec == RtpMap(8, "PCMA", 8000)
    # only the 32-bit tag suite allowed: the second crypto line is picked
    answer, (stream,) = answer_to(offer, ids=SequentialIds("s"),
                                  srtp_suites=["AES_CM_128_HMAC_SHA1_32"])
    assert answer.media[0].crypto[0].tag == 2
    # no way to make keys, or no common suite: the only stream is rejected -> 488
    with pytest.raises(NegotiationError) as info:
        answer_to(offer)
    assert info.value.status_hint == 488
    with pytest.raises(NegotiationError):
        answer_to(offer, ids=SequentialIds("s"), srtp_suites=["AEAD_AES_256_GCM"])


def test_offerer_processes_srtp_answer() -> None:
    mine = new_crypto(1, "AES_CM_128_HMAC_SHA1_80", SequentialIds("a"))
    offer = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000, session_id=1,
                         session_version=1, crypto=[mine])
    answerer_ids = SequentialIds("b")
    answerer_ids.token()  # a different key from ours
    answer, _ = answer_to(offer, ids=answerer_ids)
    (agreed,) = process_answer(offer, answer)
    assert agreed.local_crypto == mine
    assert agreed.remote_crypto == answer.media[0].crypto[0]
    assert agreed.remote_crypto != mine
    stripped = SessionDescription.parse(str(answer).replace(
        f"a=crypto:{answer.media[0].attribute('crypto')}\r\n", ""))
    with pytest.raises(NegotiationError, match="without a=crypto"):
        process_answer(offer, stripped)
    wrong_tag = SessionDescription.parse(str(answer).replace("a=crypto:1 ", "a=crypto:9 "))
    with pytest.raises(NegotiationError, match="crypto tag 9"):
        process_answer(offer, wrong_tag)


def test_no_common_codec_anywhere_is_488() -> None:
    offer = offer_text("m=audio 6000 RTP/AVP 18 3\r\nm=video 6002 RTP/AVP 31\r\n")
    with pytest.raises(NegotiationError) as info:
        answer_to(offer)
    assert info.value.status_hint == 488
    assert isinstance(info.value, SdpError)


def test_offer_without_connection_is_400() -> None:
    offer = offer_text("m=audio 6000 RTP/AVP 0\r\n", session="")
    with pytest.raises(SdpError, match="no c= line") as info:
        answer_to(offer)
    assert info.value.status_hint == 400


def test_process_answer_uses_renumbered_types_and_media_level_connection() -> None:
    offer = create_offer(capabilities=[OPUS, PCMU], address="192.0.2.1", port=4000,
                         session_id=1, session_version=1)
    answer = SessionDescription.parse(
        "v=0\r\no=- 9 9 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n"
        "m=audio 7000 RTP/AVP 120 0 121\r\nc=IN IP4 203.0.113.10\r\n"
        "a=rtpmap:120 opus/48000/2\r\na=fmtp:120 useinbandfec=0\r\n"
        "a=rtpmap:121 telephone-event/48000\r\na=ptime:40\r\n")
    (agreed,) = process_answer(offer, answer, capabilities=[OPUS, PCMU])
    assert agreed.send_codec == RtpMap(120, "opus", 48000, 2)
    assert agreed.send_fmtp == {"useinbandfec": "0"}
    assert agreed.telephone_event_pt == 121
    assert agreed.remote_address == "203.0.113.10"
    assert agreed.ptime == 0.04
    # we receive with our own numbers
    assert agreed.payload_types == {96: RtpMap(96, "opus", 48000, 2),
                                    0: RtpMap(0, "PCMU", 8000),
                                    101: RtpMap(101, "telephone-event", 48000)}
    (only_pcmu,) = process_answer(offer, answer, capabilities=[PCMU])
    assert only_pcmu.send_codec == RtpMap(0, "PCMU", 8000)


ANSWER_HEAD = "v=0\r\no=- 9 9 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n"


@pytest.mark.parametrize(("media", "reason"), [
    ("", "answer has 0 m= lines, the offer had 2"),
    ("m=audio 7000 RTP/AVP 0\r\nm=audio 0 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\n",
     "answer has 3 m= lines"),
    ("m=video 7000 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\n", "is video, the offer's is audio"),
    ("m=audio 7000 RTP/SAVP 0\r\nm=video 0 RTP/AVP 96\r\n", "uses RTP/SAVP"),
    ("m=audio 7000 RTP/AVP 8\r\nm=video 0 RTP/AVP 96\r\n", "lists no codec from the offer"),
    ("m=audio 7000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n"
     "m=video 0 RTP/AVP 96\r\n", "lists no codec from the offer"),
    ("m=audio 7000 RTP/AVP 0\r\nm=video 7002 RTP/AVP 96\r\n", "offer disabled with port 0"),
])
def test_answers_that_do_not_match_the_offer(media: str, reason: str) -> None:
    offer = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000, session_id=1,
                         session_version=1,
                         extra_media=[MediaOffer(capabilities=[VP8], port=0, kind="video")])
    with pytest.raises(NegotiationError, match=reason):
        process_answer(offer, SessionDescription.parse(ANSWER_HEAD + media))


def test_answer_without_connection_for_accepted_stream() -> None:
    offer = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000, session_id=1,
                         session_version=1)
    answer = SessionDescription.parse(
        "v=0\r\no=- 9 9 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n")
    with pytest.raises(SdpError, match="no c= line"):
        process_answer(offer, answer)


def test_answer_that_rejects_everything_agrees_on_nothing() -> None:
    offer = create_offer(capabilities=[PCMU], address="192.0.2.1", port=4000, session_id=1,
                         session_version=1)
    answer = SessionDescription.parse(ANSWER_HEAD + "m=audio 0 RTP/AVP 0\r\n")
    assert process_answer(offer, answer) == []


def test_answer_echoes_mid_but_not_rtcp() -> None:
    offer = offer_text("m=audio 6000 RTP/AVP 0\r\na=mid:a1\r\na=rtcp:6001\r\n")
    answer, _ = answer_to(offer)
    assert Attribute("mid", "a1") in answer.media[0].attributes
    assert SessionDescription.parse(offer).media[0].rtcp == Rtcp(6001, None)
    assert answer.media[0].rtcp is None
