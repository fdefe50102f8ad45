"""The SIP parser runs in the mode the test run claims: compiled by mypyc, or pure Python.

Proves that ``make test`` really exercises both builds of the one source:
- an installed voipkit (imported from outside this checkout's src/) has the parser
  modules compiled to extension modules, unless VOIPKIT_PURE_PYTHON=1 /
  VOIPKIT_EXPECT_PURE=1 asked for the pure build; VOIPKIT_EXPECT_COMPILED=1 (set by the
  Makefile's main run) insists on the compiled install;
- voipkit imported from src/ (``PYTHONPATH=src``, the Makefile's second run, or a
  ``make dev`` editable install) runs the .py files, and src/ holds no compiled file that
  could shadow them;
- status.py and the error modules are always .py files, so exceptions still combine with
  OSError subclasses (a compiled exception class would have a conflicting layout);
- the compiled value classes still build through ``copy.copy`` and ``dataclasses.replace``;
- the exceptions of the compiled ``sip.auth`` and ``sip.replaces`` are the interpreted
  ones of ``sip.errors``, and an application's own (interpreted) ``Usage`` subclass
  still works with the compiled usage manager.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import os
from pathlib import Path

import pytest

import voipkit
from voipkit.sip import NameAddr, SipUri, Via, parse_message

SRC = Path(__file__).resolve().parent.parent / "src"
COMPILED = ["voipkit.sip.grammar", "voipkit.sip.uri", "voipkit.sip.headers",
            "voipkit.sip.message", "voipkit.sip.addressing", "voipkit.sip.timers",
            "voipkit.sip.transaction.fsm", "voipkit.sip.transaction.keys",
            "voipkit.sip.transaction.client", "voipkit.sip.transaction.server",
            "voipkit.sip.transaction.layer", "voipkit.sip.dialog", "voipkit.sip.validate",
            "voipkit.sip.ua", "voipkit.sip.events", "voipkit.sip.auth", "voipkit.sip.replaces",
            "voipkit.sip.usage.base", "voipkit.sip.usage.manager",
            "voipkit.sip.usage.offer_answer", "voipkit.sip.usage.session_timer",
            "voipkit.sip.usage.prack", "voipkit.sip.usage.invite",
            "voipkit.sip.usage.registration", "voipkit.sip.usage.subscription",
            "voipkit.sip.usage.refer", "voipkit.sip.usage.pager",
            "voipkit.sip.usage.publication",
            "voipkit.sdp.model", "voipkit.sdp.parse", "voipkit.sdp.negotiate",
            "voipkit.media.rtp", "voipkit.media.rtcp", "voipkit.media.stats",
            "voipkit.media.jitter", "voipkit.media.dtmf", "voipkit.media.stream",
            "voipkit.media.codecs.registry"]
#: Never compiled (setup.py says why).
INTERPRETED = ["voipkit.sip.status", "voipkit.sip.errors", "voipkit.base.errors",
               "voipkit.sdp.errors", "voipkit.media.errors"]
FROM_SRC = Path(voipkit.__file__).resolve().is_relative_to(SRC)
EXPECT_PURE = "1" in (os.environ.get("VOIPKIT_EXPECT_PURE"), os.environ.get("VOIPKIT_PURE_PYTHON"))
EXPECT_COMPILED = os.environ.get("VOIPKIT_EXPECT_COMPILED") == "1"


def _file(module: str) -> str:
    path = importlib.import_module(module).__file__
    assert path is not None
    return path


def test_the_environment_does_not_ask_for_both_modes() -> None:
    assert not (EXPECT_PURE and EXPECT_COMPILED)


@pytest.mark.parametrize("module", COMPILED)
def test_parser_module_is_compiled_exactly_when_installed_compiled(module: str) -> None:
    path = _file(module)
    if EXPECT_COMPILED:
        assert not FROM_SRC, f"voipkit comes from {voipkit.__file__}, not an installed copy"
    if EXPECT_PURE or FROM_SRC:
        assert path.endswith(".py"), path
    else:
        assert path.endswith(".so"), f"{module} is not compiled: {path}"


def test_pure_run_imports_the_source_tree() -> None:
    if os.environ.get("VOIPKIT_EXPECT_PURE") == "1":
        assert FROM_SRC, f"VOIPKIT_EXPECT_PURE=1 but voipkit comes from {voipkit.__file__}"
        assert Path(_file("voipkit.sip.message")) == SRC / "voipkit" / "sip" / "message.py"


@pytest.mark.parametrize("module", INTERPRETED)
def test_status_and_error_modules_stay_interpreted(module: str) -> None:
    assert _file(module).endswith(".py")


def test_errors_combine_with_os_errors() -> None:
    from voipkit.base.errors import VoipkitError
    from voipkit.sip.errors import ParseError, SipProtocolError

    class LateError(SipProtocolError, TimeoutError):
        pass

    class FailureError(VoipkitError, OSError):
        pass

    assert issubclass(ParseError, VoipkitError) and issubclass(ParseError, ValueError)
    assert LateError("late").reason == "late" and isinstance(FailureError(), OSError)


def test_no_compiled_file_in_the_source_tree() -> None:
    leftovers = [p for pattern in ("*.so", "*.pyd") for p in SRC.rglob(pattern)]
    assert leftovers == []


def test_values_copy_and_replace_in_either_mode() -> None:
    msg = parse_message(
        b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
        b"From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\n"
        b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    twin = copy.copy(msg)
    assert twin == msg and twin is not msg and twin.via is msg.via
    assert bytes(twin) == bytes(msg)
    uri = copy.copy(msg.to.uri)
    assert isinstance(uri, SipUri) and str(uri) == "sip:bob@example.com"
    assert dataclasses.replace(uri, port=5070) == SipUri(user="bob", host="example.com",
                                                         port=5070)
    assert dataclasses.replace(msg.from_, display_name="A") == NameAddr(
        msg.from_.uri, "A", {"tag": "a"})
    assert str(dataclasses.replace(msg.via[0], port=None)) == (
        "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1")
    assert copy.copy(msg.via[0]) == Via("UDP", "192.0.2.1", 5060, {"branch": "z9hG4bK-1"})


def test_compiled_modules_raise_interpreted_errors() -> None:
    from voipkit.sip import auth, errors, replaces

    assert auth.AuthError is errors.AuthError and issubclass(auth.AuthError, ValueError)
    assert auth.UnsupportedChallengeError is errors.UnsupportedChallengeError
    assert replaces.ReplacesError is errors.ReplacesError
    with pytest.raises(errors.AuthError, match="empty authentication header value"):
        auth.Challenge.parse("")
    with pytest.raises(errors.ReplacesError):
        replaces.parse_replaces("no tags here")


def test_an_interpreted_usage_subclass_runs_in_either_mode() -> None:
    from collections.abc import Hashable

    from voipkit.base.ids import SequentialIds
    from voipkit.sip.addressing import Destination, TransportKind
    from voipkit.sip.usage import Usage, UsageManager
    from voipkit.testing import make_core

    class Alarm(Usage):
        def __init__(self, host: UsageManager, usage_id: int) -> None:
            super().__init__(host, usage_id)
            self.rang: list[float] = []

        def on_timer(self, name: Hashable, *, now: float) -> None:
            self.rang.append(now)

    here = Destination(TransportKind.UDP, "127.0.0.1", 5060)
    manager = UsageManager(make_core(here, prefix="a"), ids=SequentialIds("u"))
    alarm = Alarm(manager, manager.new_usage_id())
    manager.add(alarm)
    manager.schedule(alarm, "wake", 2.0)
    assert manager.get_timer() == 2.0
    manager.handle_timer(now=2.0)
    assert alarm.rang == [2.0] and manager.live(Alarm) == 1
