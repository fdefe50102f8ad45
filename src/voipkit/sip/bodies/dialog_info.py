"""dialog-info documents (RFC 4235): the dialog event package's body (BLF, pickup).

Knows: ``urn:ietf:params:xml:ns:dialog-info`` — dialog-info/@version, @state
(full|partial), @entity; dialog/@id, @call-id, @local-tag, @remote-tag,
@direction; the dialog's <state> with its event and code attributes,
<duration>, and <local>/<remote> identity and target. Must not know:
subscriptions, dialogs of our own or transport. Parsing refuses DTDs and entities.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from enum import Enum

from voipkit.sip.bodies.errors import BodyError, parse_xml

DIALOG_INFO = "application/dialog-info+xml"
"The content type (RFC 4235 §4)."

NS = "urn:ietf:params:xml:ns:dialog-info"
_Q = "{" + NS + "}"


class DialogInfoState(Enum):
    """RFC 4235 §4.1.1: whether the document is the full state or a change."""

    FULL = "full"
    PARTIAL = "partial"


class DialogDirection(Enum):
    """RFC 4235 §4.1.2: who sent the dialog's initial INVITE."""

    INITIATOR = "initiator"
    RECIPIENT = "recipient"


class DialogPhase(Enum):
    """RFC 4235 §3.7.1 dialog states (the <state> element)."""

    TRYING = "trying"
    PROCEEDING = "proceeding"
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


_EVENTS = frozenset({"cancelled", "rejected", "replaced", "local-bye", "remote-bye",
                     "error", "timeout"})


@dataclass(frozen=True, slots=True)
class Participant:
    """<local> or <remote>: identity (a URI), its display name, and target URI."""

    identity: str | None = None
    display: str | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class DialogEntry:
    """One <dialog> element."""

    id: str
    "The dialog's id attribute (required, RFC 4235 §4.1.2)."

    state: DialogPhase
    "The <state> value."

    call_id: str | None = None
    local_tag: str | None = None
    remote_tag: str | None = None
    direction: DialogDirection | None = None

    event: str | None = None
    "Why the state changed (cancelled, rejected, replaced, local-bye, remote-bye, error, timeout)."

    code: int | None = None
    "The response code that caused the change (100-699)."

    duration: int | None = None
    "Seconds since the dialog was created."

    local: Participant | None = None
    remote: Participant | None = None


@dataclass(frozen=True, slots=True)
class DialogInfo:
    """A <dialog-info> document."""

    version: int
    "Increments with every document sent in a subscription (RFC 4235 §4.1)."

    state: DialogInfoState
    entity: str
    "The monitored URI."

    dialogs: tuple[DialogEntry, ...] = ()


def _participant(element: ET.Element | None) -> Participant | None:
    if element is None:
        return None
    identity = element.find(_Q + "identity")
    target = element.find(_Q + "target")
    return Participant(
        identity=(identity.text or "").strip() if identity is not None else None,
        display=identity.get("display") if identity is not None else None,
        target=target.get("uri") if target is not None else None)


