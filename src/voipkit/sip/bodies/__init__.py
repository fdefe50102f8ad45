"""Event-package and transfer bodies: pure parsers and builders, no SIP state.

Knows: the text formats of message/sipfrag (RFC 3420), PIDF presence (RFC
3863), dialog-info (RFC 4235) and message-summary (RFC 3842). Must not know:
transactions, dialogs, subscriptions, sockets or clocks — the usages and the
api hand bytes in and get typed values out. Every parser is strict and raises
``BodyError`` (a ``ValueError``) with a precise reason.
"""

from voipkit.sip.bodies.dialog_info import (
    DIALOG_INFO,
    DialogDirection,
    DialogEntry,
    DialogInfo,
    DialogInfoState,
    DialogPhase,
    Participant,
    build_dialog_info,
    parse_dialog_info,
)
from voipkit.sip.bodies.errors import BodyError
from voipkit.sip.bodies.message_summary import (
    MESSAGE_SUMMARY,
    MessageCounts,
    MessageSummary,
    build_message_summary,
    parse_message_summary,
)
from voipkit.sip.bodies.pidf import PIDF, Basic, Pidf, PidfTuple, build_pidf, parse_pidf
from voipkit.sip.bodies.sipfrag import SIPFRAG, SipFrag, build_sipfrag, parse_sipfrag

__all__ = [
    "DIALOG_INFO",
    "MESSAGE_SUMMARY",
    "PIDF",
    "SIPFRAG",
    "Basic",
    "BodyError",
    "DialogDirection",
    "DialogEntry",
    "DialogInfo",
    "DialogInfoState",
    "DialogPhase",
    "MessageCounts",
    "MessageSummary",
    "Participant",
    "Pidf",
    "PidfTuple",
    "SipFrag",
    "build_dialog_info",
    "build_message_summary",
    "build_pidf",
    "build_sipfrag",
    "parse_dialog_info",
    "parse_message_summary",
    "parse_pidf",
    "parse_sipfrag",
]
