"""The facade's error codes, and the one place an exception becomes an integer.

Knows: ``voipkit.api.errors``. Must not know: anything below ``api``. The
vendor contract is "0 (or an id > 0) on success, a negative error code on
failure"; the codes and their meaning are listed in docs/error-codes.md, which
a test keeps in step with this table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import IntEnum

from voipkit.api.errors import (
    CodecUnavailable,
    ConfigurationError,
    DeviceError,
    InvalidStateError,
    MediaError,
    NotFoundError,
    RecordingError,
    RequestFailed,
    ResolveError,
    SipError,
    TlsError,
    TransactionTimeout,
    TransportError,
    VoipkitError,
)
from voipkit.api.media_files import MediaFileError

logger = logging.getLogger(__name__)


class ErrorCode(IntEnum):
    """Negative results of PortSIPLib methods (meanings in ``MEANING``)."""

    NOT_INITIALIZED = -60001
    ALREADY_INITIALIZED = -60002
    INVALID_ARGUMENT = -60003
    INVALID_STATE = -60004
    INVALID_SESSION_ID = -60005
    NO_USER = -60006
    NOT_FOUND = -60007
    BUFFER_TOO_SMALL = -60008
    TRANSPORT_FAILED = -60010
    ADDRESS_IN_USE = -60011
    RESOLVE_FAILED = -60012
    TLS_FAILED = -60013
    REQUEST_FAILED = -60020
    TIMEOUT = -60021
    SIP_ERROR = -60022
    MEDIA_ERROR = -60030
    CODEC_UNAVAILABLE = -60031
    DEVICE_ERROR = -60032
    RECORDING_ERROR = -60033
    MEDIA_FILE_ERROR = -60034
    CALLED_FROM_MEDIA_THREAD = -60040
    INTERNAL_ERROR = -60099


MEANING: Mapping[ErrorCode, str] = {
    ErrorCode.NOT_INITIALIZED: "initialize() has not been called (or unInitialize() was).",
    ErrorCode.ALREADY_INITIALIZED: "initialize() was called twice without unInitialize().",
    ErrorCode.INVALID_ARGUMENT: "An argument is out of range, malformed or asks for something "
                                "voipkit does not do yet (the log names it).",
    ErrorCode.INVALID_STATE: "The call or account is in a state that forbids the operation "
                             "(hold() before onInviteConnected, answerCall() twice ...).",
    ErrorCode.INVALID_SESSION_ID: "No call or header rule has that id (it may have ended).",
    ErrorCode.NO_USER: "setUser() has not been called.",
    ErrorCode.NOT_FOUND: "The requested item is not there (getSipMessageHeaderValue: no such "
                         "header in the message).",
    ErrorCode.BUFFER_TOO_SMALL: "The value does not fit the given buffer size (it needs "
                                "length + 1 bytes of UTF-8, as in the C API).",
    ErrorCode.TRANSPORT_FAILED: "A socket could not be opened or a message could not be sent.",
    ErrorCode.ADDRESS_IN_USE: "The local SIP port is already in use.",
    ErrorCode.RESOLVE_FAILED: "The server name could not be resolved (RFC 3263).",
    ErrorCode.TLS_FAILED: "The TLS handshake failed (certificate, host name, protocol).",
    ErrorCode.REQUEST_FAILED: "The peer answered with a final error response.",
    ErrorCode.TIMEOUT: "No answer in time (Timer B/F, or the library call's own time limit).",
    ErrorCode.SIP_ERROR: "Another SIP-level failure.",
    ErrorCode.MEDIA_ERROR: "Audio could not be set up.",
    ErrorCode.CODEC_UNAVAILABLE: "No usable codec in common with the peer.",
    ErrorCode.DEVICE_ERROR: "A sound device could not be used.",
    ErrorCode.RECORDING_ERROR: "A recording could not be started or written.",
    ErrorCode.MEDIA_FILE_ERROR: "A media file cannot be played or recorded: missing, "
                                "unreadable, not audio, or a format this build cannot "
                                "write (startPlayingFileToRemote, startRecord ...).",
    ErrorCode.CALLED_FROM_MEDIA_THREAD: "A raw media callback (which runs on the I/O loop) "
                                        "tried to call the library.",
    ErrorCode.INTERNAL_ERROR: "An unexpected failure inside voipkit (logged with its "
                              "traceback): a bug to report.",
}
"What each code means; docs/error-codes.md is rendered from it."


_TABLE: tuple[tuple[type[BaseException], ErrorCode], ...] = (
    (NotFoundError, ErrorCode.INVALID_SESSION_ID),
    (ConfigurationError, ErrorCode.INVALID_ARGUMENT),
    (InvalidStateError, ErrorCode.INVALID_STATE),
    (TlsError, ErrorCode.TLS_FAILED),
    (ResolveError, ErrorCode.RESOLVE_FAILED),
    (TransportError, ErrorCode.TRANSPORT_FAILED),
    (TransactionTimeout, ErrorCode.TIMEOUT),
    (RequestFailed, ErrorCode.REQUEST_FAILED),
    (SipError, ErrorCode.SIP_ERROR),
    (CodecUnavailable, ErrorCode.CODEC_UNAVAILABLE),
    (DeviceError, ErrorCode.DEVICE_ERROR),
    (RecordingError, ErrorCode.RECORDING_ERROR),
    (MediaFileError, ErrorCode.MEDIA_FILE_ERROR),
    (MediaError, ErrorCode.MEDIA_ERROR),
    (TimeoutError, ErrorCode.TIMEOUT),
)


def to_code(exc: BaseException) -> int:
    """The negative code for ``exc``; unexpected exceptions are logged as bugs."""
    if isinstance(exc, TransportError) and "already in use" in str(exc):
        return ErrorCode.ADDRESS_IN_USE
    for kind, code in _TABLE:
        if isinstance(exc, kind):
            logger.info("PortSIPLib call failed: %s (%s)", exc, code.name)
            return code
    if isinstance(exc, VoipkitError):
        logger.warning("PortSIPLib call failed: %s", exc)
        return ErrorCode.SIP_ERROR
    logger.error("PortSIPLib call failed with an unexpected error", exc_info=exc)
    return ErrorCode.INTERNAL_ERROR


def error_codes_markdown() -> str:
    """docs/error-codes.md: every code, its meaning and the exceptions that produce it."""
    sources: dict[ErrorCode, list[str]] = {}
    for kind, code in _TABLE:
        sources.setdefault(code, []).append(f"`{kind.__name__}`")
    sources.setdefault(ErrorCode.ADDRESS_IN_USE, []).insert(
        0, "`TransportError` (address already in use)")
    sources.setdefault(ErrorCode.SIP_ERROR, []).append("any other `VoipkitError`")
    sources.setdefault(ErrorCode.INTERNAL_ERROR, []).append("any other exception")
    lines = [
        "# PortSIPLib error codes",
        "",
        "Generated from `voipkit.compat.portsip.codes` (`ErrorCode`, `MEANING`); a test",
        "fails when this file and the table drift apart. Every `PortSIPLib` method returns",
        "0 (or a new id > 0) on success and one of these negative codes on failure; the",
        "reason is logged by the `voipkit.compat.portsip` loggers.",
        "",
        "| code | name | meaning | raised for |",
        "| --- | --- | --- | --- |",
    ]
    for code in ErrorCode:
        origin = ", ".join(sources.get(code, [])) or "checked by the facade itself"
        lines.append(f"| {int(code)} | `{code.name}` | {MEANING[code]} | {origin} |")
    return "\n".join(lines) + "\n"
