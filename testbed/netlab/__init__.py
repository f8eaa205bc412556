"""A link emulator for tests and benchmarks: one participant in a network namespace of its
own, behind a link with delay, jitter, loss, bursts, a rate limit and blackouts, changed while
it runs (these machines have no netem). See :mod:`testbed.netlab.lab`."""

from .lab import Lab, LabError, unavailable
from .link import Direction

__all__ = ["Direction", "Lab", "LabError", "unavailable"]
