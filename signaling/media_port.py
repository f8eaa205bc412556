"""What signaling needs from the media layer. create_app() hands in the real router."""

from __future__ import annotations

from typing import Protocol


class MediaPort(Protocol):
    """The SFU as seen by signaling: negotiate a participant's two peer connections."""

    async def publish(self, participant_id: str, offer_sdp: str) -> str:
        """Answer the participant's publish offer; returns the answer SDP."""

    async def subscriber_answer(self, participant_id: str, answer_sdp: str, revision: int) -> None:
        """Apply the participant's answer to the server's subscriber offer ``revision``."""

    async def remove(self, participant_id: str) -> None:
        """Close the participant's peer connections; their tracks leave every subscriber."""
