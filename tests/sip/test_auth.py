"""Digest authentication: challenge parsing, answers, nonce counts, verification.

Proves: the published examples (RFC 2617 §3.5; RFC 7616 §3.9.1 with MD5 and
SHA-256) give the RFCs' response values and header layout (qop, algorithm and nc
unquoted); MD5-sess, auth-int and SHA-512-256 match the RFC 7616 §3.4 formulas
written out independently here with hashlib; the nonce count goes 00000001,
00000002 ... per (realm, nonce); the strongest usable challenge wins and other
schemes/algorithms are skipped; malformed challenges raise AuthError naming the
problem; stale/wrong-password retry rules (RFC 3261 §22.2); a DigestClient and a
DigestServer agree for every algorithm x qop, and the server rejects wrong
passwords, replays, expired nonces and tampered bodies; secrets never show up in
repr, str or DEBUG logs.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re

import pytest

from voipkit.base.ids import SequentialIds
from voipkit.sip.auth import (
    Algorithm,
    AuthError,
    Challenge,
    Credentials,
    DigestClient,
    DigestResponse,
    DigestServer,
    Qop,
    UnsupportedChallengeError,
    Verdict,
    Verification,
    authorization_header_name,
    authorize,
    challenge_header_name,
    choose_challenge,
    should_retry,
)

# RFC 2617 §3.5
RFC2617_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC2617_USER = Credentials("Mufasa", "Circle Of Life")

# RFC 7616 §3.9.1
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_CHALLENGES = [
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
    f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"',
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
    f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"',
]
RFC7616_USER = Credentials("Mufasa", "Circle of Life")


def h(name: str, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.new(name, data).hexdigest()


def param(value: str, name: str) -> str:
    match = re.search(rf'(?:^|[ ,]){name}=("[^"]*"|[^,\s]+)', value)
    assert match is not None, f"{name} not in {value}"
    return match.group(1)


# --- the published examples ----------------------------------------------------------


def test_rfc2617_example() -> None:
    challenge = Challenge.parse(RFC2617_CHALLENGE)
    value = authorize(
        challenge, RFC2617_USER, method="GET", uri="/dir/index.html", nc=1, cnonce="0a4f113b"
    )
    assert value == (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
        'response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001'
    )


def test_rfc7616_sha256_example_is_chosen_and_answered() -> None:
    challenge = choose_challenge(RFC7616_CHALLENGES)
    assert challenge.algorithm is Algorithm.SHA_256
    value = authorize(
        challenge, RFC7616_USER, method="GET", uri="/dir/index.html", nc=1, cnonce=RFC7616_CNONCE
    )
    assert param(value, "response") == (
        '"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"'
    )
    assert param(value, "algorithm") == "SHA-256"
    assert param(value, "qop") == "auth"
    assert param(value, "nc") == "00000001"
    assert param(value, "opaque") == f'"{RFC7616_OPAQUE}"'
    assert param(value, "cnonce") == f'"{RFC7616_CNONCE}"'


def test_rfc7616_md5_example() -> None:
    challenge = Challenge.parse(RFC7616_CHALLENGES[1])
    value = authorize(
        challenge, RFC7616_USER, method="GET", uri="/dir/index.html", nc=1, cnonce=RFC7616_CNONCE
    )
    assert param(value, "response") == '"8ca523f5e9506fed4657c9700eebdbec"'


def test_rfc7616_authorization_example_verifies_on_the_server() -> None:
    # The RFC's Authorization header, laid out over several lines as printed there.
    value = """Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=SHA-256,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""""
    server = DigestServer(
        realm="http-auth@example.org",
        nonce=lambda: RFC7616_NONCE,
        algorithms=[Algorithm.SHA_256, Algorithm.MD5],
        qop=[Qop.AUTH, Qop.AUTH_INT],
        opaque=RFC7616_OPAQUE,
    )
    server.challenges(now=0.0)
    result = server.verify(
        value, RFC7616_USER, method="GET", now=1.0, request_uri="/dir/index.html"
    )
    assert result.verdict is Verdict.ACCEPTED, result.reason
    wrong = server.verify(value, Credentials("Mufasa", "Circle Of Life"), method="GET", now=1.0)
    assert wrong.verdict is Verdict.REJECTED


# --- algorithms and qop, against the formulas written out --------------------------


def test_md5_sess_with_auth_int() -> None:
    challenge = Challenge.parse(
        'Digest realm="biloxi.com", nonce="n0nce", qop="auth-int", algorithm=MD5-sess'
    )
    body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
    value = authorize(
        challenge,
        Credentials("bob", "zanzibar"),
        method="INVITE",
        uri="sip:bob@biloxi.com",
        body=body,
        nc=1,
        cnonce="c0ffee",
    )
    ha1 = h("md5", f"{h('md5', 'bob:biloxi.com:zanzibar')}:n0nce:c0ffee")
    ha2 = h("md5", f"INVITE:sip:bob@biloxi.com:{h('md5', body)}")
    expected = h("md5", f"{ha1}:n0nce:00000001:c0ffee:auth-int:{ha2}")
    assert param(value, "response") == f'"{expected}"'
    assert param(value, "algorithm") == "MD5-sess"
    assert param(value, "qop") == "auth-int"


def test_sha512_256_with_auth() -> None:
    challenge = Challenge.parse(
        'Digest realm="api@example.org", nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        "qop=auth, algorithm=SHA-512-256"
    )
    value = authorize(
        challenge,
        Credentials("alice", "Secret, or not?"),
        method="REGISTER",
        uri="sip:example.org",
        nc=1,
        cnonce="NTg6RKcb",
    )
    ha1 = h("sha512_256", "alice:api@example.org:Secret, or not?")
    ha2 = h("sha512_256", "REGISTER:sip:example.org")
    expected = h(
        "sha512_256",
        f"{ha1}:5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK:00000001:NTg6RKcb:auth:{ha2}",
    )
    assert param(value, "response") == f'"{expected}"'
    assert len(expected) == 64


def test_auth_is_preferred_over_auth_int_unless_alone() -> None:
    creds = Credentials("u", "p")
    both = Challenge(realm="r", nonce="n", qop=(Qop.AUTH_INT, Qop.AUTH))
    only_int = Challenge(realm="r", nonce="n", qop=(Qop.AUTH_INT,))
    assert param(authorize(both, creds, method="M", uri="u", cnonce="c"), "qop") == "auth"
    assert param(authorize(only_int, creds, method="M", uri="u", cnonce="c"), "qop") == "auth-int"


def test_challenge_without_qop_gets_an_rfc2069_answer() -> None:
    challenge = Challenge.parse('Digest realm="r", nonce="abc"')
    value = authorize(challenge, Credentials("u", "p"), method="BYE", uri="sip:x", cnonce="c")
    expected = h("md5", f"{h('md5', 'u:r:p')}:abc:{h('md5', 'BYE:sip:x')}")
    assert param(value, "response") == f'"{expected}"'
    for absent in ("cnonce=", "nc=", "qop="):
        assert absent not in value


def test_precomputed_ha1_gives_the_same_answer_as_the_password() -> None:
    challenge = Challenge.parse(RFC2617_CHALLENGE)
    ha1 = h("md5", "Mufasa:testrealm@host.com:Circle Of Life")
    with_ha1 = Credentials("Mufasa", ha1=ha1.upper(), realm="testrealm@host.com")

    def answer(credentials: Credentials) -> str:
        return authorize(
            challenge, credentials, method="GET", uri="/dir/index.html", nc=1, cnonce="0a4f113b"
        )

    assert answer(with_ha1) == answer(RFC2617_USER)
    sha = Challenge(realm="testrealm@host.com", nonce="n", algorithm=Algorithm.SHA_256)
    with pytest.raises(AuthError, match="precomputed HA1 cannot answer SHA-256"):
        authorize(sha, with_ha1, method="GET", uri="/", cnonce="c")


def test_userhash_replaces_the_username() -> None:
    challenge = Challenge.parse(
        'Digest realm="api@example.org", nonce="n", qop="auth", algorithm=SHA-256, userhash=true'
    )
    name = "J\u00e4s\u00f8n Doe"
    value = authorize(challenge, Credentials(name, "pw"), method="GET", uri="/", cnonce="c")
    assert param(value, "username") == f'"{h("sha256", name + ":api@example.org")}"'
    assert param(value, "userhash") == "true"


def test_values_with_quotes_and_backslashes_are_escaped_and_crlf_refused() -> None:
    challenge = Challenge(realm='say "hi"\\', nonce="n")
    value = authorize(challenge, Credentials("u", "p"), method="M", uri="u", cnonce="c")
    assert 'realm="say \\"hi\\"\\\\"' in value
    assert DigestResponse.parse(value).realm == 'say "hi"\\'
    with pytest.raises(AuthError, match="username must not contain CR or LF"):
        authorize(challenge, Credentials("u\r\nX-Evil: 1", "p"), method="M", uri="u", cnonce="c")


# --- nonce counts --------------------------------------------------------------------------


def test_nonce_count_increments_per_realm_and_nonce() -> None:
    client = DigestClient(Credentials("u", "p"), cnonce=SequentialIds("c").token)
    first = Challenge(realm="r", nonce="n1", qop=(Qop.AUTH,))
    values = [client.authorize(first, method="REGISTER", uri="sip:r") for _ in range(3)]
    assert [param(v, "nc") for v in values] == ["00000001", "00000002", "00000003"]
    assert len({param(v, "cnonce") for v in values}) == 1
    assert client.nonce_count("r", "n1") == 3

    other_realm = Challenge(realm="proxy", nonce="n1", qop=(Qop.AUTH,))
    assert param(client.authorize(other_realm, method="M", uri="u"), "nc") == "00000001"

    renewed = Challenge(realm="r", nonce="n2", qop=(Qop.AUTH,))
    value = client.authorize(renewed, method="REGISTER", uri="sip:r")
    assert param(value, "nc") == "00000001"
    assert param(value, "cnonce") != param(values[0], "cnonce")
    assert client.nonce_count("r", "n1") == 0


def test_nonce_count_is_eight_hex_digits() -> None:
    challenge = Challenge(realm="r", nonce="n", qop=(Qop.AUTH,))
    value = authorize(challenge, Credentials("u", "p"), method="M", uri="u", nc=0x1A2, cnonce="c")
    assert param(value, "nc") == "000001a2"
    with pytest.raises(AuthError, match="nonce count 0 is out of range"):
        authorize(challenge, Credentials("u", "p"), method="M", uri="u", nc=0, cnonce="c")


# --- choosing among challenges ----------------------------------------------------------------


def test_strongest_usable_challenge_wins() -> None:
    values = [
        'Basic realm="r"',
        'Digest realm="r", nonce="1", algorithm=MD5, Digest realm="r", nonce="2", '
        "algorithm=SHA-512-256-sess, qop=auth",
        'Digest realm="r", nonce="3", algorithm=SHA-256',
        'Digest realm="r", nonce="4", algorithm=AKAv1-MD5',
        'Digest realm="r", nonce="5", algorithm=SHA-512-256',  # ties with 2: first offered wins
    ]
    assert choose_challenge(values).nonce == "2"


def test_choice_respects_what_the_credentials_can_answer() -> None:
    values = ['Digest realm="r", nonce="1", algorithm=SHA-256', 'Digest realm="r", nonce="2"']
    ha1_only = Credentials("u", ha1="0" * 32)
    assert choose_challenge(values, algorithms=ha1_only.algorithms).nonce == "2"
    assert choose_challenge(values, realm="r").nonce == "1"
    with pytest.raises(UnsupportedChallengeError, match="no credentials for realm 'r'"):
        choose_challenge(values, realm="elsewhere")


def test_no_usable_challenge_names_every_reason() -> None:
    with pytest.raises(UnsupportedChallengeError) as error:
        choose_challenge(
            ['Basic realm="r"', 'Digest realm="r", nonce="1", algorithm=AKAv1-MD5', "Digest"]
        )
    reason = error.value.reason
    assert "unsupported auth scheme 'Basic'" in reason
    assert "unsupported digest algorithm 'AKAv1-MD5'" in reason
    assert "has no 'realm' parameter" in reason
    with pytest.raises(UnsupportedChallengeError, match="no challenge values"):
        choose_challenge([])


def test_basic_with_token68_does_not_hide_a_following_digest() -> None:
    chosen = choose_challenge(['Basic QWxhZGRpbjpvcGVu==, Digest realm="r", nonce="n"'])
    assert chosen.nonce == "n"


# --- parsing --------------------------------------------------------------------------------


def test_parse_is_tolerant_of_case_whitespace_and_extensions() -> None:
    challenge = Challenge.parse(
        '  digest   REALM = "a\\"b" ,, Nonce="x/y=" ,stale=TRUE, ALGORITHM="sha-256-SESS",'
        ' qop=" auth-int , auth ,auth-conf", domain="sip:a.example sip:b.example",'
        " userhash=false, charset=UTF-8, x-vendor=whatever  "
    )
    assert challenge == Challenge(
        realm='a"b',
        nonce="x/y=",
        algorithm=Algorithm.SHA_256_SESS,
        qop=(Qop.AUTH_INT, Qop.AUTH),
        stale=True,
        domain=("sip:a.example", "sip:b.example"),
        userhash=False,
        charset="UTF-8",
    )


def test_absent_algorithm_means_md5_and_stale_defaults_false() -> None:
    challenge = Challenge.parse('Digest realm="r",nonce="n"')
    assert challenge.algorithm is Algorithm.MD5
    assert challenge.stale is False
    assert challenge.qop == ()
    assert challenge.opaque is None


def test_challenge_formats_and_parses_back() -> None:
    challenge = Challenge(
        realm="r",
        nonce="n",
        algorithm=Algorithm.SHA_512_256,
        qop=(Qop.AUTH, Qop.AUTH_INT),
        opaque="o",
        stale=True,
        domain=("sip:a", "sip:b"),
        userhash=True,
        charset="UTF-8",
    )
    assert Challenge.parse(str(challenge)) == challenge
    assert "algorithm=SHA-512-256" in str(challenge)
    assert "stale=true" in str(challenge)


@pytest.mark.parametrize(
    ("value", "error", "reason"),
    [
        ('Digest nonce="n"', AuthError, "Digest challenge has no 'realm' parameter"),
        ('Digest realm="r"', AuthError, "Digest challenge has no 'nonce' parameter"),
        ('Digest realm="r", realm="s", nonce="n"', AuthError, "duplicate 'realm' parameter"),
        ('Digest realm="r", nonce="n", stale=maybe', AuthError, "stale must be true or false"),
        ('Digest realm="r, nonce="n"', AuthError, "expected ',' after parameter 'realm'"),
        ('Digest realm="r" nonce="n"', AuthError, "expected ',' after parameter 'realm'"),
        ('Digest realm="unterminated', AuthError, "cannot parse"),
        ("", AuthError, "empty authentication header value"),
        ('Digest realm="r", nonce="n", qop=""', AuthError, "qop '' has an empty item"),
        (
            'Digest realm="r", nonce="n", algorithm=MD5-sess',
            AuthError,
            "algorithm MD5-sess needs a qop parameter",
        ),
        (
            'Digest realm="r", nonce="n", qop="auth-conf"',
            UnsupportedChallengeError,
            "no supported qop in 'auth-conf'",
        ),
        (
            'Digest realm="r", nonce="n", algorithm=AKAv1-MD5',
            UnsupportedChallengeError,
            "unsupported digest algorithm 'AKAv1-MD5'",
        ),
        ('Basic realm="r"', UnsupportedChallengeError, "unsupported auth scheme 'Basic'"),
        (
            'Digest realm="a", nonce="1", Digest realm="b", nonce="2"',
            AuthError,
            "expected one challenge, found 2 (Digest, Digest)",
        ),
    ],
)
def test_malformed_challenges(value: str, error: type[AuthError], reason: str) -> None:
    with pytest.raises(error) as raised:
        Challenge.parse(value)
    assert reason in raised.value.reason
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('Digest realm="r", nonce="n", uri="u", response="x"', "response 'x' is not hexadecimal"),
        ('Digest username="u", realm="r", nonce="n", response="ab"', "no 'uri' parameter"),
        (
            'Digest username="u", realm="r", nonce="n", uri="u", response="ab", qop=auth, nc=1',
            "no 'cnonce' parameter",
        ),
        (
            'Digest username="u", realm="r", nonce="n", uri="u", response="ab", qop=auth, '
            'cnonce="c", nc=1',
            "nc '1' is not 8 hex digits",
        ),
    ],
)
def test_malformed_authorization_values(value: str, reason: str) -> None:
    with pytest.raises(AuthError) as raised:
        DigestResponse.parse(value)
    assert reason in raised.value.reason


# --- retry rules and header names --------------------------------------------------------------


def test_header_names_by_status() -> None:
    assert authorization_header_name(401) == "Authorization"
    assert authorization_header_name(407) == "Proxy-Authorization"
    assert challenge_header_name(401) == "WWW-Authenticate"
    assert challenge_header_name(407) == "Proxy-Authenticate"
    with pytest.raises(ValueError, match="status 403 carries no digest challenge"):
        authorization_header_name(403)


def test_should_retry_truth_table() -> None:
    fresh = Challenge(realm="r", nonce="n")
    stale = Challenge(realm="r", nonce="n", stale=True)
    assert should_retry(fresh, previous_attempt_failed=False)
    assert not should_retry(fresh, previous_attempt_failed=True)  # wrong password: give up
    assert should_retry(stale, previous_attempt_failed=True)  # only the nonce expired
    assert should_retry(stale, previous_attempt_failed=False)


def test_client_answers_once_then_gives_up_unless_stale() -> None:
    client = DigestClient(Credentials("u", "p"), cnonce=SequentialIds("c").token)
    first = ['Digest realm="r", nonce="1", qop="auth"']
    answered = client.answer(401, first, method="REGISTER", uri="sip:r")
    assert answered is not None
    assert answered[0] == "Authorization"
    stale = ['Digest realm="r", nonce="2", qop="auth", stale=true']
    again = client.answer(401, stale, method="REGISTER", uri="sip:r")
    assert again is not None
    assert param(again[1], "nonce") == '"2"'
    refused = ['Digest realm="r", nonce="3", qop="auth"']
    assert client.answer(401, refused, method="REGISTER", uri="sip:r") is None


def test_client_success_resets_the_refusal_tracking_and_reauthorizes() -> None:
    client = DigestClient(Credentials("u", "p"), cnonce=SequentialIds("c").token)
    challenge = ['Digest realm="proxy", nonce="1", qop="auth"']
    answered = client.answer(407, challenge, method="INVITE", uri="sip:b")
    assert answered is not None
    assert answered[0] == "Proxy-Authorization"
    client.accepted()
    [(name, value)] = client.reauthorize(method="BYE", uri="sip:b")
    assert name == "Proxy-Authorization"
    assert param(value, "nc") == "00000002"
    assert client.answer(407, challenge, method="INVITE", uri="sip:b") is not None


def test_client_with_realm_bound_credentials_skips_other_realms() -> None:
    client = DigestClient(Credentials("u", "p", realm="a"), cnonce=lambda: "c")
    with pytest.raises(UnsupportedChallengeError, match="no credentials for realm 'b'"):
        client.answer(401, ['Digest realm="b", nonce="1"'], method="M", uri="u")


# --- client and server agree -------------------------------------------------------------------

QOP_OFFERS: list[tuple[Qop, ...]] = [(), (Qop.AUTH,), (Qop.AUTH_INT,), (Qop.AUTH, Qop.AUTH_INT)]
COMBINATIONS = [
    (algorithm, offer)
    for algorithm, offer in itertools.product(Algorithm, QOP_OFFERS)
    if offer or not algorithm.session
]


def server_for(algorithm: Algorithm, qop: tuple[Qop, ...]) -> DigestServer:
    return DigestServer(
        realm="voipkit.test",
        nonce=SequentialIds("nonce").token,
        algorithms=[algorithm],
        qop=qop,
        opaque="op4que",
        nonce_lifetime=30.0,
    )


@pytest.mark.parametrize(("algorithm", "qop"), COMBINATIONS)
def test_round_trip(algorithm: Algorithm, qop: tuple[Qop, ...]) -> None:
    server = server_for(algorithm, qop)
    user = Credentials("alice", "s3cret")
    client = DigestClient(user, cnonce=SequentialIds("cn").token)
    body = b"v=0\r\n"
    [challenge] = server.challenges(now=0.0)
    value = client.authorize(
        Challenge.parse(str(challenge)), method="INVITE", uri="sip:bob@x", body=body
    )

    def verify(value: str, credentials: Credentials, now: float) -> Verification:
        return server.verify(
            value, credentials, method="INVITE", body=body, request_uri="sip:bob@x", now=now
        )

    assert verify(value, user, 1.0).verdict is Verdict.ACCEPTED

    wrong = verify(value, Credentials("alice", "guess"), 1.0)
    assert wrong.verdict is Verdict.REJECTED
    assert wrong.reason == "wrong response digest (wrong password?)"

    if qop:  # a replayed nonce count is caught; the next count is fine
        replay = verify(value, user, 1.0)
        assert replay.verdict is Verdict.STALE
        assert "replay" in replay.reason
        second = client.authorize(challenge, method="INVITE", uri="sip:bob@x", body=body)
        assert verify(second, user, 2.0).ok

    if Qop.AUTH_INT in qop and Qop.AUTH not in qop:
        third = client.authorize(challenge, method="INVITE", uri="sip:bob@x", body=body)
        tampered = server.verify(
            third, user, method="INVITE", body=b"v=1\r\n", now=3.0, request_uri="sip:bob@x"
        )
        assert tampered.verdict is Verdict.REJECTED


def test_nonce_expires_after_its_lifetime_and_is_then_stale() -> None:
    server = server_for(Algorithm.SHA_256, (Qop.AUTH,))
    user = Credentials("alice", "s3cret")
    [challenge] = server.challenges(now=100.0)
    value = authorize(challenge, user, method="REGISTER", uri="sip:x", nc=1, cnonce="c")
    late = server.verify(value, user, method="REGISTER", now=130.0)
    assert late.verdict is Verdict.STALE
    assert late.reason == "unknown or expired nonce"
    [fresh] = server.challenges(now=130.0, stale=True)
    assert fresh.stale
    assert fresh.nonce != challenge.nonce
    value = authorize(fresh, user, method="REGISTER", uri="sip:x", nc=1, cnonce="c")
    assert server.verify(value, user, method="REGISTER", now=159.9).ok


def test_just_before_the_lifetime_the_nonce_is_still_good() -> None:
    server = server_for(Algorithm.MD5, (Qop.AUTH,))
    user = Credentials("alice", "s3cret")
    [challenge] = server.challenges(now=0.0)
    value = authorize(challenge, user, method="REGISTER", uri="sip:x", nc=1, cnonce="c")
    assert server.verify(value, user, method="REGISTER", now=29.999).ok


def test_server_rejects_mismatched_parameters() -> None:
    server = server_for(Algorithm.SHA_256, (Qop.AUTH,))
    user = Credentials("alice", "s3cret")
    [challenge] = server.challenges(now=0.0)

    def verify(c: Challenge, **overrides: str) -> str:
        value = authorize(c, user, method="M", uri=overrides.get("uri", "sip:x"), cnonce="c")
        return server.verify(value, user, method="M", now=0.0, request_uri="sip:x").reason

    assert (
        verify(
            Challenge(
                realm="other",
                nonce=challenge.nonce,
                algorithm=Algorithm.SHA_256,
                qop=(Qop.AUTH,),
                opaque="op4que",
            )
        )
        == "realm 'other' is not 'voipkit.test'"
    )
    assert (
        verify(
            Challenge(realm="voipkit.test", nonce=challenge.nonce, qop=(Qop.AUTH,), opaque="op4que")
        )
        == "algorithm MD5 was not offered"
    )
    assert verify(
        Challenge(
            realm="voipkit.test",
            nonce=challenge.nonce,
            algorithm=Algorithm.SHA_256,
            opaque="op4que",
        )
    ) == ("qop missing although it was offered")
    assert verify(
        Challenge(
            realm="voipkit.test",
            nonce=challenge.nonce,
            algorithm=Algorithm.SHA_256,
            qop=(Qop.AUTH,),
        )
    ) == ("opaque does not match")
    assert verify(challenge, uri="sip:y") == "uri 'sip:y' is not the Request-URI 'sip:x'"
    other_user = server.verify(
        authorize(challenge, Credentials("mallory", "s3cret"), method="M", uri="u", cnonce="c"),
        user,
        method="M",
        now=0.0,
    )
    assert other_user.reason == "username 'mallory' does not match"
    garbage = server.verify("Digest realm=", user, method="M", now=0.0)
    assert garbage.verdict is Verdict.REJECTED
    assert garbage.reason.startswith("malformed credentials: ")


def test_server_accepts_userhash_and_stored_ha1() -> None:
    server = server_for(Algorithm.MD5, (Qop.AUTH,))
    [challenge] = server.challenges(now=0.0)
    hashed = Challenge(
        realm=challenge.realm,
        nonce=challenge.nonce,
        qop=challenge.qop,
        opaque="op4que",
        userhash=True,
    )
    value = authorize(hashed, Credentials("alice", "s3cret"), method="M", uri="u", cnonce="c")
    assert "alice" not in value
    stored = Credentials("alice", ha1=h("md5", "alice:voipkit.test:s3cret"), realm="voipkit.test")
    assert server.verify(value, stored, method="M", now=0.0).ok


def test_server_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="at least one algorithm"):
        DigestServer(realm="r", nonce=lambda: "n", algorithms=[])
    with pytest.raises(ValueError, match="-sess algorithms need a qop"):
        DigestServer(realm="r", nonce=lambda: "n", algorithms=[Algorithm.MD5_SESS], qop=[])


# --- secrets stay secret -----------------------------------------------------------------------


def test_credentials_never_show_their_secrets() -> None:
    ha1 = h("md5", "alice:r:hunter2-password")
    for creds in (Credentials("alice", "hunter2-password"), Credentials("alice", ha1=ha1)):
        for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}"):
            assert "hunter2-password" not in text
            assert ha1 not in text
            assert "alice" in text


def test_credentials_need_a_valid_secret() -> None:
    with pytest.raises(ValueError, match="password or an ha1"):
        Credentials("alice")
    with pytest.raises(ValueError, match="32 hex digits"):
        Credentials("alice", ha1="not-a-digest")


def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = "hunter2-password"
    user = Credentials("alice", password)
    server = server_for(Algorithm.MD5, (Qop.AUTH,))
    client = DigestClient(user, cnonce=SequentialIds("cn").token)
    values = [str(c) for c in server.challenges(now=0.0)]
    answered = client.answer(401, values, method="REGISTER", uri="sip:x")
    assert answered is not None
    assert server.verify(answered[1], user, method="REGISTER", now=0.0).ok
    assert client.answer(401, values, method="REGISTER", uri="sip:x") is None
    assert caplog.records, "the client is expected to log at DEBUG"
    ha1 = h("md5", f"alice:voipkit.test:{password}")
    response = param(answered[1], "response").strip('"')
    for record in caplog.records:
        text = record.getMessage()
        assert password not in text
        assert ha1 not in text
        assert response not in text
