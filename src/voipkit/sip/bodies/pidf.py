"""PIDF presence documents (RFC 3863): presentity, tuples with basic status, notes.

Knows: the ``urn:ietf:params:xml:ns:pidf`` elements a softphone reads and
writes (presence/@entity, tuple/@id, status/basic open|closed, contact with
priority, note with xml:lang, timestamp). Elements from other namespaces
(RPID and friends) are skipped, as RFC 3863 §4.1.5 allows. Must not know:
subscriptions, dialogs or transport. Parsing refuses DTDs and entities.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from enum import Enum

from voipkit.sip.bodies.errors import BodyError, parse_xml

PIDF = "application/pidf+xml"
"The content type (RFC 3863 §4)."

NS = "urn:ietf:params:xml:ns:pidf"
_Q = "{" + NS + "}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class Basic(Enum):
    """RFC 3863 §4.1.4: the basic status of a tuple."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PidfTuple:
    """One ``<tuple>``: a communication means and its status."""

    id: str
    "The tuple's id (an XML ID, unique in the document)."

    basic: Basic | None
    "open or closed; None when the status carries only extension elements."

    contact: str | None = None
    "The contact URI of this tuple."

    priority: float | None = None
    "The contact's priority (0 to 1)."

    notes: tuple[str, ...] = ()
    "The tuple's notes (the first is what softphones show)."

    timestamp: str | None = None
    "The tuple's timestamp, as written."


@dataclass(frozen=True, slots=True)
class Pidf:
    """A ``<presence>`` document."""

    entity: str
    "The presentity URI (pres: or sip:)."

    tuples: tuple[PidfTuple, ...] = ()
    "The tuples in document order."

    notes: tuple[str, ...] = ()
    "Notes on the presence element itself."

    @property
    def online(self) -> bool:
        """True when any tuple is open (onPresenceOnline vs onPresenceOffline)."""
        return any(t.basic is Basic.OPEN for t in self.tuples)

    @property
    def note(self) -> str | None:
        """The first note, tuple notes first (the vendor's statusText)."""
        for t in self.tuples:
            if t.notes:
                return t.notes[0]
        return self.notes[0] if self.notes else None


def _text(element: ET.Element) -> str:
    return (element.text or "").strip()


def _parse_tuple(element: ET.Element) -> PidfTuple:
    tuple_id = element.get("id")
    if not tuple_id:
        raise BodyError("PIDF <tuple> has no id attribute (RFC 3863 §4.1.2)")
    status = element.find(_Q + "status")
    if status is None:
        raise BodyError(f"PIDF tuple {tuple_id!r} has no <status> (RFC 3863 §4.1.3)")
    basic: Basic | None = None
    basic_element = status.find(_Q + "basic")
    if basic_element is not None:
        value = _text(basic_element)
        try:
            basic = Basic(value)
        except ValueError:
            raise BodyError(f"PIDF tuple {tuple_id!r} has basic status {value!r};"
                            " RFC 3863 §4.1.4 allows open or closed") from None
    contact: str | None = None
    priority: float | None = None
    contact_element = element.find(_Q + "contact")
    if contact_element is not None:
        contact = _text(contact_element)
        if (raw := contact_element.get("priority")) is not None:
            try:
                priority = float(raw)
            except ValueError:
                priority = -1.0
            if not 0.0 <= priority <= 1.0:
                raise BodyError(f"PIDF contact priority {raw!r} is not a number"
                                " from 0 to 1 (RFC 3863 §4.1.5)")
    timestamp_element = element.find(_Q + "timestamp")
    return PidfTuple(
        id=tuple_id, basic=basic, contact=contact, priority=priority,
        notes=tuple(_text(n) for n in element.findall(_Q + "note")),
        timestamp=_text(timestamp_element) if timestamp_element is not None else None)


def parse_pidf(data: bytes) -> Pidf:
    """Parse an application/pidf+xml body.

    Raises:
        BodyError: unsafe or malformed XML, a root other than pidf ``<presence>``,
            no entity, a tuple without id or status, a bad basic value, duplicate ids.
    """
    root = parse_xml(data, "PIDF document")
    if root.tag != _Q + "presence":
        raise BodyError(f"PIDF root element is {root.tag!r}, not {{{NS}}}presence"
                        " (RFC 3863 §4.1)")
    entity = root.get("entity")
    if not entity:
        raise BodyError("PIDF <presence> has no entity attribute (RFC 3863 §4.1.1)")
    tuples = tuple(_parse_tuple(t) for t in root.findall(_Q + "tuple"))
    ids = [t.id for t in tuples]
    if len(set(ids)) != len(ids):
        raise BodyError("PIDF tuple ids are not unique (RFC 3863 §4.1.2)")
    return Pidf(entity=entity, tuples=tuples,
                notes=tuple(_text(n) for n in root.findall(_Q + "note")))


def build_pidf(document: Pidf) -> bytes:
    """Serialize ``document`` as UTF-8 PIDF with the pidf namespace as default."""
    root = ET.Element("presence", {"xmlns": NS, "entity": document.entity})
    for item in document.tuples:
        tuple_element = ET.SubElement(root, "tuple", {"id": item.id})
        status = ET.SubElement(tuple_element, "status")
        if item.basic is not None:
            ET.SubElement(status, "basic").text = item.basic.value
        if item.contact is not None:
            attrs = {} if item.priority is None else {"priority": f"{item.priority:g}"}
            ET.SubElement(tuple_element, "contact", attrs).text = item.contact
        for note in item.notes:
            ET.SubElement(tuple_element, "note").text = note
        if item.timestamp is not None:
            ET.SubElement(tuple_element, "timestamp").text = item.timestamp
    for note in document.notes:
        ET.SubElement(root, "note").text = note
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
