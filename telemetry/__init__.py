"""Telemetry, below every layer: what running code emits as it works (Prometheus counters, the
log context and JSON log set-up, error reports to Sentry). Owns no table and reads no state.
Imports no project package, so every layer may count and log; what reads state is monitoring/."""
