"""Operations, beside both sides: what the hot tables keep besides the event log, by policy and setting.
Owns expiring command records, pruning old audit rows, resolved dead letters and sent emails' personal data.
May import audit, notifications, projector, eventlog (the stores it prunes); never writes the event log."""
