"""The app's own registry: the server's collector plus the process basics, rendered on demand."""

from __future__ import annotations

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from .collector import ServerCollector
from .sources import MetricSources


class ServerMetrics:
    """One per app: its ``CollectorRegistry`` with the server's collector, the process's
    CPU, memory and file descriptors (``process_*``), the garbage collector (``python_gc_*``)
    and the interpreter (``python_info``)."""

    def __init__(self, sources: MetricSources) -> None:
        self.registry = CollectorRegistry()
        self._collector = ServerCollector(sources)
        self.registry.register(self._collector)
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    async def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition (Prometheus text, or OpenMetrics if ``accept`` asks for it) and
        its content type."""
        await self._collector.refresh()
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
