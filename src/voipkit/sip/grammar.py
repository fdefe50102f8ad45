"""RFC 3261 §25 ABNF pieces, as character classes and precompiled regular expressions.

Knows: the SIP grammar (RFC 3261 §25.1, with the RFC 3966 tel URI and RFC 5118 IPv6
references), written once here so every parser shares the same definitions. Must not know:
message objects; the modules that build values from these matches live in ``uri``,
``headers`` and ``message``.

Patterns carry explicit ``re.Pattern[str]`` types: mypyc (setup.py) type-checks this
module inside the ``voipkit.sip`` import cycle, where inferred types are not yet known.

Every pattern is meant for ``fullmatch`` (or ``match`` at a position) on text that has
already been unfolded (RFC 3261 §7.3.1: CRLF followed by whitespace is one SP).
"""

from __future__ import annotations

import re
from typing import Final

#: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS: Final = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN: Final = f"[{TOKEN_CHARS}]+"
#: word (Call-ID) adds ( ) < > : \ " / [ ] ? { }
WORD_CHARS: Final = TOKEN_CHARS + r"()<>:\\\"/\[\]?{}"
#: unreserved = alphanum / mark ; mark = - _ . ! ~ * ' ( )
UNRESERVED: Final = r"A-Za-z0-9\-_.!~*'()"
ESCAPED: Final = r"%[0-9A-Fa-f]{2}"
#: LWS after unfolding: spaces and tabs only.
SWS: Final = r"[ \t]*"

#: quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE. Raw CR/LF never appear.
QUOTED_STRING: Final = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'

#: hostname / IPv4address, checked for their characters only (labels are not checked).
#: Possessive (``++``): what follows a host (":", ";", "?", ">", blanks or the end) is
#: never in its class, so giving characters back could never help a match, and without
#: backtracking points the re engine runs these about twice as fast.
HOSTNAME: Final = r"[A-Za-z0-9\-.]++"
IPV6_REFERENCE: Final = r"\[[0-9A-Fa-f:.]++\]"
HOST: Final = f"(?:{HOSTNAME}|{IPV6_REFERENCE})"

# The classes below include "%"; BAD_ESCAPE then checks that every "%" starts an escape
# (one scan instead of an alternation per character, which Python's re runs slowly).
# user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
# Possessive (``++``, ``*+``, Python 3.11): neither class holds ":" or "@", the characters
# that must follow, so giving back characters could never help a match. Without it a URI
# with no user part (``sip:proxy.example.com;lr``) backtracks over its whole length.
_USER = f"[{UNRESERVED}&=+$,;?/%]++"
# password = *( unreserved / escaped / & = + $ , )
_PASSWORD = f"[{UNRESERVED}&=+$,%]*+"
# paramchar = param-unreserved / unreserved / escaped ; param-unreserved = [ ] / : & + $
_PARAMCHAR = f"[{UNRESERVED}\\[\\]/:&+$%]"
# hnv-unreserved = [ ] / ? : + $
_HNVCHAR = f"[{UNRESERVED}\\[\\]/?:+$%]"

#: SIP-URI / SIPS-URI (RFC 3261 §19.1.1, §25.1), after the scheme and its colon.
SIP_URI_REST: Final[re.Pattern[str]] = re.compile(
    f"(?:(?P<user>{_USER})(?::(?P<password>{_PASSWORD}))?@)?"
    f"(?P<host>{HOST})(?::(?P<port>\\d{{1,5}}))?"
    # ";" name [ "=" value ]; written without a nested optional group (which the re engine
    # runs as a repeat with saved marks): a name never holds "=", so "=?+" then the value
    # class accepts exactly the same text.
    f"(?P<params>(?:;{_PARAMCHAR}++=?+{_PARAMCHAR}*+)*+)"
    f"(?:\\?(?P<headers>{_HNVCHAR}*={_HNVCHAR}*(?:&{_HNVCHAR}*={_HNVCHAR}*)*))?"
)
#: A "%" that does not start an escaped octet (RFC 3261 §25.1 escaped = "%" HEXDIG HEXDIG).
BAD_ESCAPE: Final[re.Pattern[str]] = re.compile(r"%(?![0-9A-Fa-f]{2})")

