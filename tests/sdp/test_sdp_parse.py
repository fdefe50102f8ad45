"""The SDP model and parser read what real user agents send, and write it back exactly.

Proves:
- golden SDPs as baresip, linphone, Asterisk, PJSIP and a Kamailio/rtpengine rig send
  them, plus the RFC 8866 examples, parse and are written back byte for byte (CRLF);
- the typed accessors: rtpmap with RFC 3551 static types, fmtp, ptime/maxptime (seconds),
  direction at session and media level, rtcp (RFC 3605), rtcp-mux, crypto (RFC 4568),
  b=AS/TIAS, ssrc, mid, label;
- real-world quirks (LF-only line ends, trailing whitespace, blank lines, extra spaces,
  session lines out of order) parse to the canonical description;
- malformed input raises SdpError (status_hint 400) naming the problem.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from voipkit.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    Crypto,
    Direction,
    KeyParam,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SdpError,
    SessionDescription,
    Ssrc,
    Timing,
    parse_sdp,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "sdp"
GOLDEN = sorted(DATA.glob("*.sdp"))


def load(name: str) -> SessionDescription:
    return SessionDescription.parse((DATA / name).read_bytes())


def test_golden_corpus_is_present() -> None:
    assert len(GOLDEN) >= 7


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_round_trips_byte_exact(path: Path) -> None:
    data = path.read_bytes()
    sd = SessionDescription.parse(data)
    assert bytes(sd) == data
    assert parse_sdp(str(sd)) == sd


def test_baresip_offer_accessors() -> None:
    sd = load("baresip_offer.sdp")
    assert sd.origin == Origin("-", 1969431917, 4197301227, "IN", "IP4", "192.168.1.10")
    assert sd.connection == Connection("IN", "IP4", "192.168.1.10")
    audio = sd.media[0]
    assert (audio.kind, audio.port, audio.proto) == ("audio", 10140, "RTP/AVP")
    assert audio.formats == ["96", "9", "0", "8", "101"]
    assert list(audio.rtpmaps.values()) == [
        RtpMap(96, "opus", 48000, 2), RtpMap(9, "G722", 8000), RtpMap(0, "PCMU", 8000),
        RtpMap(8, "PCMA", 8000), RtpMap(101, "telephone-event", 8000)]
    assert audio.fmtp == {96: {"stereo": "1", "sprop-stereo": "1"}, 101: {"0-15": ""}}
    assert audio.bandwidth("AS") == 128
    assert audio.bandwidth("TIAS") is None
    assert audio.ptime == 0.02
    assert audio.maxptime is None
    assert audio.rtcp_mux
    assert audio.rtcp is None
    assert audio.label == "1"
    assert audio.ssrcs == [Ssrc(2931446452, "cname", "9c39b0e6-3b06-4a3c-9b84-0b50e6a1c82b")]
    assert sd.media_direction(audio) is Direction.SENDRECV
    # unknown attributes are kept, in order
    assert audio.attributes[7] == Attribute("rtcp-rsize")


def test_static_payload_types_without_rtpmap() -> None:
    """RFC 3551 table 4: 0, 3, 8, 9, 13 and 18 need no rtpmap line."""
    sd = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 5004 RTP/AVP 0 8 9 18 3 13 96\r\n")
    assert list(sd.media[0].rtpmaps.values()) == [
        RtpMap(0, "PCMU", 8000), RtpMap(8, "PCMA", 8000), RtpMap(9, "G722", 8000),
        RtpMap(18, "G729", 8000), RtpMap(3, "GSM", 8000), RtpMap(13, "CN", 8000)]


def test_linphone_offer_session_attributes_and_video() -> None:
    sd = load("linphone_offer.sdp")
    assert sd.name == "Talk"
    assert sd.attribute("record") == "off"
    assert sd.attribute("rtcp-xr") is not None
    audio, video = sd.media
    assert audio.rtpmaps[18] == RtpMap(18, "G729", 8000)
    assert audio.fmtp[18] == {"annexb": "yes"}
    assert [rm.clock_rate for rm in audio.rtpmaps.values()
            if rm.encoding == "telephone-event"] == [48000, 16000, 8000]
    assert video.rtpmaps[97] == RtpMap(97, "H264", 90000)
    assert video.fmtp_text[97] == "profile-level-id=42801F"
    assert video.attribute_values("rtcp-fb")[2] == "96 nack pli"


def test_asterisk_answer_rejected_video_and_maxptime() -> None:
    sd = load("asterisk_answer.sdp")
    audio, video = sd.media
    assert audio.maxptime == 0.15
    assert audio.fmtp[101] == {"0-16": ""}
    assert video.is_rejected and video.port == 0
    assert not audio.is_rejected


def test_pjsip_srtp_offer_crypto_rtcp_and_media_level_connection() -> None:
    sd = load("pjsip_srtp_offer.sdp")
    assert sd.connection is None
    assert sd.bandwidth("AS") == 84
    audio = sd.media[0]
    assert sd.media_connection(audio) == Connection("IN", "IP4", "172.16.5.4")
    assert audio.bandwidth("TIAS") == 64000
    assert audio.rtcp == Rtcp(4001, "172.16.5.4")
    first, second = audio.crypto
    assert first.tag == 1 and first.suite == "AES_CM_128_HMAC_SHA1_80"
    key = first.key_params[0]
    assert key == KeyParam("WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", "2^20", "1:4")
    assert key.lifetime_packets == 2**20
    assert key.mki_value == (1, 4)
    assert len(first.key_salt) == 30
    assert second.session_params == ("UNENCRYPTED_SRTCP",)
    assert second.key_params[0].lifetime is None
    assert Crypto.parse(first.value) == first
    assert Crypto.parse(second.value) == second


def test_kamailio_ipv6_recvonly_mid_and_rtcp_port_only() -> None:
    sd = load("kamailio_rtpengine_ipv6.sdp")
    assert sd.origin.addrtype == "IP6"
    assert sd.connection == Connection("IN", "IP6", "2001:db8::15")
    audio = sd.media[0]
    assert audio.rtcp == Rtcp(30001, None)
    assert audio.mid == "audio"
    assert audio.direction is Direction.RECVONLY
    assert sd.attribute("ice-lite") is None and sd.has_attribute("ice-lite")
    assert len(audio.attribute_values("candidate")) == 2


def test_rfc8866_fields_timing_repeats_zone_key_and_session_direction() -> None:
    sd = load("rfc8866_repeat_times.sdp")
    assert sd.information == "A Seminar on the session description protocol"
    assert sd.uri == "http://www.example.com/seminars/sdp.pdf"
    assert sd.emails == ["j.doe@example.com (Jane Doe)"]
    assert sd.timing == Timing(3034423619, 3042462419,
                               ("604800 3600 0 90000", "7d 1h 0 25h"))
    assert sd.zone == "2882844526 -1h 2898848070 0"
    assert sd.key == "prompt"
    audio, video = sd.media
    # session-level recvonly is the default for both media (RFC 8866 §6.7)
    assert sd.media_direction(audio) is Direction.RECVONLY
    assert audio.direction is Direction.SENDRECV  # nothing written at media level
    assert video.key == "clear:abc"
    assert video.bandwidths == [Bandwidth("AS", 256)]
    assert sd.connection is not None and sd.connection.address == "233.252.0.1/127"


def test_rfc8866_example_media_level_ipv6_connection() -> None:
    sd = load("rfc8866_example.sdp")
    assert sd.phones == ["+1 617 555-6011"]
    assert sd.information == "SDP Offer #1"
    assert sd.media_connection(sd.media[0]) == sd.connection
    assert sd.media_connection(sd.media[2]) == Connection("IN", "IP6", "2001:db8::2")


def test_quirks_parse_to_the_canonical_form() -> None:
    quirky = (
        "v=0\n"
        "o=-   42 7 IN IP4 192.0.2.9  \n"
        "s= \n"
        "t=0 0\t\n"
        "c=IN IP4 192.0.2.9\n"          # after t=: out of RFC order
        "a=tool:softphone 1.0 \n"
        "\n"
        "m=audio  5004 RTP/AVP 0 101 \r\n"
        "a=rtpmap:101 telephone-event/8000\n"
        "a=x-unknown:keep  me\n"
        "a=sendonly\n"
        "\n"
    )
    sd = SessionDescription.parse(quirky)
    assert sd.name == ""
    assert sd.origin.sess_id == 42
    assert str(sd) == (
        "v=0\r\no=- 42 7 IN IP4 192.0.2.9\r\ns= \r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        "a=tool:softphone 1.0\r\nm=audio 5004 RTP/AVP 0 101\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=x-unknown:keep  me\r\na=sendonly\r\n")
    assert SessionDescription.parse(str(sd)) == sd


def test_set_direction_replaces_in_place() -> None:
    media = MediaDescription(kind="audio", port=4000, proto="RTP/AVP", formats=["0"],
                             attributes=[Attribute("ptime", "20"), Attribute("sendrecv"),
                                         Attribute("rtcp-mux")])
    media.set_direction(Direction.INACTIVE)
    assert media.attributes == [Attribute("ptime", "20"), Attribute("inactive"),
                                Attribute("rtcp-mux")]
    assert media.direction is Direction.INACTIVE


def test_direction_algebra() -> None:
    assert Direction.SENDONLY.reversed() is Direction.RECVONLY
    assert Direction.INACTIVE.reversed() is Direction.INACTIVE
    assert Direction.SENDRECV.intersect(Direction.RECVONLY) is Direction.RECVONLY
    assert Direction.SENDONLY.intersect(Direction.RECVONLY) is Direction.INACTIVE


def test_crypto_inline_builds_base64_key() -> None:
    key = bytes(range(30))
    crypto = Crypto.inline(3, "AES_CM_128_HMAC_SHA1_32", key)
    assert crypto.value == f"3 AES_CM_128_HMAC_SHA1_32 inline:{base64.b64encode(key).decode()}"
    assert crypto.key_salt == key


HEAD = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"


@pytest.mark.parametrize(("text", "reason"), [
    ("", "must start with v="),
    ("o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n", "must start with v="),
    ("v=1\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", "unsupported SDP version"),
    ("v=0\r\ns=-\r\nt=0 0\r\n", "no o= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n", "no s= line"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n", "no t= line"),
    ("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", "o= needs 6 fields"),
    ("v=0\r\no=- x 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", "sess-id 'x' is not a number"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n", "more than one o="),
    (HEAD + "m=audio 70000 RTP/AVP 0\r\n", "m= port 70000 is out of range"),
    (HEAD + "m=audio -1 RTP/AVP 0\r\n", "m= port '-1' is not a number"),
    (HEAD + "m=audio 4000/0 RTP/AVP 0\r\n", "port count must be at least 1"),
    (HEAD + "m=audio 4000 RTP/AVP\r\n", "lists no formats"),
    (HEAD + "m=audio 4000\r\n", "m= needs"),
    (HEAD + "m=audio 4000 RTP/AVP 0\r\nt=0 0\r\n", "not allowed in a media section"),
    (HEAD + "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 a\r\nc=IN IP4 b\r\n", "more than one c="),
    (HEAD + "b=AS\r\n", "b= must be"),
    (HEAD + "b=AS:fast\r\n", "not a number"),
    (HEAD + "y=what\r\n", "unknown line type y="),
    (HEAD + "this is not sdp\r\n", "is not <type>=<value>"),
    ("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nr=1 2 3\r\nt=0 0\r\n", "r= must follow a t="),
])
def test_malformed_sdp_raises_sdp_error(text: str, reason: str) -> None:
    with pytest.raises(SdpError) as info:
        SessionDescription.parse(text)
    assert reason in info.value.reason
    assert info.value.status_hint == 400
    assert isinstance(info.value, ValueError)


def test_non_utf8_bytes_raise_sdp_error() -> None:
    with pytest.raises(SdpError, match="not UTF-8"):
        SessionDescription.parse(HEAD.encode() + b"s=\xff\r\n")


@pytest.mark.parametrize(("attribute", "accessor", "reason"), [
    ("rtpmap:96 opus", "rtpmaps", "expected <encoding>/<clock rate>"),
    ("rtpmap:200 x/8000", "rtpmaps", "payload type must be 0-127"),
    ("ptime:fast", "ptime", "not a number of milliseconds"),
    ("ptime:0", "ptime", "must be positive"),
    ("rtcp:port", "rtcp", "bad port"),
    ("rtcp:5000 IN IP4", "rtcp", "expected <port>"),
    ("crypto:1 AES_CM_128_HMAC_SHA1_80", "crypto", "expected <tag> <suite> <key-params>"),
    ("crypto:1 AES_CM_128_HMAC_SHA1_80 uri:x", "crypto", "only the inline method"),
    ("crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA|x", "crypto", "bad lifetime or MKI"),
    ("ssrc:abc cname:x", "ssrcs", "expected <ssrc-id>"),
    ("fmtp:x a=b", "fmtp", "format must be a payload type"),
])
def test_malformed_attributes_raise_on_access(attribute: str, accessor: str,
                                              reason: str) -> None:
    sd = SessionDescription.parse(HEAD + f"m=audio 4000 RTP/AVP 96\r\na={attribute}\r\n")
    with pytest.raises(SdpError, match=reason):
        getattr(sd.media[0], accessor)


def test_non_rtp_formats_are_not_payload_types() -> None:
    sd = SessionDescription.parse(HEAD + "m=application 9 UDP/BFCP *\r\n")
    assert sd.media[0].formats == ["*"]
    with pytest.raises(SdpError, match="not an RTP payload type"):
        _ = sd.media[0].rtpmaps


def test_non_ascii_digits_are_refused_with_sdp_error() -> None:
    sd = SessionDescription.parse(HEAD + "m=audio 4000 RTP/AVP ²\r\na=rtcp:²\r\n")
    with pytest.raises(SdpError):
        _ = sd.media[0].rtpmaps
    with pytest.raises(SdpError):
        _ = sd.media[0].rtcp
    with pytest.raises(SdpError):
        SessionDescription.parse(HEAD + "m=audio ² RTP/AVP 0\r\n")
