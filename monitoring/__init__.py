"""Operations, the top below config: what an operator asks of the running system.
Owns the health probes, the /metrics scrape, request and bus middleware, beat's heartbeat.
May import readmodels, projector, writeside, telemetry; nothing but config imports it."""
