"""Digest authentication for SIP: challenges, answers and their verification.

Knows: RFC 3261 §22 (401 -> Authorization, 407 -> Proxy-Authorization; a UAC
retries once per challenge and gives up when the same credentials are refused),
RFC 2617 and RFC 7616 (the Digest scheme: parameters, qop, nonce counts, -sess
algorithms, stale, userhash) and RFC 8760 (SHA-256 and SHA-512/256 for SIP, with
the strongest algorithm preferred). Works on header *values* (strings) only.

Must not know: the message parser, transactions, or where nonces and cnonces come
from. There is no randomness and no clock here: cnonces and nonces come from an
injected callable (e.g. ``IdSource.token``), and nonce lifetimes are checked
against the ``now`` the caller passes.

Secrets never leave this module in readable form: ``Credentials`` hides its
password and precomputed HA1 from ``repr``/``str``, and nothing here logs a
password, an HA1 or a response digest.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import KW_ONLY, dataclass, field
from enum import Enum

from voipkit.sip.errors import AuthError, UnsupportedChallengeError

__all__ = [
    "Algorithm",
    "AuthError",
    "Challenge",
    "Credentials",
    "DigestClient",
    "DigestResponse",
    "DigestServer",
    "Qop",
    "UnsupportedChallengeError",
    "Verdict",
    "Verification",
    "authorization_header_name",
    "authorize",
    "challenge_header_name",
    "choose_challenge",
    "should_retry",
]

logger = logging.getLogger(__name__)


class Algorithm(Enum):
    """Digest algorithms (RFC 7616 §6.1 registry). The value is the wire token."""

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA_256 = "SHA-256"
    SHA_256_SESS = "SHA-256-sess"
    SHA_512_256 = "SHA-512-256"
    SHA_512_256_SESS = "SHA-512-256-sess"

    @classmethod
    def from_token(cls, token: str) -> Algorithm:
        """Parse an ``algorithm`` token, case-insensitively (RFC 7616 §3.3).

        Raises:
            UnsupportedChallengeError: for an algorithm outside the table (AKAv1-MD5 ...).
        """
        found = _ALGORITHM_TOKENS.get(token.lower())
        if found is None:
            raise UnsupportedChallengeError(f"unsupported digest algorithm {token!r}")
        return found

    @property
    def session(self) -> bool:
        """True for the -sess variants, whose HA1 folds in nonce and cnonce."""
        return self.value.endswith("-sess")

    @property
    def strength(self) -> int:
        """Preference rank: SHA-512-256 > SHA-256 > MD5 (RFC 8760 §2.4, RFC 7616 §3.7)."""
        return _STRENGTH[self.value.removesuffix("-sess")]

    def hash(self, data: str | bytes) -> str:
        """The lower-case hex digest of ``data`` (strings are UTF-8 encoded)."""
        raw = data.encode() if isinstance(data, str) else data
        return hashlib.new(_HASHLIB_NAMES[self.value.removesuffix("-sess")], raw).hexdigest()


_ALGORITHM_TOKENS = {a.value.lower(): a for a in Algorithm}
_STRENGTH = {"MD5": 1, "SHA-256": 2, "SHA-512-256": 3}
_HASHLIB_NAMES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}
ALL_ALGORITHMS: frozenset[Algorithm] = frozenset(Algorithm)


class Qop(Enum):
    """Quality of protection (RFC 7616 §3.3)."""

    AUTH = "auth"
    AUTH_INT = "auth-int"  # also protects the body: H(entity-body) enters A2


def authorization_header_name(status: int) -> str:
    """The header that answers a challenge in a response with ``status``.

    RFC 3261 §22.2/§22.3: a 401 carries WWW-Authenticate and is answered with
    Authorization; a 407 carries Proxy-Authenticate and is answered with
    Proxy-Authorization.

    Raises:
        ValueError: for any other status.
    """
    if status == 401:
        return "Authorization"
    if status == 407:
        return "Proxy-Authorization"
    raise ValueError(f"status {status} carries no digest challenge (only 401 and 407 do)")


def challenge_header_name(status: int) -> str:
    """The header carrying the challenge in a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate).

    Raises:
        ValueError: for any other status.
    """
    if status == 401:
        return "WWW-Authenticate"
    if status == 407:
        return "Proxy-Authenticate"
    raise ValueError(f"status {status} carries no digest challenge (only 401 and 407 do)")


# --- the auth-param list grammar (RFC 7235 §2.1, RFC 3261 §25.1) -------------------

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
# Unquoted values are tokens in the grammar; nonces seen in the wild also carry
# '/', '=' and ':' unquoted, so accept anything up to a comma or whitespace.
_PARAM = re.compile(rf"\s*({_TOKEN})\s*=\s*({_QUOTED}|[^\s,\"]+)\s*")
_SCHEME = re.compile(rf"\s*({_TOKEN})(?=\s|,|$)\s*")
_TOKEN68 = re.compile(r"\s*([A-Za-z0-9\-._~+/]+=*)\s*(?=,|$)")
_ESCAPE = re.compile(r"\\(.)")
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(slots=True)
class _Param:
    name: str  # lower-cased
    value: str  # unquoted
    quoted: bool


@dataclass(slots=True)
class _RawChallenge:
    scheme: str
    params: list[_Param]


def _split_auth_list(value: str) -> list[_RawChallenge]:
    """Split a header value into challenges or credentials, each with its params.

    Handles the comma ambiguity of RFC 7235 §4.1: in ``Digest realm="a", nonce="b",
    Digest realm="c"`` a comma separates both parameters and challenges; an item
    that is a bare token (not ``name=value``) starts a new challenge.
    """
    result: list[_RawChallenge] = []
    pos = _skip_separators(value, 0)
    while pos < len(value):
        scheme = _SCHEME.match(value, pos)
        if scheme is None:
            raise AuthError(
                f"cannot parse {value[pos : pos + 24]!r} at offset {pos} of {value!r}: "
                "expected name=value, a quoted-string closed by '\"', or an auth scheme"
            )
        current = _RawChallenge(scheme.group(1), [])
        result.append(current)
        pos = scheme.end()
        token68 = _TOKEN68.match(value, pos)
        if token68 is not None and _PARAM.match(value, pos) is None:
            pos = token68.end()  # e.g. "Basic QWxhZGRpbjpvcGVu": opaque to us
        while pos < len(value):
            if value[pos] == ",":
                pos = _skip_separators(value, pos)
                continue
            param = _PARAM.match(value, pos)
            if param is None:
                break  # maybe the next challenge's scheme
            raw = param.group(2)
            quoted = raw.startswith('"')
            text = _ESCAPE.sub(r"\1", raw[1:-1]) if quoted else raw
            current.params.append(_Param(param.group(1).lower(), text, quoted))
            pos = param.end()
            if pos < len(value) and value[pos] != ",":
                raise AuthError(
                    f"expected ',' after parameter {param.group(1)!r} at offset {pos} of {value!r}"
                )
    if not result:
        raise AuthError("empty authentication header value")
    return result


def _skip_separators(value: str, pos: int) -> int:
    """Skip the empty list elements and whitespace that RFC 7230 §7 tolerates."""
    while pos < len(value) and value[pos] in " \t\r\n,":
        pos += 1
    return pos


def _param_map(raw: _RawChallenge) -> dict[str, _Param]:
    params: dict[str, _Param] = {}
    for param in raw.params:
        if param.name in params:
            raise AuthError(f"duplicate {param.name!r} parameter")
        params[param.name] = param
    return params


def _required(params: dict[str, _Param], name: str, what: str) -> str:
    param = params.get(name)
    if param is None:
        raise AuthError(f"{what} has no {name!r} parameter")
    return param.value


def _boolean(params: dict[str, _Param], name: str) -> bool:
    param = params.get(name)
    if param is None:
        return False
    lowered = param.value.lower()
    if lowered not in ("true", "false"):
        raise AuthError(f"{name} must be true or false, not {param.value!r}")
    return lowered == "true"


def _quote(value: str, name: str) -> str:
    """``value`` as a quoted-string (RFC 3261 §25.1), refusing CR and LF."""
    if "\r" in value or "\n" in value:
        raise AuthError(f"{name} must not contain CR or LF")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# --- challenges --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Challenge:
    """One Digest challenge from a WWW-Authenticate or Proxy-Authenticate value."""

    realm: str
    nonce: str
    algorithm: Algorithm = Algorithm.MD5
    """Absent in the header means MD5 (RFC 7616 §3.3)."""
    qop: tuple[Qop, ...] = ()
    """The supported qop values offered, in order; empty for an RFC 2069 style challenge."""
    opaque: str | None = None
    stale: bool = False
    """True: the nonce expired but the credentials were right; retry without asking the user."""
    domain: tuple[str, ...] = ()
    userhash: bool = False
    charset: str | None = None

    @classmethod
    def parse(cls, value: str) -> Challenge:
        """Parse a header value holding exactly one Digest challenge.

        Raises:
            UnsupportedChallengeError: another scheme, or an unknown algorithm or qop.
            AuthError: a malformed value, naming what is wrong.
        """
        raws = _split_auth_list(value)
        if len(raws) != 1:
            schemes = ", ".join(raw.scheme for raw in raws)
            raise AuthError(
                f"expected one challenge, found {len(raws)} ({schemes}); "
                "choose_challenge() handles several"
            )
        return cls._from_raw(raws[0])

    @classmethod
    def _from_raw(cls, raw: _RawChallenge) -> Challenge:
        if raw.scheme.lower() != "digest":
            raise UnsupportedChallengeError(f"unsupported auth scheme {raw.scheme!r}")
        params = _param_map(raw)
        realm = _required(params, "realm", "Digest challenge")
        nonce = _required(params, "nonce", "Digest challenge")
        algorithm = Algorithm.MD5
        if "algorithm" in params:
            algorithm = Algorithm.from_token(params["algorithm"].value)
        qop: tuple[Qop, ...] = ()
        if "qop" in params:
            tokens = [t.strip() for t in params["qop"].value.split(",")]
            if not all(tokens):
                raise AuthError(f"qop {params['qop'].value!r} has an empty item")
            known = {q.value: q for q in Qop}
            qop = tuple(dict.fromkeys(known[t.lower()] for t in tokens if t.lower() in known))
            if not qop:
                raise UnsupportedChallengeError(f"no supported qop in {params['qop'].value!r}")
        if algorithm.session and not qop:
            # RFC 7616 §3.4.2: the -sess A1 needs the cnonce, which is only sent with qop.
            raise AuthError(f"algorithm {algorithm.value} needs a qop parameter")
        domain = tuple(params["domain"].value.split()) if "domain" in params else ()
        charset = params["charset"].value if "charset" in params else None
        opaque = params["opaque"].value if "opaque" in params else None
        return cls(
            realm=realm,
            nonce=nonce,
            algorithm=algorithm,
            qop=qop,
            opaque=opaque,
            stale=_boolean(params, "stale"),
            domain=domain,
            userhash=_boolean(params, "userhash"),
            charset=charset,
        )

    def __str__(self) -> str:
        """The challenge as a WWW-Authenticate/Proxy-Authenticate value."""
        parts = [f"realm={_quote(self.realm, 'realm')}"]
        if self.domain:
            parts.append(f"domain={_quote(' '.join(self.domain), 'domain')}")
        parts.append(f"nonce={_quote(self.nonce, 'nonce')}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque, 'opaque')}")
        if self.stale:
            parts.append("stale=true")
        parts.append(f"algorithm={self.algorithm.value}")
        if self.qop:
            parts.append(f'qop="{",".join(q.value for q in self.qop)}"')
        if self.charset is not None:
            parts.append(f"charset={self.charset}")
        if self.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


def choose_challenge(
    values: Sequence[str],
    *,
    algorithms: Collection[Algorithm] = ALL_ALGORITHMS,
    realm: str | None = None,
) -> Challenge:
    """The strongest usable Digest challenge among a response's header values.

    Each value may hold several challenges. Other schemes (Basic, Bearer ...),
    unknown algorithms (AKAv1-MD5 ...) and malformed challenges are skipped.
    Among the rest the strongest algorithm wins (SHA-512-256 > SHA-256 > MD5,
    RFC 8760 §2.4; -sess variants rank with their base); on a tie the first
    offered wins, since servers list their preferred challenge first
    (RFC 7616 §3.7).

    Args:
        values: every WWW-Authenticate (or Proxy-Authenticate) value of one response.
        algorithms: the algorithms the caller can answer (see ``Credentials.algorithms``).
        realm: only challenges for this realm, if given.

    Raises:
        UnsupportedChallengeError: no usable challenge; the reason lists why each was skipped.
    """
    best: Challenge | None = None
    skipped: list[str] = []
    for value in values:
        try:
            raws = _split_auth_list(value)
        except AuthError as exc:
            skipped.append(exc.reason)
            continue
        for raw in raws:
            try:
                challenge = Challenge._from_raw(raw)
            except AuthError as exc:
                skipped.append(exc.reason)
                continue
            if challenge.algorithm not in algorithms:
                skipped.append(f"no credentials usable with {challenge.algorithm.value}")
            elif realm is not None and challenge.realm != realm:
                skipped.append(f"no credentials for realm {challenge.realm!r}")
            elif best is None or challenge.algorithm.strength > best.algorithm.strength:
                best = challenge
    if best is None:
        detail = "; ".join(skipped) if skipped else "no challenge values"
        raise UnsupportedChallengeError(f"no usable digest challenge ({detail})")
    return best


def should_retry(challenge: Challenge, *, previous_attempt_failed: bool) -> bool:
    """Whether to answer ``challenge`` without asking the user for new credentials.

    RFC 3261 §22.2 / RFC 7616 §3.3: a first challenge is answered. A challenge
    that follows our own answer means the answer was refused: if ``stale`` is
    true only the nonce had expired, so retry with the new nonce; otherwise the
    credentials are wrong and retrying would loop.
    """
    return challenge.stale or not previous_attempt_failed


# --- credentials and the response computation -----------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """A user's secret: a password, or a precomputed MD5 HA1.

    ``ha1`` is MD5(username ":" realm ":" password) in hex, as registrars store it;
    it only answers MD5 and MD5-sess challenges for that realm. Neither secret
    appears in ``repr`` or ``str``.
    """

    username: str
    password: str | None = field(default=None, repr=False)
    _: KW_ONLY
    ha1: str | None = field(default=None, repr=False)
    realm: str | None = None
    """If set, these credentials only answer challenges for this realm."""

    def __post_init__(self) -> None:
        if self.password is None and self.ha1 is None:
            raise ValueError("Credentials need a password or an ha1")
        if self.ha1 is not None and not (len(self.ha1) == 32 and _HEX.fullmatch(self.ha1)):
            raise ValueError("ha1 must be 32 hex digits (an MD5 digest)")

    @property
    def algorithms(self) -> frozenset[Algorithm]:
        """The algorithms these credentials can answer."""
        if self.password is not None:
            return ALL_ALGORITHMS
        return frozenset({Algorithm.MD5, Algorithm.MD5_SESS})

    def ha1_for(self, algorithm: Algorithm, realm: str) -> str:
        """H(username ":" realm ":" password) with ``algorithm``'s hash (RFC 7616 §3.4.2).

        Raises:
            AuthError: the realm is not ours, or only an MD5 HA1 is known.
        """
        if self.realm is not None and realm != self.realm:
            raise AuthError(f"credentials are for realm {self.realm!r}, not {realm!r}")
        if self.password is not None:
            return algorithm.hash(f"{self.username}:{realm}:{self.password}")
        if algorithm not in (Algorithm.MD5, Algorithm.MD5_SESS):
            raise AuthError(f"a precomputed HA1 cannot answer {algorithm.value}")
        assert self.ha1 is not None
        return self.ha1.lower()


def _choose_qop(offered: Sequence[Qop]) -> Qop | None:
    """auth over auth-int unless auth-int is all that is offered."""
    if not offered:
        return None
    return Qop.AUTH if Qop.AUTH in offered else Qop.AUTH_INT


def _response_digest(
    algorithm: Algorithm,
    *,
    ha1: str,
    nonce: str,
    cnonce: str | None,
    nc: str | None,
    qop: Qop | None,
    method: str,
    uri: str,
    body: bytes,
) -> str:
    """The ``response`` value (RFC 7616 §3.4.1-§3.4.3; RFC 2617 §3.2.2 without qop)."""
    if algorithm.session:
        ha1 = algorithm.hash(f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}"
    if qop is Qop.AUTH_INT:
        a2 = f"{a2}:{algorithm.hash(body)}"
    ha2 = algorithm.hash(a2)
    if qop is None:
        return algorithm.hash(f"{ha1}:{nonce}:{ha2}")
    return algorithm.hash(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop.value}:{ha2}")


def authorize(
    challenge: Challenge,
    credentials: Credentials,
    *,
    method: str,
    uri: str,
    body: bytes = b"",
    nc: int = 1,
    cnonce: str,
) -> str:
    """The Authorization (or Proxy-Authorization) value answering ``challenge``.

    Args:
        method: the request method (A2 uses it).
        uri: the Request-URI as sent (the ``uri`` parameter, RFC 3261 §22.4).
        body: the request body, hashed when auth-int is chosen.
        nc: the nonce count: 1 for the first request with this nonce, then 2, ...
        cnonce: the client nonce; unused when the challenge offers no qop.

    Raises:
        AuthError: the credentials cannot answer this challenge (wrong realm,
            HA1-only credentials and a non-MD5 algorithm), or a value holds CR/LF.
    """
    if not 0 < nc <= 0xFFFFFFFF:
        raise AuthError(f"nonce count {nc} is out of range")
    algorithm = challenge.algorithm
    qop = _choose_qop(challenge.qop)
    nc_text = f"{nc:08x}" if qop is not None else None
    use_cnonce = cnonce if qop is not None else None
    response = _response_digest(
        algorithm,
        ha1=credentials.ha1_for(algorithm, challenge.realm),
        nonce=challenge.nonce,
        cnonce=use_cnonce,
        nc=nc_text,
        qop=qop,
        method=method,
        uri=uri,
        body=body,
    )
    username = credentials.username
    if challenge.userhash:  # RFC 7616 §3.4.4
        username = algorithm.hash(f"{username}:{challenge.realm}")
    parts = [
        f"username={_quote(username, 'username')}",
        f"realm={_quote(challenge.realm, 'realm')}",
        f"nonce={_quote(challenge.nonce, 'nonce')}",
        f"uri={_quote(uri, 'uri')}",
        f'response="{response}"',
        f"algorithm={algorithm.value}",
    ]
    if qop is not None:
        assert use_cnonce is not None
        parts.append(f"cnonce={_quote(use_cnonce, 'cnonce')}")
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque, 'opaque')}")
    if qop is not None:
        parts.append(f"qop={qop.value}")
        parts.append(f"nc={nc_text}")
    if challenge.userhash:
        parts.append("userhash=true")
    return "Digest " + ", ".join(parts)


# --- the client side: nonce counts and retry bookkeeping ------------------------------


@dataclass(slots=True)
class _NonceUse:
    nonce: str
    cnonce: str
    count: int = 0


class DigestClient:
    """Answers challenges for one set of credentials and counts nonce uses.

    Keeps, per realm, the current nonce with its cnonce and nonce count, so that
    requests reusing a nonce send nc=00000001, 00000002, ... (RFC 7616 §3.4); a
    new nonce for the realm starts again at 1. It also remembers which realms it
    has answered without success yet, so a second non-stale challenge for the
    same realm means "wrong credentials" (``should_retry``).

    Args:
        credentials: the user's secret.
        cnonce: makes client nonces, e.g. ``IdSource.token`` (no randomness here).
    """

    def __init__(self, credentials: Credentials, *, cnonce: Callable[[], str]) -> None:
        self.credentials = credentials
        self._make_cnonce = cnonce
        self._nonces: dict[str, _NonceUse] = {}
        self._unconfirmed: set[str] = set()  # realms answered, awaiting a non-4xx
        self._last: dict[str, Challenge] = {}  # header name -> last challenge answered

    def nonce_count(self, realm: str, nonce: str) -> int:
        """How many requests have used ``nonce`` for ``realm`` so far."""
        use = self._nonces.get(realm)
        return use.count if use is not None and use.nonce == nonce else 0

    def authorize(self, challenge: Challenge, *, method: str, uri: str, body: bytes = b"") -> str:
        """The Authorization value for one request, counting the nonce use."""
        use = self._nonces.get(challenge.realm)
        if use is None or use.nonce != challenge.nonce:
            use = _NonceUse(challenge.nonce, self._make_cnonce())
            self._nonces[challenge.realm] = use
        use.count += 1
        value = authorize(
            challenge,
            self.credentials,
            method=method,
            uri=uri,
            body=body,
            nc=use.count,
            cnonce=use.cnonce,
        )
        logger.debug(
            "answering digest challenge: realm=%r algorithm=%s qop=%s nc=%08x",
            challenge.realm,
            challenge.algorithm.value,
            _choose_qop(challenge.qop),
            use.count,
        )
        return value

    def answer(
        self,
        status: int,
        challenge_values: Sequence[str],
        *,
        method: str,
        uri: str,
        body: bytes = b"",
    ) -> tuple[str, str] | None:
        """The (header name, value) to retry a request refused with 401/407, or None.

        None means: give up and report the failure, because these credentials
        already answered this realm and were refused with ``stale=false``
        (RFC 3261 §22.2), or the caller just reported success.

        Raises:
            UnsupportedChallengeError: the response holds no challenge we can answer.
        """
        name = authorization_header_name(status)
        challenge = choose_challenge(
            challenge_values,
            algorithms=self.credentials.algorithms,
            realm=self.credentials.realm,
        )
        previous_failed = challenge.realm in self._unconfirmed
        if not should_retry(challenge, previous_attempt_failed=previous_failed):
            logger.debug("digest credentials refused for realm %r; not retrying", challenge.realm)
            self._unconfirmed.discard(challenge.realm)
            return None
        self._unconfirmed.add(challenge.realm)
        self._last[name] = challenge
        return name, self.authorize(challenge, method=method, uri=uri, body=body)

    def reauthorize(self, *, method: str, uri: str, body: bytes = b"") -> list[tuple[str, str]]:
        """Headers answering the last challenges again, for a new request (nc increments).

        Lets a registration refresh or a later request in the same dialog carry
        credentials up front instead of collecting a fresh 401/407 first.
        """
        return [
            (name, self.authorize(challenge, method=method, uri=uri, body=body))
            for name, challenge in self._last.items()
        ]

    def accepted(self) -> None:
        """Record that the last authorized request was not refused (not a 401/407)."""
        self._unconfirmed.clear()


# --- the server side -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestResponse:
    """The parameters of one Digest Authorization/Proxy-Authorization value."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: Algorithm = Algorithm.MD5
    cnonce: str | None = None
    opaque: str | None = None
    qop: Qop | None = None
    nc: int | None = None
    userhash: bool = False

    @classmethod
    def parse(cls, value: str) -> DigestResponse:
        """Parse an Authorization value holding one set of Digest credentials.

        Raises:
            UnsupportedChallengeError: another scheme or an unknown algorithm/qop.
            AuthError: a malformed value, naming what is wrong.
        """
        raws = _split_auth_list(value)
        if len(raws) != 1:
            raise AuthError(f"header value holds {len(raws)} credentials, not one")
        raw = raws[0]
        if raw.scheme.lower() != "digest":
            raise UnsupportedChallengeError(f"unsupported auth scheme {raw.scheme!r}")
        params = _param_map(raw)
        what = "Digest credentials"
        response = _required(params, "response", what)
        if not _HEX.fullmatch(response):
            raise AuthError(f"response {response!r} is not hexadecimal")
        algorithm = Algorithm.MD5
        if "algorithm" in params:
            algorithm = Algorithm.from_token(params["algorithm"].value)
        qop: Qop | None = None
        cnonce: str | None = None
        nc: int | None = None
        if "qop" in params:
            token = params["qop"].value.lower()
            if token not in ("auth", "auth-int"):
                raise UnsupportedChallengeError(f"unsupported qop {params['qop'].value!r}")
            qop = Qop(token)
            cnonce = _required(params, "cnonce", f"{what} with qop")
            nc_text = _required(params, "nc", f"{what} with qop")
            if len(nc_text) != 8 or not _HEX.fullmatch(nc_text):
                raise AuthError(f"nc {nc_text!r} is not 8 hex digits")
            nc = int(nc_text, 16)
        return cls(
            username=_required(params, "username", what),
            realm=_required(params, "realm", what),
            nonce=_required(params, "nonce", what),
            uri=_required(params, "uri", what),
            response=response.lower(),
            algorithm=algorithm,
            cnonce=cnonce,
            opaque=params["opaque"].value if "opaque" in params else None,
            qop=qop,
            nc=nc,
            userhash=_boolean(params, "userhash"),
        )


