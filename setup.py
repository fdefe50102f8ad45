"""Build voipkit, compiling the SIP core and the SDP modules with mypyc when it is available.

The package metadata lives in pyproject.toml; this file only adds the optional extension
modules. The compiled modules come from the same Python source as the pure ones: an
installed ``voipkit.sip.message`` is either ``message.cpython-*.so`` or ``message.py``, and
both pass the same test suite (``make test`` runs it in both modes). See
docs/performance.md "SIP parse" for why and what it buys.

    pip install .                          # compiled when mypyc can be imported
    VOIPKIT_PURE_PYTHON=1 pip install .    # pure Python, no C compiler needed

pyproject.toml's [build-system] lists mypy, so an isolated build always has mypyc; a
build without isolation and without mypy, or one where mypyc fails to import, installs
the pure-Python package and says so, and so does an editable install (``make dev``),
which would otherwise put .so files into src/.

Left interpreted on purpose: ``sip/status.py`` (its ``IntEnum`` with a custom ``__new__`` is
outside what mypyc compiles) and the exception modules ``base/errors.py``/``sip/errors.py``:
a compiled exception class gets a fixed instance layout, and every class that also derives
from an ``OSError`` (``api.errors.TransactionTimeout(SipError, TimeoutError)``) then fails
with "multiple bases have instance lay-out conflict". Errors are off the hot path anyway.
For the same reason the SDP errors live in the interpreted ``sdp/errors.py`` (``media.srtp``
subclasses them), so ``sdp/model.py``, ``parse.py`` and ``negotiate.py`` can be compiled:
every call a UAS answers parses an offer and builds an answer. ``AuthError`` and
``ReplacesError`` live in ``sip/errors.py`` for the same reason, so that ``sip/auth.py``
and ``sip/replaces.py`` can be compiled.

The dialog usages (``sip/usage/*.py``: the manager, the invite session and its helpers,
registration, subscriptions, REFER, MESSAGE, PUBLISH) are compiled as one group with the
core they drive: interpreted classes cannot subclass compiled ones, so every usage class
is compiled with its base; ``Usage`` itself is marked
``@mypyc_attr(allow_interpreted_subclasses=True)`` because applications and tests write
their own usages in plain Python. ``sip/usage/__init__.py`` only re-exports.

The media packet path is compiled too: every call builds an ``RtpStream`` (``stream.py``)
and sends RTP and an RTCP BYE (``rtp.py``, ``rtcp.py``, ``stats.py``); a call that
receives runs the jitter buffer and DTMF receiver (``jitter.py``, ``dtmf.py``). Their
exception ``MalformedPacket`` lives in the interpreted ``media/errors.py``; the codec
table (``codecs/registry.py``: the per-call codec look-ups and ``CodecSettings``) is
compiled as well. mypyc type-checks them together with every module ``voipkit.media``
imports, so the build needs numpy, PyAV, pylibsrtp, soxr and webrtcvad (pyproject.toml's
[build-system] lists them). mypyc cannot compile a signature with a required parameter
after a defaulted one (a keyword-only dataclass field included): such parameters come
first.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

#: The modules compiled by mypyc, relative to the repository root.
COMPILED = [
    "src/voipkit/sip/grammar.py",
    "src/voipkit/sip/uri.py",
    "src/voipkit/sip/headers.py",
    "src/voipkit/sip/message.py",
    "src/voipkit/sip/addressing.py",
    "src/voipkit/sip/timers.py",
    "src/voipkit/sip/transaction/fsm.py",
    "src/voipkit/sip/transaction/keys.py",
    "src/voipkit/sip/transaction/client.py",
    "src/voipkit/sip/transaction/server.py",
    "src/voipkit/sip/transaction/layer.py",
    "src/voipkit/sip/dialog.py",
    "src/voipkit/sip/validate.py",
    "src/voipkit/sip/ua.py",
    "src/voipkit/sip/events.py",
    "src/voipkit/sip/auth.py",
    "src/voipkit/sip/replaces.py",
    "src/voipkit/sip/usage/base.py",
    "src/voipkit/sip/usage/manager.py",
    "src/voipkit/sip/usage/offer_answer.py",
    "src/voipkit/sip/usage/session_timer.py",
    "src/voipkit/sip/usage/prack.py",
    "src/voipkit/sip/usage/invite.py",
    "src/voipkit/sip/usage/registration.py",
    "src/voipkit/sip/usage/subscription.py",
    "src/voipkit/sip/usage/refer.py",
    "src/voipkit/sip/usage/pager.py",
    "src/voipkit/sip/usage/publication.py",
    "src/voipkit/sdp/model.py",
    "src/voipkit/sdp/parse.py",
    "src/voipkit/sdp/negotiate.py",
    "src/voipkit/media/rtp.py",
    "src/voipkit/media/rtcp.py",
    "src/voipkit/media/stats.py",
    "src/voipkit/media/jitter.py",
    "src/voipkit/media/dtmf.py",
    "src/voipkit/media/stream.py",
    "src/voipkit/media/codecs/registry.py",
]


def _ext_modules() -> list[object]:
    if os.environ.get("VOIPKIT_PURE_PYTHON") == "1":
        print("voipkit: VOIPKIT_PURE_PYTHON=1, installing the pure-Python package",
              file=sys.stderr)
        return []
    if {"editable_wheel", "develop"} & set(sys.argv):
        # An editable install would build the extensions in place, into src/, where they
        # would silently shadow every later edit of the .py files.
        print("voipkit: editable install, installing the pure-Python package",
              file=sys.stderr)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        print(f"voipkit: mypyc is not available ({exc}); installing the pure-Python package",
              file=sys.stderr)
        return []
    print("voipkit: compiling the SIP core, SDP and the RTP path with mypyc: " + ", ".join(COMPILED),
          file=sys.stderr)
    # group_name gives the shared runtime library a stable name (voipkit_native__mypyc)
    # instead of a hash. Checks stay in: strip_asserts would change behaviour.
    return list(mypycify(COMPILED, opt_level="3", group_name="voipkit_native"))


setup(ext_modules=_ext_modules())
