"""This node among the nodes: its state, the live nodes, and draining it (the admin key)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cluster import NodeInfo
from hearing_server.keys import PLACEMENT

from .auth import is_admin
from .errors import ApiError


def _node_json(node: NodeInfo) -> dict[str, Any]:
    return {
        "id": node.id,
        "url": node.url,
        "load": node.load,
        "hearings": node.hearings,
        "draining": node.draining,
    }


async def node_status(request: web.Request) -> web.Response:
    if not is_admin(request):
        raise ApiError(401, "unauthorized", "the admin API key is required")
    placement = request.app[PLACEMENT]
    return web.json_response(
        {
            "node": _node_json(placement.node),
            "hearings": sorted(placement.owned()),
            "nodes": [_node_json(n) for n in await placement.nodes()],
        }
    )


async def drain(request: web.Request) -> web.Response:
    """Take no new hearings; those served here stay until nobody is connected to them
    (``hearing_idle_release_seconds``), then the next client places them elsewhere."""
    if not is_admin(request):
        raise ApiError(401, "unauthorized", "the admin API key is required")
    placement = request.app[PLACEMENT]
    await placement.drain()
    return web.json_response(
        {"node": _node_json(placement.node), "hearings": sorted(placement.owned())}
    )
