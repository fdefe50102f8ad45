"""Benchmark: parse a realistic ~1 KB INVITE with SDP, read its routing headers, serialize it.

Prints which build of the parser ran (``compiled``: the mypyc extension modules of an
installed voipkit; ``pure``: the .py files, e.g. with ``PYTHONPATH=src``), then, as medians
of several runs: parse + routing-header access + serialize per second,
parse alone per second, and, for comparison, the rate of a bare ``bytes.split`` pass over
the same message in the same run, and the ratio of the first figure to it. Each run builds
a fresh message object per iteration; nothing is cached between messages.

    .venv/bin/python bench/bench_parse.py [--runs 7] [--number 20000]      # as installed
    PYTHONPATH=src .venv/bin/python bench/bench_parse.py                   # pure Python
"""

from __future__ import annotations

import argparse
import statistics
import time

import voipkit.sip.message
from voipkit.sip import Request, parse_message

SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.101\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 9 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=sendrecv\r\n"
)

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.7\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport=5060\r\n"
    b"Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, MESSAGE, INFO, UPDATE\r\n"
    b"Supported: replaces, timer, 100rel\r\n"
    b"User-Agent: voipkit-bench/0.1\r\n"
    b"Session-Expires: 1800\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)


def one_parse(data: bytes) -> bytes:
    msg = parse_message(data)
    assert isinstance(msg, Request)
    top = msg.via[0]
    _ = (top.branch, top.host, msg.from_.tag, msg.to.uri, msg.call_id, msg.cseq.seq,
         msg.cseq.method, msg.max_forwards, msg.contact[0].uri, msg.route, msg.record_route,
         msg.content_type)
    return bytes(msg)


def parse_only(data: bytes) -> object:
    return parse_message(data)


def bare_split(data: bytes) -> list[list[bytes]]:
    head, _, _ = data.partition(b"\r\n\r\n")
    return [line.split(b":", 1) for line in head.split(b"\r\n")]


def rate(fn: object, data: bytes, number: int) -> float:
    call = fn  # type: ignore[assignment]
    start = time.perf_counter()
    for _ in range(number):
        call(data)  # type: ignore[operator]
    return number / (time.perf_counter() - start)


def parser_mode() -> str:
    """``compiled`` when voipkit.sip.message is a mypyc extension module, else ``pure``."""
    path = voipkit.sip.message.__file__ or ""
    return "compiled" if path.endswith((".so", ".pyd")) else "pure"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    assert parse_message(one_parse(INVITE)) == parse_message(INVITE)
    parses, only, splits = [], [], []
    for _ in range(args.runs):
        parses.append(rate(one_parse, INVITE, args.number))
        only.append(rate(parse_only, INVITE, args.number))
        splits.append(rate(bare_split, INVITE, args.number))
    parse_rate, split_rate = statistics.median(parses), statistics.median(splits)
    only_rate = statistics.median(only)
    print(f"parser: {parser_mode()} ({voipkit.sip.message.__file__})")
    print(f"message: {len(INVITE)} octets INVITE with SDP; {args.runs} runs x {args.number}")
    print(f"parse + routing-header access + serialize: {parse_rate:,.0f} /s "
          f"({1e6 / parse_rate:.1f} us each)")
    print(f"parse only:                                {only_rate:,.0f} /s "
          f"({1e6 / only_rate:.1f} us each)")
    print(f"bare bytes.split pass:                     {split_rate:,.0f} /s")
    print(f"ratio parse/split:                         {parse_rate / split_rate:.3f}")
    print(f"target 60,000 /s:                          "
          f"{'met' if parse_rate >= 60000 else 'NOT met'}")


if __name__ == "__main__":
    main()
