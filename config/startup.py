"""What a long-running process (a gunicorn worker, a Celery pool process) does once it has
loaded the application: the objects made so far (Django, the apps, settings, the URLconf's
imports: about 140,000) are moved out of the cyclic garbage collector's passes.

They live as long as the process and are never garbage, yet every full collection walked them
all: a pause of 40-55 ms every so often in the middle of a command (the `write` loop's
slowest command 47-57 ms, 7-14 ms with them frozen; bench notes in docs/performance-log.md).
Garbage made afterwards is collected as before. The rebuild freezes its own start-up objects
the same way when run by a process that did not (projector/rebuild.py).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Keep the objects that exist now out of the garbage collector's passes for good."""
    gc.freeze()
