"""The error every body parser raises, and the XML safety gate the XML bodies share.

Knows: how to refuse a body and how to hand XML to ``xml.etree`` safely. Must
not know: any particular body format or SIP state.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_DANGEROUS = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class BodyError(ValueError):
    """A body that does not follow its format; ``reason`` says precisely why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_xml(data: bytes, what: str) -> ET.Element:
    """Parse an XML body after refusing what could make expat expand entities.

    ``xml.etree`` expands internal entities, so a "billion laughs" document
    would blow up in memory. The presence bodies (RFC 3863, RFC 4235) never
    need a DTD, so any ``<!DOCTYPE`` or ``<!ENTITY`` is refused before parsing,
    as defusedxml does. The text must be UTF-8 (RFC 3863 §4.1 and RFC 4235 §4
    both require implementations to support it; we accept nothing else).

    Raises:
        BodyError: not UTF-8, a DTD or entity declaration, or not well-formed XML.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"{what} is not UTF-8 (byte {exc.start})") from None
    if (match := _DANGEROUS.search(text)) is not None:
        raise BodyError(f"{what} contains a <!{match.group(1).upper()}> declaration;"
                        " DTDs and entities are refused")
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.lstrip().startswith("<?xml"):
        # the declaration may name an encoding; the text is already decoded
        end = text.find("?>")
        if end < 0:
            raise BodyError(f"{what} has an unterminated XML declaration")
        declaration = text[:end]
        enc = re.search(r"encoding\s*=\s*[\"']([^\"']+)[\"']", declaration)
        if enc is not None and enc.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise BodyError(f"{what} declares encoding {enc.group(1)}; only UTF-8 is accepted")
        text = text[end + 2:]
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise BodyError(f"{what} is not well-formed XML: {exc}") from None
