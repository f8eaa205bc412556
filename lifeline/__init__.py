"""Child processes that die with their parent, and one server per data directory.

The ground floor under every process the server starts: the speech-recognition engine now,
face matching, PDF rendering or encoders in other processes later. Standard library only, and
it imports nothing of the application, so ``transcription``, ``recording`` and
``hearing_server`` can all build on it.

In the parent, in the thread that starts the child::

    parent = lifeline.Parent.current()      # hand it to the child (initargs, argv, ...)

First thing in the child, in its main thread::

    lifeline.guard(parent, "face-matching") # exits within moments of the parent's death

Or, for a pool of worker processes, both at once::

    pool = lifeline.guarded_pool("face matching", init, (args,))

In the server, before it starts anything::

    with lifeline.RunDir.acquire(data_dir / "run") as run:  # DataDirInUse if taken
        run.sweep()                          # stops children a crashed run left running
        ...                                  # children get run.environ() and record themselves

:func:`stop` ends processes by identity (pidfds; a reused pid is never signalled) and
:func:`descendants` lists a process's living descendants from /proc.

Worker threads (the composite, recorders, decoders) call ``lifeline.priority.lower_this_thread``
first thing, so that the event loop, which forwards media and answers ICE consent checks, is
served first when the machine is short of CPU.
"""

from __future__ import annotations

from .child import RUN_DIR_ENV, Lifeline, Parent, guard
from .pool import guarded_pool
from .procfs import ProcessIdentity, descendants, identify, is_resource_tracker, is_running
from .rundir import ChildRecord, DataDirInUse, Leftover, RunDir
from .stop import KILL_WAIT_S, Outcome, stop

__all__ = [
    "KILL_WAIT_S",
    "RUN_DIR_ENV",
    "ChildRecord",
    "DataDirInUse",
    "Leftover",
    "Lifeline",
    "Outcome",
    "Parent",
    "ProcessIdentity",
    "RunDir",
    "descendants",
    "guard",
    "guarded_pool",
    "identify",
    "is_resource_tracker",
    "is_running",
    "stop",
]
