"""A node as the others see it, and what every placement answers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One server process: its id, the URL its clients reach it at, how loaded it is
    (the server's shedding level, 0 = calm), how many hearings it serves, and whether it
    is draining (takes no new hearings)."""

    id: str
    url: str
    load: int = 0
    hearings: int = 0
    draining: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> NodeInfo:
        data: Any = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError("not a node record")
        return cls(
            id=data["id"],
            url=str(data.get("url", "")),
            load=int(data.get("load", 0)),
            hearings=int(data.get("hearings", 0)),
            draining=bool(data.get("draining", False)),
        )


class ClusterUnavailable(Exception):
    """The node cannot join the cluster (its Redis is unreachable or refuses): the message
    says what to fix."""


class NoNodeAvailable(Exception):
    """Nobody can serve the hearing just now: its owner died and its lease has not expired
    yet, or every node is draining. The client should try again after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Placement(Protocol):
    """Where hearings are served."""

    @property
    def node(self) -> NodeInfo:
        """This node."""

    async def owner(self, hearing_id: str) -> NodeInfo:
        """The node that serves the hearing, placing it (on this node when it can take it,
        else on the least loaded live node) when nobody does. Raises NoNodeAvailable."""

    def owned(self) -> frozenset[str]:
        """The hearings this node serves."""

    def serves(self, hearing_id: str) -> bool:
        """Whether this node serves the hearing now (a single node serves every hearing,
        whether or not anyone is connected)."""

    async def holder(self, hearing_id: str) -> NodeInfo | None:
        """The live node serving the hearing now, without placing it; None when nobody
        does (or its node is gone and its lease not yet run out)."""

    async def release(self, hearing_id: str) -> None:
        """Stop serving the hearing (it is over, or idle): the next client places it anew."""

    async def nodes(self) -> list[NodeInfo]:
        """Every live node."""

    async def drain(self) -> None:
        """Take no new hearings; the ones served now stay until released."""

    async def start(self) -> None:
        """Join the cluster (register this node, start renewing)."""

    async def close(self) -> None:
        """Leave the cluster: release every hearing and the node's record."""
