"""A client's ICE candidate with a port no datagram can go to is refused as invalid SDP
(found by signaling fuzzing: the server's connectivity check to port 99999 failed inside the
event loop's transport and logged an error)."""

from __future__ import annotations

import pytest

from hearing_server.media.errors import MediaError
from hearing_server.media.peers import parse_candidate, parse_sdp
from support.signaling_fuzz import SDP_OFFER

GOOD = "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"


def test_an_offer_with_usable_candidate_ports_parses() -> None:
    description = parse_sdp(SDP_OFFER, "offer")
    assert [c.port for m in description.media for c in m.ice_candidates] == [9]


@pytest.mark.parametrize("port", [-1, 65536, 99999])
def test_a_candidate_port_out_of_range_is_invalid_sdp(port: int) -> None:
    offer = SDP_OFFER.replace(GOOD, GOOD.replace(" 9 typ", f" {port} typ"))
    with pytest.raises(MediaError) as refused:
        parse_sdp(offer, "offer")
    assert refused.value.code == "invalid_sdp"


def test_a_trickled_candidate_port_out_of_range_is_refused() -> None:
    assert parse_candidate(GOOD.strip()) is not None
    with pytest.raises(MediaError) as refused:
        parse_candidate("candidate:1 1 udp 2130706431 127.0.0.1 99999 typ host")
    assert refused.value.code == "invalid_candidate"
