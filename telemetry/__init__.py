"""Operations, the leaf below every layer: what running code emits (counters, log context, Sentry).
Owns the Prometheus counters, the JSON log set-up and context, error reporting; no table, no state.
Imports no project package, so every layer may count and log; what reads state is monitoring/."""