class Verdict(Enum):
    """What a server should do with a request's Digest credentials."""

    ACCEPTED = "accepted"
    STALE = "stale"  # the digest is right but the nonce is not: challenge with stale=true
    REJECTED = "rejected"  # wrong or malformed credentials: challenge again or 403


@dataclass(frozen=True, slots=True)
class Verification:
    verdict: Verdict
    reason: str

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.ACCEPTED


@dataclass(slots=True)
class _IssuedNonce:
    issued: float
    last_nc: int = 0


class DigestServer:
    """Issues Digest challenges for one realm and verifies the answers.

    Used by tests and by the in-process registrar. Nonces come from an injected
    callable and expire ``nonce_lifetime`` seconds after issue, measured with the
    ``now`` the caller passes. With qop, each nonce count must be greater than
    the last one accepted for that nonce (RFC 7616 §3.4: "the server can detect
    request replays by maintaining its own copy of this count").

    Args:
        realm: the protection space (RFC 3261 §22.1).
        nonce: makes server nonces, e.g. ``IdSource.token``.
        algorithms: offered algorithms, one challenge each, preferred first.
        qop: offered qop values; empty for RFC 2069 style challenges.
        opaque: an opaque value the client must echo, or None.
        nonce_lifetime: seconds a nonce stays valid.
    """

    def __init__(
        self,
        *,
        realm: str,
        nonce: Callable[[], str],
        algorithms: Sequence[Algorithm] = (Algorithm.MD5,),
        qop: Sequence[Qop] = (Qop.AUTH,),
        opaque: str | None = None,
        nonce_lifetime: float = 300.0,
    ) -> None:
        if not algorithms:
            raise ValueError("a DigestServer needs at least one algorithm")
        if not qop and any(a.session for a in algorithms):
            raise ValueError("-sess algorithms need a qop")
        self.realm = realm
        self.algorithms = tuple(algorithms)
        self.qop = tuple(qop)
        self.opaque = opaque
        self.nonce_lifetime = nonce_lifetime
        self._make_nonce = nonce
        self._nonces: dict[str, _IssuedNonce] = {}

    def challenges(self, *, now: float, stale: bool = False) -> list[Challenge]:
        """Fresh challenges (one nonce, one per algorithm) for a 401/407.

        Put each one, as ``str(challenge)``, in its own WWW-Authenticate value.
        """
        self._expire(now)
        nonce = self._make_nonce()
        self._nonces[nonce] = _IssuedNonce(issued=now)
        return [
            Challenge(
                realm=self.realm,
                nonce=nonce,
                algorithm=algorithm,
                qop=self.qop,
                opaque=self.opaque,
                stale=stale,
            )
            for algorithm in self.algorithms
        ]

    def _expire(self, now: float) -> None:
        dead = [n for n, r in self._nonces.items() if now - r.issued >= self.nonce_lifetime]
        for nonce in dead:
            del self._nonces[nonce]

    def verify(
        self,
        authorization: str | DigestResponse,
        credentials: Credentials,
        *,
        method: str,
        now: float,
        body: bytes = b"",
        request_uri: str | None = None,
    ) -> Verification:
        """Check a request's credentials against the user's secret.

        Args:
            authorization: the Authorization value, or its parsed form (parse it
                first to look the user up by ``username``).
            credentials: the user's stored password or HA1.
            method: the request method.
            now: the current time, for nonce expiry.
            body: the request body (for auth-int).
            request_uri: if given, the ``uri`` parameter must equal it
                (RFC 7616 §3.4.6).
        """
        self._expire(now)
        try:
            answer = (
                authorization
                if isinstance(authorization, DigestResponse)
                else DigestResponse.parse(authorization)
            )
        except AuthError as exc:
            return Verification(Verdict.REJECTED, f"malformed credentials: {exc.reason}")
        problem = self._check_parameters(answer, credentials, request_uri)
        if problem is not None:
            return Verification(Verdict.REJECTED, problem)
        try:
            ha1 = credentials.ha1_for(answer.algorithm, answer.realm)
        except AuthError as exc:
            return Verification(Verdict.REJECTED, exc.reason)
        expected = _response_digest(
            answer.algorithm,
            ha1=ha1,
            nonce=answer.nonce,
            cnonce=answer.cnonce,
            nc=None if answer.nc is None else f"{answer.nc:08x}",
            qop=answer.qop,
            method=method,
            uri=answer.uri,
            body=body,
        )
        if not hmac.compare_digest(expected, answer.response):
            return Verification(Verdict.REJECTED, "wrong response digest (wrong password?)")
        # The digest is right: from here on a problem is the nonce's, not the user's.
        issued = self._nonces.get(answer.nonce)
        if issued is None:
            return Verification(Verdict.STALE, "unknown or expired nonce")
        if answer.nc is not None:
            if answer.nc <= issued.last_nc:
                return Verification(
                    Verdict.STALE,
                    f"nonce count {answer.nc:08x} not above {issued.last_nc:08x} (replay?)",
                )
            issued.last_nc = answer.nc
        return Verification(Verdict.ACCEPTED, "ok")

    def _check_parameters(
        self, answer: DigestResponse, credentials: Credentials, request_uri: str | None
    ) -> str | None:
        if answer.realm != self.realm:
            return f"realm {answer.realm!r} is not {self.realm!r}"
        if answer.algorithm not in self.algorithms:
            return f"algorithm {answer.algorithm.value} was not offered"
        if self.qop and answer.qop is None:
            return "qop missing although it was offered"
        if answer.qop is not None and answer.qop not in self.qop:
            return f"qop {answer.qop.value} was not offered"
        if answer.opaque != self.opaque:
            return "opaque does not match"
        expected_user = credentials.username
        if answer.userhash:
            expected_user = answer.algorithm.hash(f"{expected_user}:{self.realm}")
        if answer.username != expected_user:
            return f"username {answer.username!r} does not match"
        if request_uri is not None and answer.uri != request_uri:
            return f"uri {answer.uri!r} is not the Request-URI {request_uri!r}"
        return None