#: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
SCHEME: Final[re.Pattern[str]] = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")
#: absoluteURI (RFC 2396 as cited by RFC 3261 §25.1): scheme ":" then uric characters.
ABSOLUTE_URI_REST: Final[re.Pattern[str]] = re.compile(r"[A-Za-z0-9\-_.!~*'()%;/?:@&=+$,\[\]#]+")

#: telephone-subscriber (RFC 3966 §3): global or local number, then ;params.
TEL_URI_REST: Final[re.Pattern[str]] = re.compile(
    r"(?P<number>\+[0-9\-.()]*[0-9][0-9\-.()]*|[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*)"
    f"(?P<params>(?:;[{UNRESERVED}\\[\\]/:&+$%=]+)*)"
)

METHOD: Final[re.Pattern[str]] = re.compile(TOKEN)
HEADER_NAME: Final[re.Pattern[str]] = re.compile(TOKEN)
CALL_ID: Final[re.Pattern[str]] = re.compile(f"[{WORD_CHARS}]+(?:@[{WORD_CHARS}]+)?")
#: SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT ("SIP" is case-insensitive in ABNF).
SIP_VERSION: Final[re.Pattern[str]] = re.compile(r"[Ss][Ii][Pp]/(\d+)\.(\d+)")
STATUS_CODE: Final[re.Pattern[str]] = re.compile(r"[1-6]\d\d")
DIGITS: Final[re.Pattern[str]] = re.compile(r"\d+")

#: CSeq = 1*DIGIT LWS Method
CSEQ: Final[re.Pattern[str]] = re.compile(f"(\\d+)[ \\t]+({TOKEN})")

#: One generic-param after its ";": name [ EQUAL ( token / host / quoted-string ) ].
#: IPv6address is allowed bare in Via received/maddr (RFC 3261 §20.42, RFC 5118 §4.5).
_GEN_VALUE = f"(?:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*|{TOKEN}|{IPV6_REFERENCE}|{QUOTED_STRING})"
PARAM_LIST: Final[re.Pattern[str]] = re.compile(
    f"(?:{SWS};{SWS}{TOKEN}(?:{SWS}={SWS}{_GEN_VALUE})?)*{SWS}"
)
PARAM_ITEM: Final[re.Pattern[str]] = re.compile(f";{SWS}({TOKEN})(?:{SWS}={SWS}({_GEN_VALUE}))?")

#: The common case of PARAM_LIST: no whitespace, no quoted values (checked first, faster).
#: Like the fast patterns below it also takes an empty value; see ``simple_params_ok``.
SIMPLE_PARAMS: Final[re.Pattern[str]] = re.compile(
    f"(?:;[{TOKEN_CHARS}]++=?+[{TOKEN_CHARS}]*+)++")


def simple_params_ok(params: str) -> bool:
    """True unless a parameter matched by a simple-params pattern has an empty value.

    The patterns accept ``;name=`` (cheaper than a nested group); RFC 3261 §25.1
    generic-param needs a value after "=", so ``=;`` or a final ``=`` sends the text to
    the general patterns, which reject it.
    """
    return "=;" not in params and params[-1:] != "="

#: via-parm = sent-protocol LWS sent-by *( SEMI via-params )
VIA: Final[re.Pattern[str]] = re.compile(
    f"{SWS}({TOKEN}){SWS}/{SWS}({TOKEN}){SWS}/{SWS}({TOKEN})[ \\t]+"
    f"({HOST})(?:{SWS}:{SWS}(\\d{{1,5}}))?"
    f"((?:{SWS};{SWS}{TOKEN}(?:{SWS}={SWS}{_GEN_VALUE})?)*){SWS}"
)

