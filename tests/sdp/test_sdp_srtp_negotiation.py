"""Offer/answer with the SRTP policy plugged in (RFC 4568 SDES, RFC 3264).

Proves:
- create_offer's ``proto`` override writes RTP/AVP with a=crypto lines (the PREFER
  "best effort" offer) and ``bandwidths`` writes the m= line's b= lines;
- negotiate_answer with an SRTP decider answers a crypto line on RTP/AVP with the
  same tag and suite and a fresh key, or plain RTP when the decider says so, or
  rejects the stream (NegotiationError 488 when nothing is left);
- the decider built on media.srtp.decide_offer gives FORCE/PREFER/NONE their table;
- process_answer takes an answered crypto line on an RTP/AVP offer (keys both ways),
  plain RTP when the answer has none, and still refuses RTP/SAVP without a=crypto.
"""

from __future__ import annotations

import pytest

from voipkit.base.ids import SequentialIds
from voipkit.media.codecs import PCMU
from voipkit.media.srtp import SrtpPolicy, decide_offer
from voipkit.sdp import (
    Crypto,
    MediaDescription,
    NegotiatedMedia,
    NegotiationError,
    SessionDescription,
    create_offer,
    negotiate_answer,
    new_crypto,
    process_answer,
)
from voipkit.sdp.model import Bandwidth
from voipkit.sdp.negotiate import SrtpDecider

CAPS = [PCMU.capability()]


def _offer(*, proto: str | None, crypto: list[Crypto]) -> SessionDescription:
    return create_offer(capabilities=CAPS, address="192.0.2.1", port=4000, session_id=1,
                        session_version=1, crypto=crypto, proto=proto,
                        bandwidths=[Bandwidth("AS", 80), Bandwidth("RR", 2000)])


class OfferIds(SequentialIds):
    """Keys of 0xab bytes, unlike the answerer's SequentialIds keys."""

    def token(self, nbytes: int = 8) -> str:
        return "ab" * nbytes


def _keys() -> list[Crypto]:
    ids = OfferIds("k")
    return [new_crypto(1, "AES_CM_128_HMAC_SHA1_80", ids),
            new_crypto(2, "AES_CM_128_HMAC_SHA1_32", ids)]


def _decider(policy: SrtpPolicy) -> SrtpDecider:
    def decide(line: MediaDescription) -> tuple[bool, Crypto | None]:
        d = decide_offer(policy, proto=line.proto, crypto=line.crypto,
                         secure_signalling=False, allow_unsecure=True)
        return d.accept, d.crypto
    return decide


def _answer(offer: SessionDescription, policy: SrtpPolicy
            ) -> tuple[SessionDescription, list[NegotiatedMedia]]:
    return negotiate_answer(offer, capabilities=CAPS, address="192.0.2.2", port=5000,
                            session_id=2, session_version=1, ids=SequentialIds("b"),
                            srtp=_decider(policy), bandwidths=[Bandwidth("AS", 64)])


def test_prefer_offer_is_avp_with_crypto_and_bandwidths() -> None:
    offer = SessionDescription.parse(str(_offer(proto="RTP/AVP", crypto=_keys())))
    media = offer.media[0]
    assert media.proto == "RTP/AVP"
    assert [c.tag for c in media.crypto] == [1, 2]
    assert [(b.bwtype, b.bandwidth) for b in media.bandwidths] == [("AS", 80), ("RR", 2000)]


@pytest.mark.parametrize("policy", [SrtpPolicy.PREFER, SrtpPolicy.FORCE])
def test_crypto_on_avp_is_answered_with_same_tag_and_new_key(policy: SrtpPolicy) -> None:
    keys = _keys()
    offer = _offer(proto="RTP/AVP", crypto=keys)
    answer, streams = _answer(offer, policy)
    media = SessionDescription.parse(str(answer)).media[0]
    assert media.proto == "RTP/AVP" and len(media.crypto) == 1
    assert media.crypto[0].tag == 1 and media.crypto[0].suite == "AES_CM_128_HMAC_SHA1_80"
    assert media.crypto[0].key_salt != keys[0].key_salt
    assert [(b.bwtype, b.bandwidth) for b in media.bandwidths] == [("AS", 64)]
    assert streams[0].remote_crypto == keys[0] and streams[0].local_crypto == media.crypto[0]
    ours = process_answer(offer, SessionDescription.parse(str(answer)))[0]
    assert ours.local_crypto == keys[0] and ours.remote_crypto == media.crypto[0]


def test_none_ignores_crypto_on_avp_and_rejects_savp() -> None:
    answer, streams = _answer(_offer(proto="RTP/AVP", crypto=_keys()), SrtpPolicy.NONE)
    assert answer.media[0].crypto == [] and streams[0].local_crypto is None
    with pytest.raises(NegotiationError) as info:
        _answer(_offer(proto=None, crypto=_keys()), SrtpPolicy.NONE)
    assert info.value.status_hint == 488


def test_force_rejects_plain_offer_and_prefer_accepts_it() -> None:
    with pytest.raises(NegotiationError) as info:
        _answer(_offer(proto=None, crypto=[]), SrtpPolicy.FORCE)
    assert info.value.status_hint == 488
    _, streams = _answer(_offer(proto=None, crypto=[]), SrtpPolicy.PREFER)
    assert streams[0].local_crypto is None


def test_plain_answer_to_avp_crypto_offer_is_plain_and_savp_needs_crypto() -> None:
    offer = _offer(proto="RTP/AVP", crypto=_keys())
    plain, _ = _answer(offer, SrtpPolicy.NONE)
    ours = process_answer(offer, SessionDescription.parse(str(plain)))[0]
    assert ours.local_crypto is None and ours.remote_crypto is None
    savp = _offer(proto=None, crypto=_keys())
    answer, _ = _answer(savp, SrtpPolicy.FORCE)
    stripped = SessionDescription.parse(
        "\r\n".join(line for line in str(answer).split("\r\n")
                    if not line.startswith("a=crypto")))
    with pytest.raises(NegotiationError):
        process_answer(savp, stripped)
