"""The embedded default: one process serves every hearing."""

from __future__ import annotations

from .model import NodeInfo, NoNodeAvailable


class SingleNode:
    """Placement with no cluster: every hearing is served here."""

    def __init__(self, node: NodeInfo) -> None:
        self._node = node
        self._owned: set[str] = set()

    @property
    def node(self) -> NodeInfo:
        return self._node

    async def owner(self, hearing_id: str) -> NodeInfo:
        if self._node.draining and hearing_id not in self._owned:
            raise NoNodeAvailable("this server is draining: it takes no new hearings", 30.0)
        self._owned.add(hearing_id)
        return self._node

    def owned(self) -> frozenset[str]:
        return frozenset(self._owned)

    def serves(self, hearing_id: str) -> bool:
        return True

    async def holder(self, hearing_id: str) -> NodeInfo | None:
        return self._node

    async def release(self, hearing_id: str) -> None:
        self._owned.discard(hearing_id)

    async def nodes(self) -> list[NodeInfo]:
        return [self._node]

    async def drain(self) -> None:
        self._node = NodeInfo(self._node.id, self._node.url, draining=True)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._owned.clear()