def _parse_dialog(element: ET.Element) -> DialogEntry:
    dialog_id = element.get("id")
    if not dialog_id:
        raise BodyError("dialog-info <dialog> has no id attribute (RFC 4235 §4.1.2)")
    state_element = element.find(_Q + "state")
    if state_element is None:
        raise BodyError(f"dialog {dialog_id!r} has no <state> (RFC 4235 §4.1.6)")
    raw_state = (state_element.text or "").strip()
    try:
        state = DialogPhase(raw_state)
    except ValueError:
        raise BodyError(f"dialog {dialog_id!r} has state {raw_state!r}; RFC 4235 §4.1.6 allows"
                        " trying, proceeding, early, confirmed or terminated") from None
    event = state_element.get("event")
    if event is not None and event not in _EVENTS:
        raise BodyError(f"dialog {dialog_id!r} has state event {event!r} (RFC 4235 §4.1.6)")
    code: int | None = None
    if (raw_code := state_element.get("code")) is not None:
        if not (raw_code.isdigit() and 100 <= int(raw_code) <= 699):
            raise BodyError(f"dialog {dialog_id!r} has state code {raw_code!r};"
                            " expected 100-699")
        code = int(raw_code)
    direction: DialogDirection | None = None
    if (raw_direction := element.get("direction")) is not None:
        try:
            direction = DialogDirection(raw_direction)
        except ValueError:
            raise BodyError(f"dialog {dialog_id!r} has direction {raw_direction!r};"
                            " expected initiator or recipient") from None
    duration: int | None = None
    if (duration_element := element.find(_Q + "duration")) is not None:
        text = (duration_element.text or "").strip()
        if not text.isdigit():
            raise BodyError(f"dialog {dialog_id!r} has duration {text!r}; expected seconds")
        duration = int(text)
    return DialogEntry(
        id=dialog_id, state=state, call_id=element.get("call-id"),
        local_tag=element.get("local-tag"), remote_tag=element.get("remote-tag"),
        direction=direction, event=event, code=code, duration=duration,
        local=_participant(element.find(_Q + "local")),
        remote=_participant(element.find(_Q + "remote")))


def parse_dialog_info(data: bytes) -> DialogInfo:
    """Parse an application/dialog-info+xml body.

    Raises:
        BodyError: unsafe or malformed XML, a wrong root, a missing or bad
            version/state/entity, a dialog without id or with a bad state.
    """
    root = parse_xml(data, "dialog-info document")
    if root.tag != _Q + "dialog-info":
        raise BodyError(f"dialog-info root element is {root.tag!r}, not {{{NS}}}dialog-info")
    version = root.get("version")
    if version is None or not version.isdigit():
        raise BodyError(f"dialog-info version {version!r} is not a non-negative integer"
                        " (RFC 4235 §4.1)")
    raw_state = root.get("state")
    try:
        state = DialogInfoState(raw_state)
    except ValueError:
        raise BodyError(f"dialog-info state {raw_state!r} is not full or partial"
                        " (RFC 4235 §4.1)") from None
    entity = root.get("entity")
    if not entity:
        raise BodyError("dialog-info has no entity attribute (RFC 4235 §4.1)")
    return DialogInfo(version=int(version), state=state, entity=entity,
                      dialogs=tuple(_parse_dialog(d) for d in root.findall(_Q + "dialog")))


def _add_participant(parent: ET.Element, tag: str, who: Participant | None) -> None:
    if who is None:
        return
    element = ET.SubElement(parent, tag)
    if who.identity is not None:
        attrs = {} if who.display is None else {"display": who.display}
        ET.SubElement(element, "identity", attrs).text = who.identity
    if who.target is not None:
        ET.SubElement(element, "target", {"uri": who.target})


def build_dialog_info(document: DialogInfo) -> bytes:
    """Serialize ``document`` as UTF-8 dialog-info with its namespace as default."""
    root = ET.Element("dialog-info", {"xmlns": NS, "version": str(document.version),
                                      "state": document.state.value,
                                      "entity": document.entity})
    for entry in document.dialogs:
        attrs = {"id": entry.id}
        for name, value in (("call-id", entry.call_id), ("local-tag", entry.local_tag),
                            ("remote-tag", entry.remote_tag)):
            if value is not None:
                attrs[name] = value
        if entry.direction is not None:
            attrs["direction"] = entry.direction.value
        dialog = ET.SubElement(root, "dialog", attrs)
        state_attrs: dict[str, str] = {}
        if entry.event is not None:
            state_attrs["event"] = entry.event
        if entry.code is not None:
            state_attrs["code"] = str(entry.code)
        ET.SubElement(dialog, "state", state_attrs).text = entry.state.value
        if entry.duration is not None:
            ET.SubElement(dialog, "duration").text = str(entry.duration)
        _add_participant(dialog, "local", entry.local)
        _add_participant(dialog, "remote", entry.remote)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