#: name-addr = [ display-name ] LAQUOT addr-spec RAQUOT, then *( SEMI generic-param ).
#: A token display name directly followed by "<" is accepted (RFC 4475 §3.1.1.6).
NAME_ADDR: Final[re.Pattern[str]] = re.compile(
    f'{SWS}(?:"(?P<quoted>(?:[^"\\\\\\r\\n]|\\\\[^\\r\\n])*)"{SWS}'
    f"|(?P<token>{TOKEN}(?:[ \\t]+{TOKEN})*){SWS})?"
    f"<(?P<uri>[^<>\\s]+)>(?P<params>.*)",
    re.S,
)
#: addr-spec without angle brackets: the URI ends at the first ";" (RFC 3261 §20.10).
ADDR_SPEC: Final[re.Pattern[str]] = re.compile(f"{SWS}(?P<uri>[^;<>\"\\s,?]+)(?P<params>.*)", re.S)

#: m-type "/" m-subtype *( SEMI m-parameter )
MEDIA_TYPE: Final[re.Pattern[str]] = re.compile(f"{TOKEN}{SWS}/{SWS}{TOKEN}(?:{SWS};.*)?", re.S)

#: Splits one comma-separated list element off a header value, honouring quoted strings
#: and angle brackets (RFC 3261 §7.3.1).
LIST_ELEMENT: Final[re.Pattern[str]] = re.compile(f'(?:[^,"<]|{QUOTED_STRING}|<[^>]*>)*')

#: Line folding (RFC 3261 §7.3.1): CRLF followed by whitespace becomes one SP.
FOLD: Final[re.Pattern[str]] = re.compile(r"\r\n[ \t]+")

#: Characters that must be backslash-escaped inside a quoted-string.
QUOTE_NEEDED: Final[re.Pattern[str]] = re.compile(r'["\\\x00-\x09\x0b\x0c\x0e-\x1f\x7f]')

# Fast paths: the common shapes of the routing headers, each matched by one regex that both
# validates and captures. Anything they reject goes through the general patterns above, so
# they only decide speed, never what is accepted. Their repeats are possessive for the
# reason given at HOSTNAME: a token never holds ";", "=", ">", blanks or the end.
_TOKEN_P = f"[{TOKEN_CHARS}]++"
#: ``*( ";" token [ "=" token ] )`` with a flat body, as in SIP_URI_REST: it also takes an
#: empty value (``;a=``), so every user checks ``simple_params_ok`` after a match.
_SIMPLE_PARAMS_P = f"(?:;{_TOKEN_P}=?+[{TOKEN_CHARS}]*+)*+"

#: via-parm for "SIP/2.0/transport host[:port]" and simple token parameters.
VIA_FAST: Final[re.Pattern[str]] = re.compile(
    f"SIP/2\\.0/({_TOKEN_P}) ({HOST})(?::(\\d{{1,5}}))?({_SIMPLE_PARAMS_P})"
)

#: The rest of a name-addr after ``<sip:`` or ``<sips:``: the URI (the groups of
#: SIP_URI_REST), ">" and simple token parameters. ``headers.NameAddr.parse`` reads the
#: display name and the scheme itself (a ``find`` and a few slices cost less than letting
#: the regex try its alternatives) and matches this from the position after the colon.
NAME_ADDR_TAIL: Final[re.Pattern[str]] = re.compile(
    f"{SIP_URI_REST.pattern}>(?P<hparams>{_SIMPLE_PARAMS_P})"
)

#: A display name of tokens (``Bob``, ``Bob Smith``) up to the "<", blanks after it allowed.
DISPLAY_TOKENS: Final[re.Pattern[str]] = re.compile(f"{_TOKEN_P}(?:[ \\t]++{_TOKEN_P})*+[ \\t]*+")
