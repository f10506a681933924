"""The projection engine: feeds every consumer of the event log, exactly once in effect.

It owns the checkpoints and dead letters, the one loop (projector/loop.py), doorbells,
catch-up, rebuild and status. It imports none of the projections it runs: they are listed
in settings.PROJECTIONS (an import contract in pyproject.toml keeps it so).
"""
