"""Operability: health probes, Prometheus metrics, structured logs, the beat heartbeat."""
