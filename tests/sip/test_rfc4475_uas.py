"""A UAS core answers each RFC 4475 torture request the way the RFC expects.

Proves, for every request in tests/data/rfc4475 (over UDP from 127.0.0.1:5062):
- nothing raises out of ``UserAgentCore.receive``;
- when the manifest names acceptable status codes for a decision the SIP core owns
  (syntax 400, 416 scheme, 420 extension, 501 method, 505 version, 200 OPTIONS),
  the core sends exactly one response and its status is one of them, with a
  reason phrase and the request's Call-ID/CSeq copied;
- requests whose answer is application policy (415, 406, a registrar's 200/401)
  reach the application as a RequestReceived event instead of being answered;
- responses and unsalvageable garbage are dropped and counted, never answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from voipkit.base.ids import SequentialIds
from voipkit.sip import parse_message
from voipkit.sip.addressing import TransportKind
from voipkit.sip.events import RequestReceived
from voipkit.sip.message import Response
from voipkit.sip.ua import DEFAULT_ALLOW, CoreConfig, UserAgentCore

DATA = Path(__file__).resolve().parent.parent / "data" / "rfc4475"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
ENTRIES = {e["name"]: e for e in MANIFEST["messages"]}

#: Left to the application (the core hands them up): registrar, media-type and SDP policy.
APPLICATION_DECIDES = {"invut", "regaut01", "cparam01", "cparam02", "regescrt", "sdp01"}


@dataclass
class Answer:
    """A response as it went on the wire (salvaged answers copy unparsable headers)."""

    status: int
    reason: str
    raw: bytes

    def header(self, name: str) -> str | None:
        for line in self.raw.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None


def _feed(name: str) -> tuple[UserAgentCore, list[Answer], list[object]]:
    # a core that also accepts REGISTER, as a registrar's does, so that the registrar
    # cases of the RFC reach the application (a plain UA would answer them 405)
    config = CoreConfig(allow=(*DEFAULT_ALLOW, "REGISTER"))
    core = UserAgentCore(config=config, ids=SequentialIds("uas"))
    core.add_local_address(TransportKind.UDP, "127.0.0.1", 5060)
    core.receive((DATA / ENTRIES[name]["file"]).read_bytes(), ("127.0.0.1", 5062),
                 TransportKind.UDP, now=0.0)
    responses = []
    for out in core.datagrams_to_send():
        assert out.data.startswith(b"SIP/2.0 ")
        status_line = out.data.split(b"\r\n", 1)[0].decode("utf-8")
        _, code, reason = status_line.split(" ", 2)
        responses.append(Answer(int(code), reason, out.data))
        if out.message is not None:  # built by the core from a parsed request: re-parses
            assert isinstance(parse_message(out.data), Response)
    events = []
    while (event := core.next_event()) is not None:
        events.append(event)
    return core, responses, events


REQUESTS = [e["name"] for e in MANIFEST["messages"] if e["message_kind"] == "request"]
RESPONSES = [e["name"] for e in MANIFEST["messages"] if e["message_kind"] == "response"]


@pytest.mark.parametrize("name", REQUESTS)
def test_uas_core_answers_torture_request(name: str) -> None:
    entry = ENTRIES[name]
    _core, responses, events = _feed(name)
    acceptable = entry["acceptable_status_codes"]
    final = [r for r in responses if r.status >= 200]
    if name in APPLICATION_DECIDES:
        assert final == []
        assert [type(e) for e in events] == [RequestReceived]
        return
    if acceptable is None:
        # valid requests are never refused as malformed: delivered to the application,
        # or answered on their merits (OPTIONS: 200; a To tag with no dialog: 481)
        if final:
            assert [r.status for r in final] in ([200], [481]), (name, final)
        else:
            assert any(isinstance(e, RequestReceived) for e in events), name
        return
    if name == "baddate":  # accepted liberally: the core never reads Date
        assert final == [] and [type(e) for e in events] == [RequestReceived]
        return
    assert len(final) == 1, f"{name}: expected one final response, got {responses}"
    response = final[0]
    assert response.status in acceptable, f"{name}: {response.status} {response.reason}"
    assert response.reason.strip()
    raw = (DATA / entry["file"]).read_bytes()
    for name_ in ("Call-ID", "CSeq"):
        value = response.header(name_)
        assert value is None or value.encode("latin-1") in raw.replace(b"\r\n ", b" ")
    if response.status == 420:
        assert response.header("Unsupported")
    if response.status in (405, 501):
        assert "INVITE" in (response.header("Allow") or "")
    assert events == [] or all(not isinstance(e, RequestReceived) for e in events)


@pytest.mark.parametrize("name", RESPONSES)
def test_uas_core_drops_torture_response(name: str) -> None:
    core, responses, events = _feed(name)
    assert responses == [] and events == []
    assert sum(core.counters.values()) >= 1  # dropped and counted, one way or another
