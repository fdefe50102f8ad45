"""The agent's option checking and event formatting, in process (no sockets).

Proves:
- options become the api's configuration (listeners, codecs, RTP range, TLS, account
  with its domain taken from --server, transport from the first listener);
- clashing or malformed options raise ``AgentError`` with code 2 and a message naming
  the option (--register without --user, --password without --user, --rtp-ports, --dtmf,
  a --play file that does not exist, --tls-cert without --tls-key);
- an SDP body is summarised as the manual's audioCodecNames/videoCodecNames/existsAudio/
  existsVideo (telephone-event left out); DTMF digits map to the manual's tone numbers;
- ``Output`` writes JSON lines with the "event" key first, or the readable text;
- ``--record`` names: the first call records to FILE, later ones to NAME-ID.EXT.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from voipkit.agent import DTMF_TONES, AgentError, Output, _sdp_summary, parse_options
from voipkit.api import Listen
from voipkit.sip.addressing import TransportKind


def test_options_become_api_configuration() -> None:
    options = parse_options([
        "--listen", "tcp:127.0.0.1:0", "--listen", "udp:127.0.0.1:5070",
        "--user", "1001", "--password", "pw", "--server", "pbx.example:5080",
        "--register", "--expires", "120", "--codecs", "pcma, PCMU", "--rtp-ports", "30000-30100",
        "--max-calls", "500", "--auto-answer", "--duration", "2.5", "--call", "sip:x@h",
        "--call", "sip:y@h", "--json"])
    phone = options.phone
    assert phone.listeners == (Listen(TransportKind.TCP, "127.0.0.1", 0),
                               Listen(TransportKind.UDP, "127.0.0.1", 5070))
    assert phone.media.codecs == ("PCMA", "PCMU")
    assert phone.media.rtp_port_range == (30000, 30100)
    assert phone.max_calls == 500
    account = options.account
    assert account is not None
    assert (account.user, account.domain, account.server, account.expires) == (
        "1001", "pbx.example", "pbx.example:5080", 120)
    assert account.kind is TransportKind.TCP
    assert options.register and options.json
    assert options.auto_answer == 0.0 and options.duration == 2.5
    assert options.calls == ("sip:x@h", "sip:y@h")


def test_defaults_listen_on_a_free_loopback_port_and_ring() -> None:
    options = parse_options([])
    assert options.phone.listeners == (Listen(TransportKind.UDP, "127.0.0.1", 0),)
    assert options.account is None and options.auto_answer is None
    assert parse_options(["--auto-answer", "3"]).auto_answer == 3.0


@pytest.mark.parametrize(("args", "named"), [
    (["--register"], "--register needs --user"),
    (["--password", "x"], "--password needs --user"),
    (["--user", "a"], "--user needs --domain or --server"),
    (["--rtp-ports", "3000"], "--rtp-ports '3000' is not MIN-MAX"),
    (["--rtp-ports", "100-200"], "rtp_port_range (100, 200)"),
    (["--dtmf", "12x"], "--dtmf '12x'"),
    (["--play", "/nonexistent/tone.wav"], "--play '/nonexistent/tone.wav': no such file"),
    (["--record", "/nonexistent/dir/rec.wav"], "directory '/nonexistent/dir' does not exist"),
    (["--listen", "sctp:127.0.0.1:0"], "transport 'sctp'"),
    (["--duration", "-1"], "'-1' is not a number of seconds >= 0"),
])
def test_bad_options_are_usage_errors(args: list[str], named: str) -> None:
    with pytest.raises(AgentError) as info:
        parse_options(args)
    assert info.value.code == 2
    assert named in str(info.value)


def test_tls_cert_needs_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(AgentError, match="--tls-cert and --tls-key go together"):
        parse_options(["--tls-cert", str(cert)])


def test_sdp_summary_names_codecs_per_media() -> None:
    sdp = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           b"m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
           b"a=rtpmap:101 telephone-event/8000\r\n"
           b"m=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")
    assert _sdp_summary(sdp) == ("PCMU,PCMA", "H264", True, True)
    assert _sdp_summary(None) == ("", "", False, False)
    assert [DTMF_TONES[d] for d in "09*#AD!"] == [0, 9, 10, 11, 12, 15, 16]


def test_output_json_and_readable() -> None:
    stream = io.StringIO()
    out = Output(stream, json_mode=True)
    out.event("onInviteClosed", {"sessionId": 3}, "call 3: closed")
    out.error("unknown command 'x'")
    lines = stream.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"event": "onInviteClosed", "sessionId": 3},
        {"event": "error", "message": "unknown command 'x'"}]
    assert lines[0].startswith('{"event": ')
    stream = io.StringIO()
    out = Output(stream, json_mode=False)
    out.event("onInviteClosed", {"sessionId": 3}, "call 3: closed")
    out.event("ready", {"listen": "udp:127.0.0.1:5060"})
    assert stream.getvalue() == "call 3: closed\nready listen=udp:127.0.0.1:5060\n"


def test_first_call_records_to_the_file_later_ones_add_their_id(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from voipkit.agent import Agent

    options = parse_options(["--record", str(tmp_path / "in.wav")])
    agent = Agent(options, Output(io.StringIO(), json_mode=False))
    paths = [agent._record_path(SimpleNamespace(id=n)) for n in (4, 7)]  # type: ignore[arg-type]
    assert paths == [str(tmp_path / "in.wav"), str(tmp_path / "in-7.wav")]
