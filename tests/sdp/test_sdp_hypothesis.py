"""Property tests: any description the model can hold survives str() and parsing.

Proves that for generated session descriptions (all optional fields, repeats, several
timings, session and media c=/b=/k=/a=, valueless and empty-valued attributes, IPv6,
port counts) ``parse(str(sd)) == sd`` and ``bytes`` re-encodes identically, and that
random text and mutated golden SDPs never make the parser raise anything but SdpError.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from voipkit.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
    Timing,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "sdp"
CORPUS = [path.read_text() for path in sorted(DATA.glob("*.sdp"))]

TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(TOKEN, min_size=1, max_size=10)
# free text: no CR/LF/NUL, not ending in whitespace (trailing whitespace is stripped)
free = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
               min_size=1, max_size=20).filter(lambda s: s == s.rstrip() and s[0] != " ")
numbers = st.integers(0, 2**64)
addresses = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str), tokens)
connections = addresses.map(Connection.for_address)
bandwidths = st.builds(Bandwidth, st.sampled_from(["AS", "CT", "RR", "RS", "TIAS"]), numbers)
attributes = st.builds(Attribute, tokens.filter(lambda t: ":" not in t),
                       st.none() | st.just("") | free)
media = st.builds(
    MediaDescription,
    kind=st.sampled_from(["audio", "video", "application", "text"]),
    port=st.integers(1, 65535),
    port_count=st.none() | st.integers(1, 8),
    proto=st.sampled_from(["RTP/AVP", "RTP/SAVP", "UDP/BFCP", "RTP/AVPF"]),
    formats=st.lists(st.integers(0, 127).map(str), min_size=1, max_size=6),
    title=st.none() | free,
    connection=st.none() | connections,
    bandwidths=st.lists(bandwidths, max_size=2),
    key=st.none() | free,
    attributes=st.lists(attributes, max_size=5),
)
timings = st.builds(Timing, numbers, numbers, st.lists(free, max_size=2).map(tuple))
sessions = st.builds(
    SessionDescription,
    origin=st.builds(Origin, tokens, numbers, numbers, st.just("IN"),
                     st.sampled_from(["IP4", "IP6"]), addresses),
    name=st.just("") | free,
    information=st.none() | free,
    uri=st.none() | free,
    emails=st.lists(free, max_size=2),
    phones=st.lists(free, max_size=2),
    connection=st.none() | connections,
    bandwidths=st.lists(bandwidths, max_size=2),
    timings=st.lists(timings, min_size=1, max_size=2),
    zone=st.none() | free,
    key=st.none() | free,
    attributes=st.lists(attributes, max_size=4),
    media=st.lists(media, max_size=3),
)


@settings(max_examples=300)
@given(sessions)
def test_generated_descriptions_round_trip(sd: SessionDescription) -> None:
    text = str(sd)
    assert all(line for line in text.split("\r\n")[:-1])
    parsed = SessionDescription.parse(text)
    assert parsed == sd
    assert bytes(parsed) == text.encode("utf-8")


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_random_text_only_raises_sdp_error(text: str) -> None:
    with contextlib.suppress(SdpError):
        SessionDescription.parse("v=0\r\n" + text)


@settings(max_examples=300)
@given(st.sampled_from(CORPUS), st.integers(0, 10_000), st.text(max_size=4))
def test_mutated_golden_sdp_only_raises_sdp_error(base: str, at: int, insert: str) -> None:
    pos = at % (len(base) + 1)
    mutated = base[:pos] + insert + base[pos + len(insert):]
    try:
        sd = SessionDescription.parse(mutated)
    except SdpError:
        return
    assert SessionDescription.parse(str(sd)) == sd
    for m in sd.media:  # accessors may refuse, but only with SdpError
        for accessor in ("rtpmaps", "fmtp", "ptime", "maxptime", "rtcp", "crypto", "ssrcs"):
            with contextlib.suppress(SdpError):
                getattr(m, accessor)
