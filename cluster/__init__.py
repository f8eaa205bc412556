"""Which node serves which hearing.

A hearing's media, rooms and recorders live in one server process, so every hearing is served
by exactly one node at a time. ``SingleNode`` is the embedded default (this process serves
everything); ``RedisLeases`` shares the answer between several nodes (processes on one machine
or several machines) through leases in Redis that the owner renews and that expire when it
dies, so another node takes the hearing over.
"""

from .model import ClusterUnavailable, NodeInfo, NoNodeAvailable, Placement
from .redis_leases import RedisLeases
from .relay import Relay
from .single import SingleNode

__all__ = [
    "ClusterUnavailable",
    "NoNodeAvailable",
    "NodeInfo",
    "Placement",
    "RedisLeases",
    "Relay",
    "SingleNode",
]
