#!/usr/bin/env python3
"""SDP cost of answering one call: parse a typical offer, negotiate the answer, serialize it.

The offer is what SIPp's built-in UAC and most softphones send (PCMU, PCMA and
telephone-event); the capabilities are a phone's defaults. Prints the median and the
best of seven repetitions of N answers, in microseconds per answer, and which build
(compiled by mypyc or pure Python) ran.

Usage: python bench/bench_sdp.py [--answers 3000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import voipkit.sdp.negotiate as negotiate_module
from voipkit.base.ids import SequentialIds
from voipkit.sdp import CodecCapability, SessionDescription, negotiate_answer

OFFER = (b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
         b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\n"
         b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
         b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n")
CAPABILITIES = [
    CodecCapability(encoding="PCMU", clock_rate=8000, payload_type=0),
    CodecCapability(encoding="PCMA", clock_rate=8000, payload_type=8),
    CodecCapability(encoding="telephone-event", clock_rate=8000, payload_type=101,
                    fmtp={"": "0-16"}),
]


def answer_once(ids: SequentialIds) -> bytes:
    offer = SessionDescription.parse(OFFER)
    answer, _streams = negotiate_answer(
        offer, capabilities=CAPABILITIES, address="127.0.0.1", port=20000, session_id=1,
        session_version=1, rtcp_mux=False, ids=ids)
    return bytes(answer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=3000)
    args = parser.parse_args()
    ids = SequentialIds("bench")
    answer_once(ids)
    per_answer = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(args.answers):
            answer_once(ids)
        per_answer.append((time.perf_counter() - start) / args.answers * 1e6)
    build = "compiled" if negotiate_module.__file__.endswith(".so") else "pure Python"
    print(f"SDP answer (parse + negotiate + serialize), {build}: "
          f"median {statistics.median(per_answer):.1f} us, best {min(per_answer):.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
