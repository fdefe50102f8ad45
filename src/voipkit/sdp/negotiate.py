"""RFC 3264 offer/answer over the SDP model: make offers, answer them, read answers.

Knows: the offer/answer rules (RFC 3264 §5 offers, §6 answers, §8 modifications and
hold), dynamic payload type numbering (RFC 3551 §3), telephone-event (RFC 4733 §7.1),
RTCP port rules (RFC 3605, RFC 5761 rtcp-mux), SDES keys (RFC 4568) and RTCP feedback
capabilities (a=rtcp-fb, RFC 4585 §4.2).
Must not know: what a codec does. The media layer describes what it can do as
:class:`CodecCapability` rows (name, clock rate, channels, payload type, fmtp); this
module only matches those against rtpmap lines. No SIP, no sockets, no clock; the only
randomness (SRTP master keys) comes from an injected ``voipkit.base.IdSource``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from voipkit.base.ids import IdSource
from voipkit.sdp.errors import NegotiationError, SdpError
from voipkit.sdp.model import (
    SRTP_KEY_SALT_LENGTHS,
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Bandwidth,
    Connection,
    Crypto,
    Direction,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
    address_type,
    format_fmtp_params,
    parse_fmtp_params,
    seconds_to_ms_text,
)

DEFAULT_PTIME = 0.02
TELEPHONE_EVENT = "telephone-event"
#: RFC 4733 §7.1.1: the DTMF events 0-9, *, #, A-D and flash.
TELEPHONE_EVENT_FMTP = "0-16"
RTP_PROTOS = frozenset({"RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF"})
SECURE_PROTOS = frozenset({"RTP/SAVP", "RTP/SAVPF"})
DEFAULT_SRTP_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
#: RFC 3551 §3: the dynamic payload type range.
DYNAMIC_PAYLOAD_TYPES = range(96, 128)
#: Formats that do not, on their own, make a stream usable.
_AUXILIARY = frozenset({TELEPHONE_EVENT, "cn"})

SrtpDecider = Callable[[MediaDescription], tuple[bool, Crypto | None]]
"""Decides one offered m= line's SRTP: (accept, the offered crypto line to answer or
None for plain RTP). The media layer's policy (``media.srtp.decide_offer``) plugs in
here, so this module needs no knowledge of which suites libsrtp runs."""


@dataclass(frozen=True, slots=True)
class CodecCapability:
    """One thing the media layer can send and receive, as SDP sees it.

    ``payload_type`` is the static type, or a preferred dynamic one for offers (None
    picks the RFC 3551 static type if there is one, else a free dynamic type).
    """

    encoding: str
    clock_rate: int
    channels: int = 1
    payload_type: int | None = None
    fmtp: Mapping[str, str] = field(default_factory=dict)
    kind: str = "audio"
    rtcp_fb: tuple[str, ...] = ()
    "RTCP feedback this codec sends and honours (a=rtcp-fb values: 'nack', 'nack pli')."

    def matches(self, rtpmap: RtpMap) -> bool:
        return rtpmap.same_codec(self.encoding, self.clock_rate, self.channels)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaOffer:
    """One m= line to offer (``create_offer`` builds the first from its own arguments)."""

    capabilities: Sequence[CodecCapability]
    port: int
    kind: str = "audio"
    direction: Direction = Direction.SENDRECV
    ptime: float | None = DEFAULT_PTIME
    maxptime: float | None = None
    telephone_event: bool = True
    telephone_event_pt: int = 101
    crypto: Sequence[Crypto] = ()
    rtcp_mux: bool = False
    proto: str | None = None
    "The m= line protocol; None: RTP/SAVP with ``crypto``, else RTP/AVP."
    bandwidths: Sequence[Bandwidth] = ()
    "b= lines of the m= line (RFC 3556 RS/RR, RFC 8866 AS)."


@dataclass(frozen=True, slots=True, kw_only=True)
class NegotiatedMedia:
    """What one accepted stream agreed on, from our side.

    ``payload_types`` maps the payload types we may receive to their codecs;
    ``send_codec`` carries the payload type the remote expects from us. ``ptime`` is
    the packetization to send with (the remote's a=ptime, else ours, else 20 ms).
    ``local_crypto`` keys what we send, ``remote_crypto`` what we receive (RFC 4568 §6.1).
    """

    index: int
    kind: str
    remote_address: str
    remote_port: int
    remote_rtcp: tuple[str, int]
    rtcp_mux: bool
    send_codec: RtpMap
    send_fmtp: Mapping[str, str]
    payload_types: Mapping[int, RtpMap]
    telephone_event_pt: int | None
    direction: Direction
    ptime: float
    local_crypto: Crypto | None = None
    remote_crypto: Crypto | None = None
    rtcp_fb: frozenset[str] = frozenset()
    "a=rtcp-fb values both sides agreed for the send codec (RFC 4585 §4.2)."


def rtcp_feedback(media: MediaDescription, payload_type: int) -> list[str]:
    """The a=rtcp-fb values of ``media`` for ``payload_type``, including the ``*``
    wildcard lines (RFC 4585 §4.2), lower-cased, in order, without duplicates."""
    out: list[str] = []
    for value in media.attribute_values("rtcp-fb"):
        if not value:
            continue
        pt, _, rest = value.strip().partition(" ")
        text = " ".join(rest.split()).lower()
        if text and (pt == "*" or pt == str(payload_type)) and text not in out:
            out.append(text)
    return out


def new_crypto(tag: int, suite: str, ids: IdSource) -> Crypto:
    """An SDES crypto line with a fresh inline master key and salt for ``suite``."""
    length = SRTP_KEY_SALT_LENGTHS.get(suite)
    if length is None:
        raise ValueError(f"unknown SRTP crypto suite {suite!r}")
    return Crypto.inline(tag, suite, bytes.fromhex(ids.token(length)))


def _static_type(cap: CodecCapability) -> int | None:
    for pt, rtpmap in STATIC_PAYLOAD_TYPES.items():
        if cap.matches(rtpmap):
            return pt
    return None


def _offer_media(stream: MediaOffer) -> MediaDescription:
    caps = [c for c in stream.capabilities if c.kind == stream.kind]
    if not caps:
        raise ValueError(f"no {stream.kind} capabilities to offer")
    wanted: list[tuple[int | None, RtpMap, str]] = []
    feedback: list[tuple[str, ...]] = []
    for cap in caps:
        pt = cap.payload_type if cap.payload_type is not None else _static_type(cap)
        fmtp = format_fmtp_params(dict(cap.fmtp))
        wanted.append((pt, RtpMap(-1, cap.encoding, cap.clock_rate, cap.channels), fmtp))
        feedback.append(cap.rtcp_fb)
    if stream.telephone_event and stream.kind == "audio":
        rates = list(dict.fromkeys(c.clock_rate for c in caps))
        for i, rate in enumerate(rates):
            wanted.append((stream.telephone_event_pt if i == 0 else None,
                           RtpMap(-1, TELEPHONE_EVENT, rate), TELEPHONE_EVENT_FMTP))
    used: set[int] = set()
    fixed: list[int | None] = []
    for pt, _, _ in wanted:
        if pt is not None and 0 <= pt <= 127 and pt not in used:
            used.add(pt)
            fixed.append(pt)
        else:
            fixed.append(None)
    free = (pt for pt in DYNAMIC_PAYLOAD_TYPES if pt not in used)
    proto = stream.proto if stream.proto is not None else (
        "RTP/SAVP" if stream.crypto else "RTP/AVP")
    media = MediaDescription(kind=stream.kind, port=stream.port, formats=[], proto=proto,
                             bandwidths=list(stream.bandwidths))
    feedback += [()] * (len(wanted) - len(feedback))
    for assigned, (_, template, fmtp), fb in zip(fixed, wanted, feedback, strict=True):
        pt = assigned if assigned is not None else next(free, None)
        if pt is None:
            raise ValueError("more codecs than dynamic payload types (RFC 3551 §3)")
        used.add(pt)
        media.formats.append(str(pt))
        media.attributes.append(Attribute("rtpmap", replace(template, payload_type=pt).value))
        if fmtp:
            media.attributes.append(Attribute("fmtp", f"{pt} {fmtp}"))
        media.attributes += [Attribute("rtcp-fb", f"{pt} {value}") for value in fb]
    if stream.ptime is not None:
        media.attributes.append(Attribute("ptime", seconds_to_ms_text(stream.ptime)))
    if stream.maxptime is not None:
        media.attributes.append(Attribute("maxptime", seconds_to_ms_text(stream.maxptime)))
    if stream.rtcp_mux:
        media.attributes.append(Attribute("rtcp-mux"))
    media.attributes += [Attribute("crypto", c.value) for c in stream.crypto]
    media.attributes.append(Attribute(stream.direction.value))
    return media


def offer_media(stream: MediaOffer) -> MediaDescription:
    """One m= line of an offer (as ``create_offer`` builds each), for a caller that adds
    a stream to an offer it already has (a video line beside the audio one)."""
    return _offer_media(stream)


def create_offer(
    *,
    capabilities: Sequence[CodecCapability],
    address: str,
    port: int,
    session_id: int,
    session_version: int,
    kind: str = "audio",
    direction: Direction = Direction.SENDRECV,
    ptime: float | None = DEFAULT_PTIME,
    maxptime: float | None = None,
    telephone_event: bool = True,
    telephone_event_pt: int = 101,
    crypto: Sequence[Crypto] = (),
    rtcp_mux: bool = False,
    proto: str | None = None,
    bandwidths: Sequence[Bandwidth] = (),
    extra_media: Sequence[MediaOffer] = (),
    username: str = "-",
    session_name: str = "-",
) -> SessionDescription:
    """An RFC 3264 §5 offer: one m= line from these arguments, then ``extra_media``.

    Codecs appear in ``capabilities`` order (our preference); static payload types are
    used where RFC 3551 defines one, dynamic ones are the preferred ``payload_type`` or
    the next free number from 96. Audio gets telephone-event (fmtp ``0-16``) at each
    clock rate offered. Non-empty ``crypto`` makes the line RTP/SAVP with those
    a=crypto lines, unless ``proto`` says otherwise (RTP/AVP with a=crypto is the
    "best effort" SRTP offer of a PREFER policy). ``bandwidths`` are the m= line's b=
    lines. IP4 or IP6 follows from ``address``.
    """
    first = MediaOffer(capabilities=capabilities, port=port, kind=kind, direction=direction,
                       ptime=ptime, maxptime=maxptime, telephone_event=telephone_event,
                       telephone_event_pt=telephone_event_pt, crypto=crypto,
                       rtcp_mux=rtcp_mux, proto=proto, bandwidths=bandwidths)
    return SessionDescription(
        origin=Origin(username, session_id, session_version, "IN", address_type(address),
                      address),
        name=session_name,
        connection=Connection.for_address(address),
        media=[_offer_media(stream) for stream in (first, *extra_media)],
    )


def _is_auxiliary(rtpmap: RtpMap) -> bool:
    return rtpmap.encoding.lower() in _AUXILIARY


def _remote_rtcp(media: MediaDescription, address: str, mux: bool) -> tuple[str, int]:
    if mux:
        return address, media.port
    rtcp = media.rtcp
    if rtcp is not None:
        return rtcp.address or address, rtcp.port
    return address, media.port + 1  # RFC 3550 §11: the next higher port


def _telephone_event_pt(rtpmaps: Mapping[int, RtpMap], clock_rate: int) -> int | None:
    for pt, rtpmap in rtpmaps.items():
        if rtpmap.encoding.lower() == TELEPHONE_EVENT and rtpmap.clock_rate == clock_rate:
            return pt
    return None


def _send_ptime(remote: float | None, local: float | None) -> float:
    if remote is not None:
        return remote
    return local if local is not None else DEFAULT_PTIME


def _rejected(media: MediaDescription) -> MediaDescription:
    """RFC 3264 §6: a rejected stream keeps its m= line, with port zero."""
    return MediaDescription(kind=media.kind, port=0, proto=media.proto,
                            formats=list(media.formats))


def negotiate_answer(
    offer: SessionDescription,
    *,
    capabilities: Sequence[CodecCapability],
    address: str,
    port: int | Mapping[str, int] | Mapping[str | int, int],
    session_id: int,
    session_version: int,
    direction: Direction = Direction.SENDRECV,
    ptime: float | None = None,
    telephone_event: bool = True,
    rtcp_mux: bool = True,
    srtp_suites: Sequence[str] = DEFAULT_SRTP_SUITES,
    ids: IdSource | None = None,
    username: str = "-",
    session_name: str = "-",
    srtp: SrtpDecider | None = None,
    bandwidths: Sequence[Bandwidth] = (),
) -> tuple[SessionDescription, list[NegotiatedMedia]]:
    """Answer ``offer`` per RFC 3264 §6.

    Each m= line is answered in order. It is accepted when its kind has a port in
    ``port`` (an int is the audio port; a mapping gives one per kind, of which only the
    first stream of a kind is accepted, or one per m= line index, an int key, which
    takes that line whatever came before: a second video line, RFC 4796
    ``a=content:slides``), its protocol is RTP/AVP(F) or, when ``ids`` can make
    keys and a suite in ``srtp_suites`` is offered, RTP/SAVP(F), and it shares a codec
    with ``capabilities``. Otherwise the answer keeps the line with port 0.
    ``srtp``, when given, decides each line's SRTP instead (it may accept a=crypto on
    RTP/AVP, RFC 4568 "best effort", or refuse plain RTP); a chosen crypto line is
    answered with the same tag and suite and a fresh key from ``ids`` (RFC 4568 §7.1.2).
    ``bandwidths`` are b= lines for each accepted m= line.

    An accepted line lists every common codec in the offerer's order with the offerer's
    payload type numbers and fmtp (§6.1), plus telephone-event at a chosen codec's clock
    rate. Its direction is the offer's reversed, restricted by our own ``direction``
    (so sendonly -> recvonly, inactive -> inactive, and a local hold is kept). Its
    a=ptime is ``ptime``, else the offer's.

    Returns:
        The answer, and one NegotiatedMedia per accepted stream.

    Raises:
        SdpError: (400) an offer whose accepted stream has no c= line or bad attributes.
        NegotiationError: (488) when no stream could be accepted.
    """
    ports: dict[str | int, int] = {}
    if isinstance(port, int):
        ports["audio"] = port
    else:
        ports.update(port)
    answer = SessionDescription(
        origin=Origin(username, session_id, session_version, "IN", address_type(address),
                      address),
        name=session_name,
        connection=Connection.for_address(address),
    )
    negotiated: list[NegotiatedMedia] = []
    taken: set[str] = set()
    for index, media in enumerate(offer.media):
        by_index = index in ports
        chosen_port = ports[index] if by_index else ports.get(media.kind)
        ok = (media.port != 0 and chosen_port is not None and media.proto in RTP_PROTOS
              and (by_index or media.kind not in taken))
        result = (_answer_stream(offer, index, media, capabilities=capabilities,
                                 port=chosen_port or 0, direction=direction, ptime=ptime,
                                 telephone_event=telephone_event, rtcp_mux=rtcp_mux,
                                 srtp_suites=srtp_suites, ids=ids, srtp=srtp,
                                 bandwidths=bandwidths) if ok else None)
        if result is None:
            answer.media.append(_rejected(media))
            continue
        if not by_index:
            taken.add(media.kind)
        answer.media.append(result[0])
        negotiated.append(result[1])
    if not negotiated:
        raise NegotiationError("no common codec in any m= line of the offer "
                               "(RFC 3264 §6)", status_hint=488)
    return answer, negotiated


def _answer_stream(
    offer: SessionDescription,
    index: int,
    media: MediaDescription,
    *,
    capabilities: Sequence[CodecCapability],
    port: int,
    direction: Direction,
    ptime: float | None,
    telephone_event: bool,
    rtcp_mux: bool,
    srtp_suites: Sequence[str],
    ids: IdSource | None,
    srtp: SrtpDecider | None = None,
    bandwidths: Sequence[Bandwidth] = (),
) -> tuple[MediaDescription, NegotiatedMedia] | None:
    connection = offer.media_connection(media)
    if connection is None:
        raise SdpError(f"m= line {index} has no c= line at media or session level "
                       "(RFC 8866 §5.7)")
    rtpmaps = media.rtpmaps
    caps = [c for c in capabilities if c.kind == media.kind]
    chosen = {pt: rm for pt, rm in rtpmaps.items()
              if rm.encoding.lower() != TELEPHONE_EVENT and any(c.matches(rm) for c in caps)}
    primary = [pt for pt, rm in chosen.items() if not _is_auxiliary(rm)]
    if not primary:
        return None
    # Comfort noise is kept only after a real codec; the first real codec is the send codec.
    send_pt = primary[0]
    if telephone_event and media.kind == "audio":
        rates = {rm.clock_rate for rm in chosen.values()}
        chosen |= {pt: rm for pt, rm in rtpmaps.items()
                   if rm.encoding.lower() == TELEPHONE_EVENT and rm.clock_rate in rates}
        chosen = {pt: rm for pt, rm in rtpmaps.items() if pt in chosen}  # offer order
    remote_crypto: Crypto | None = None
    local_crypto: Crypto | None = None
    if srtp is not None:
        accept, remote_crypto = srtp(media)
        if not accept or (remote_crypto is not None and ids is None):
            return None
        if remote_crypto is not None and ids is not None:
            local_crypto = new_crypto(remote_crypto.tag, remote_crypto.suite, ids)
    elif media.proto in SECURE_PROTOS:
        if ids is None:
            return None
        remote_crypto = next((c for c in media.crypto if c.suite in srtp_suites
                              and c.suite in SRTP_KEY_SALT_LENGTHS), None)
        if remote_crypto is None:
            return None
        local_crypto = new_crypto(remote_crypto.tag, remote_crypto.suite, ids)

    offered = offer.media_direction(media)
    if connection.is_null:  # RFC 3264 §8.4: the offerer asks not to be sent media
        offered = offered.intersect(Direction.SENDONLY)
    answer_direction = offered.reversed().intersect(direction)
    our_ptime = ptime if ptime is not None else media.ptime
    mux = rtcp_mux and media.rtcp_mux
    fmtp_text = media.fmtp_text

    out = MediaDescription(kind=media.kind, port=port, proto=media.proto,
                           formats=[str(pt) for pt in chosen], bandwidths=list(bandwidths))
    agreed: dict[int, list[str]] = {}
    for pt, rtpmap in chosen.items():
        out.attributes.append(Attribute("rtpmap", rtpmap.value))
        if fmtp_text.get(pt):
            out.attributes.append(Attribute("fmtp", f"{pt} {fmtp_text[pt]}"))
        ours = {v for c in caps if c.matches(rtpmap) for v in c.rtcp_fb}
        # RFC 4585 §4.2: the answerer keeps only the feedback it understands.
        agreed[pt] = [v for v in rtcp_feedback(media, pt) if v in ours]
        out.attributes += [Attribute("rtcp-fb", f"{pt} {v}") for v in agreed[pt]]
    if our_ptime is not None:
        out.attributes.append(Attribute("ptime", seconds_to_ms_text(our_ptime)))
    if mux:
        out.attributes.append(Attribute("rtcp-mux"))
    if local_crypto is not None:
        out.attributes.append(Attribute("crypto", local_crypto.value))
    if media.mid is not None:
        out.attributes.append(Attribute("mid", media.mid))
    out.attributes.append(Attribute(answer_direction.value))

    send_codec = chosen[send_pt]
    negotiated = NegotiatedMedia(
        index=index,
        kind=media.kind,
        remote_address=connection.address,
        remote_port=media.port,
        remote_rtcp=_remote_rtcp(media, connection.address, mux),
        rtcp_mux=mux,
        send_codec=send_codec,
        send_fmtp=parse_fmtp_params(fmtp_text.get(send_pt, "")),
        payload_types=dict(chosen),
        telephone_event_pt=_telephone_event_pt(chosen, send_codec.clock_rate),
        direction=answer_direction,
        ptime=_send_ptime(media.ptime, our_ptime),
        local_crypto=local_crypto,
        remote_crypto=remote_crypto,
        rtcp_fb=frozenset(agreed.get(send_pt, ())),
    )
    return out, negotiated


def process_answer(
    offer: SessionDescription,
    answer: SessionDescription,
    *,
    capabilities: Sequence[CodecCapability] | None = None,
) -> list[NegotiatedMedia]:
    """Check ``answer`` against our ``offer`` (RFC 3264 §6) and say what was agreed.

    The answer must have as many m= lines as the offer, each of the same media type and
    transport protocol; a line we offered with port 0 must stay at port 0; an accepted
    line must list at least one codec from our offer (matched by name, clock rate and
    channels, so an answerer that renumbered a dynamic type still works; we send with
    the answer's number, §6.1). SRTP lines must answer one of our crypto tags.

    Returns:
        One NegotiatedMedia per accepted stream (empty when the answer rejected all).

    Raises:
        NegotiationError: the answer does not match the offer.
        SdpError: the answer lacks a c= line for an accepted stream.
    """
    if len(answer.media) != len(offer.media):
        raise NegotiationError(f"answer has {len(answer.media)} m= lines, the offer had "
                               f"{len(offer.media)} (RFC 3264 §6)")
    out: list[NegotiatedMedia] = []
    for index, (ours, theirs) in enumerate(zip(offer.media, answer.media, strict=True)):
        if theirs.kind != ours.kind:
            raise NegotiationError(f"answer m= line {index} is {theirs.kind}, the offer's "
                                   f"is {ours.kind} (RFC 3264 §6)")
        if theirs.port == 0:
            continue
        if ours.port == 0:
            raise NegotiationError(f"answer m= line {index} accepts a stream the offer "
                                   "disabled with port 0 (RFC 3264 §6)")
        if theirs.proto != ours.proto:
            raise NegotiationError(f"answer m= line {index} uses {theirs.proto}, the offer "
                                   f"{ours.proto} (RFC 3264 §6)")
        out.append(_process_stream(offer, answer, index, ours, theirs, capabilities))
    return out


def _process_stream(
    offer: SessionDescription,
    answer: SessionDescription,
    index: int,
    ours: MediaDescription,
    theirs: MediaDescription,
    capabilities: Sequence[CodecCapability] | None,
) -> NegotiatedMedia:
    connection = answer.media_connection(theirs)
    if connection is None:
        raise SdpError(f"answer m= line {index} has no c= line (RFC 8866 §5.7)")
    offered = ours.rtpmaps
    answered = theirs.rtpmaps

    def supported(rtpmap: RtpMap) -> bool:
        in_offer = any(o.same_codec(rtpmap.encoding, rtpmap.clock_rate, rtpmap.channels)
                       for o in offered.values())
        return in_offer and (capabilities is None or any(
            c.kind == ours.kind and c.matches(rtpmap) for c in capabilities))

    common = {pt: rm for pt, rm in answered.items()
              if rm.encoding.lower() != TELEPHONE_EVENT and supported(rm)}
    primary = [pt for pt, rm in common.items() if not _is_auxiliary(rm)]
    if not primary:
        raise NegotiationError(f"answer m= line {index} lists no codec from the offer "
                               "(RFC 3264 §6.1)")
    send_pt = primary[0]
    send_codec = answered[send_pt]
    answered_events = {rm.clock_rate for rm in answered.values()
                       if rm.encoding.lower() == TELEPHONE_EVENT}
    receive = {pt: rm for pt, rm in offered.items()
               if (rm.encoding.lower() == TELEPHONE_EVENT and rm.clock_rate in answered_events)
               or any(rm.same_codec(a.encoding, a.clock_rate, a.channels)
                      for a in common.values())}

    local_crypto: Crypto | None = None
    remote_crypto: Crypto | None = None
    answered_crypto = theirs.crypto if ours.crypto else []
    if ours.proto in SECURE_PROTOS and not answered_crypto:
        raise NegotiationError(f"answer m= line {index} is {theirs.proto} without "
                               "a=crypto (RFC 4568 §7.1.2)")
    if answered_crypto:  # RTP/SAVP, or a "best effort" RTP/AVP offer answered with keys
        remote_crypto = answered_crypto[0]
        local_crypto = next((c for c in ours.crypto if c.tag == remote_crypto.tag
                             and c.suite == remote_crypto.suite), None)
        if local_crypto is None:
            raise NegotiationError(f"answer m= line {index} crypto tag {remote_crypto.tag} "
                                   "does not match an offered one (RFC 4568 §7.1.2)")

    their_direction = answer.media_direction(theirs)
    if connection.is_null:
        their_direction = their_direction.intersect(Direction.SENDONLY)
    direction = offer.media_direction(ours).intersect(their_direction.reversed())
    mux = ours.rtcp_mux and theirs.rtcp_mux
    return NegotiatedMedia(
        index=index,
        kind=ours.kind,
        remote_address=connection.address,
        remote_port=theirs.port,
        remote_rtcp=_remote_rtcp(theirs, connection.address, mux),
        rtcp_mux=mux,
        send_codec=send_codec,
        send_fmtp=theirs.fmtp.get(send_pt, ours.fmtp.get(send_pt, {})),
        payload_types=receive,
        telephone_event_pt=_telephone_event_pt(answered, send_codec.clock_rate),
        direction=direction,
        ptime=_send_ptime(theirs.ptime, ours.ptime),
        local_crypto=local_crypto,
        remote_crypto=remote_crypto,
        rtcp_fb=frozenset(rtcp_feedback(theirs, send_pt)),
    )


def is_hold(media: MediaDescription, session: SessionDescription | None = None) -> bool:
    """Does this m= line put its receiver on hold (RFC 3264 §8.4)?

    True for sendonly or inactive (from the session level when the line has none), and
    for the RFC 2543 style c=IN IP4 0.0.0.0.
    """
    if session is not None:
        direction = session.media_direction(media)
        connection = session.media_connection(media)
    else:
        direction, connection = media.direction, media.connection
    return (direction in (Direction.SENDONLY, Direction.INACTIVE)
            or (connection is not None and connection.is_null))


def next_version(previous: SessionDescription, new: SessionDescription) -> SessionDescription:
    """``new`` with the o= line of ``previous``, version bumped only if anything changed.

    RFC 3264 §8: a modified offer keeps o= but for the version, which is "incremented by
    one from the previous SDP"; an unchanged description keeps the same version.
    """
    same = replace(new, origin=previous.origin)
    if same == previous:
        return same
    return replace(new, origin=replace(previous.origin,
                                       sess_version=previous.origin.sess_version + 1))
