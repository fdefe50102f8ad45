"""PortSIPLib's lifecycle, error codes and pure helpers.

Proves: methods before initialize answer NOT_INITIALIZED; initialize twice is
ALREADY_INITIALIZED; a wildcard localIp, PERS, an OS sound device and a video codec
voipkit cannot send (H.263) are refused with INVALID_ARGUMENT; a port in use gives ADDRESS_IN_USE;
unInitialize then initialize again on the same port works; unknown session ids
give INVALID_SESSION_ID and call() without setUser NO_USER; a user callback that
raises is logged with logger.exception and counted while later callbacks still
arrive; the log file of initialize receives voipkit's log; getSipMessageHeaderValue
follows RFC 3261 §7.3 (case, compact forms, folding, repeats) and reports
NOT_FOUND / BUFFER_TOO_SMALL; getNICNums/getLocalIpAddress list addresses;
docs/error-codes.md is the rendering of the ErrorCode table.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tests.compat.conftest import Recorder, sip_port, start

from voipkit.compat.portsip import (
    DTMF_METHOD,
    PORTSIP_LOG_LEVEL,
    TRANSPORT_TYPE,
    VIDEOCODEC_TYPE,
    ErrorCode,
    PortSIPLib,
    SIPCallbackEvents,
    StringBuilder,
)
from voipkit.compat.portsip.codes import MEANING, error_codes_markdown
from voipkit.compat.portsip.sessions import media_summary

ROOT = Path(__file__).resolve().parents[2]


def test_not_initialized_and_bad_arguments() -> None:
    lib = PortSIPLib(SIPCallbackEvents())
    assert lib.hangUp(1) == ErrorCode.NOT_INITIALIZED
    assert lib.call("sip:bob@127.0.0.1", True, False) == ErrorCode.NOT_INITIALIZED
    assert lib.setUser("a", "", "", "", "", "", 0, "", 0, "", 0) == ErrorCode.NOT_INITIALIZED
    assert start(lib, localIp="0.0.0.0") == ErrorCode.INVALID_ARGUMENT
    assert start(lib, transportType=TRANSPORT_TYPE.TRANSPORT_PERS) == ErrorCode.INVALID_ARGUMENT
    assert start(lib, audioDeviceLayer=2) == ErrorCode.INVALID_ARGUMENT
    assert start(lib, maxCallSessions=0) == ErrorCode.INVALID_ARGUMENT
    assert start(lib, logLevel=PORTSIP_LOG_LEVEL.PORTSIP_LOG_INFO,
                 logFilePath="/nonexistent/dir") == ErrorCode.INVALID_ARGUMENT
    assert lib.phone is None
    assert start(lib) == 0
    try:
        assert start(lib) == ErrorCode.ALREADY_INITIALIZED
        assert lib.call("sip:bob@127.0.0.1:5999", True, False) == ErrorCode.NO_USER
        assert lib.registerServer(60, 0) == ErrorCode.NO_USER
        assert lib.setUser("alice", "", "", "", "", "", 0, "", 0, "", 0) == 0
        assert lib.addVideoCodec(int(VIDEOCODEC_TYPE.VIDEO_CODEC_H263)) == (
            ErrorCode.INVALID_ARGUMENT)
        for bad in (0, -1, 987654, True):
            assert lib.hangUp(bad) == ErrorCode.INVALID_SESSION_ID
            assert lib.hold(bad) == ErrorCode.INVALID_SESSION_ID
            assert lib.sendDtmf(bad, DTMF_METHOD.DTMF_RFC2833, 1, 160, False) == \
                ErrorCode.INVALID_SESSION_ID
        assert lib.answerCall(5, True) == ErrorCode.INVALID_SESSION_ID
        assert lib.sendDtmf(5, DTMF_METHOD.DTMF_RFC2833, 17, 160, False) == \
            ErrorCode.INVALID_ARGUMENT
        assert lib.enableSessionTimer(30, 0) == ErrorCode.INVALID_ARGUMENT  # RFC 4028: >= 90
        assert lib.enableSessionTimer(120, 1) == 0
        assert lib.disableSessionTimer() == 0
        assert lib.setRtpPortRange(30000, 30100) == 0
        assert lib.setRtpPortRange(10, 5) == ErrorCode.INVALID_ARGUMENT
        assert lib.setReliableProvisional(4) == ErrorCode.INVALID_ARGUMENT
        assert lib.addSupportedMimeType("NOTIFY", "application", "x") == \
            ErrorCode.INVALID_ARGUMENT
        assert lib.sendOptions("sip:bob@127.0.0.1", "v=0") == ErrorCode.INVALID_ARGUMENT
        assert lib.setInstanceId("<bad>") == ErrorCode.INVALID_ARGUMENT
        assert lib.setDisplayName("Alice A.") == 0
    finally:
        lib.unInitialize()
    assert lib.hangUp(1) == ErrorCode.NOT_INITIALIZED


def test_port_in_use_and_initialize_again_after_uninitialize() -> None:
    first, second = PortSIPLib(SIPCallbackEvents()), PortSIPLib(SIPCallbackEvents())
    assert start(first) == 0
    port = sip_port(first)
    try:
        assert start(second, port=port) == ErrorCode.ADDRESS_IN_USE
        assert second.phone is None
    finally:
        first.unInitialize()
    first.unInitialize()  # a second unInitialize is harmless
    assert start(first, port=port) == 0  # the port was really released
    try:
        assert sip_port(first) == port
        assert first.setUser("alice", "", "", "", "", "", 0, "", 0, "", 0) == 0
    finally:
        first.unInitialize()


def test_a_raising_callback_is_logged_counted_and_delivery_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    alice_events, bob_events = Recorder(), Recorder()
    alice, bob = PortSIPLib(alice_events), PortSIPLib(bob_events)

    def explode(*args: object) -> None:
        raise RuntimeError("application bug")

    bob_events.hooks["onInviteIncoming"] = explode
    assert start(alice) == 0 and start(bob) == 0
    try:
        assert alice.setUser("alice", "", "", "", "", "", 0, "", 0, "", 0) == 0
        with caplog.at_level(logging.ERROR, logger="voipkit.compat.portsip"):
            sid = alice.call(f"sip:bob@127.0.0.1:{sip_port(bob)}", True, False)
            bob_sid = bob_events.wait("onInviteIncoming")[0]
            assert alice.hangUp(sid) == 0  # CANCEL: the callee's call closes
            bob_events.wait("onInviteClosed", lambda a: a == (bob_sid,))
        assert bob.callback_errors == 1 and alice.callback_errors == 0
        raised = [r for r in caplog.records if r.exc_info and "onInviteIncoming" in r.getMessage()]
        assert len(raised) == 1
        assert raised[0].exc_info is not None
        assert isinstance(raised[0].exc_info[1], RuntimeError)
    finally:
        alice.unInitialize()
        bob.unInitialize()
    assert bob.callback_errors == 1  # kept after unInitialize


def test_log_file_receives_the_log(tmp_path: Path) -> None:
    lib = PortSIPLib(SIPCallbackEvents())
    assert start(lib, logLevel=PORTSIP_LOG_LEVEL.PORTSIP_LOG_DEBUG,
                 logFilePath=str(tmp_path)) == 0
    lib.unInitialize()
    files = list(tmp_path.glob("PortSIP_Log_*.log"))
    assert len(files) == 1
    assert "PortSIPLib initialized" in files[0].read_text()
    assert not logging.getLogger("voipkit").handlers


MESSAGE = ("INVITE sip:bob@example.com SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
           "v: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n"
           "f: <sip:alice@example.com>;tag=1\r\n"
           "Subject: a long\r\n  folded line\r\n"
           "X-Empty:\r\n"
           "\r\n"
           "X-Body: not a header\r\n")


def test_get_sip_message_header_value() -> None:
    lib = PortSIPLib(SIPCallbackEvents())
    value = StringBuilder()
    assert lib.getSipMessageHeaderValue(MESSAGE, "via", value, 512) == 0
    assert str(value) == ("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1, "
                          "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2")
    assert lib.getSipMessageHeaderValue(MESSAGE, "From", value, 512) == 0
    assert str(value) == "<sip:alice@example.com>;tag=1"
    assert lib.getSipMessageHeaderValue(MESSAGE, "subject", value, 512) == 0
    assert str(value) == "a long folded line"
    assert lib.getSipMessageHeaderValue(MESSAGE, "X-Empty", value, 512) == 0
    assert str(value) == ""
    assert lib.getSipMessageHeaderValue(MESSAGE, "X-Body", value, 512) == ErrorCode.NOT_FOUND
    assert lib.getSipMessageHeaderValue(MESSAGE, "From", value, 10) == \
        ErrorCode.BUFFER_TOO_SMALL


def test_media_summary_reads_offers() -> None:
    sdp = ("v=0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
           "m=video 0 RTP/AVP 96\r\n")
    assert media_summary(sdp, ("PCMU", "PCMA")) == ("PCMU#PCMA", True, False)
    sdp = ("v=0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n"
           "m=video 5000 RTP/AVP 97\r\n")
    assert media_summary(sdp, ("PCMU",)) == ("", True, True)
    assert media_summary("", ("PCMU",)) == ("", False, False)


def test_local_addresses() -> None:
    lib = PortSIPLib(SIPCallbackEvents())
    count = lib.getNICNums()
    assert count >= 1
    ip = StringBuilder()
    assert lib.getLocalIpAddress(count - 1, ip, 64) == 0 and str(ip)
    assert lib.getLocalIpAddress(count, ip, 64) == ErrorCode.INVALID_ARGUMENT
    assert lib.getLocalIpAddress(0, ip, 2) == ErrorCode.BUFFER_TOO_SMALL


def test_error_codes_doc_is_current() -> None:
    assert set(MEANING) == set(ErrorCode)
    assert all(code < 0 for code in ErrorCode)
    text = error_codes_markdown()
    path = ROOT / "docs" / "error-codes.md"
    current = path.read_text() if path.exists() else ""
    if current != text:
        path.write_text(text)
    assert current == text, "docs/error-codes.md was stale; it has been rewritten: commit it"
