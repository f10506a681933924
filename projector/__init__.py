"""Read side, the engine below the projections: feeds every consumer of the log, exactly once in effect.
Owns checkpoints, dead letters, the one loop, doorbells, catch-up, rebuild, status, bulk writers.
May import eventlog and telemetry; none of the projections it runs (settings.PROJECTIONS names them)."""
