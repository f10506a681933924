"""Operations, beside both sides: closed order streams moved to cold storage, still readable and rebuildable.
Owns the policy (which streams are due), the kill-safe procedure (segment, verify, manifest, remove), restore.
May import orders (the order's state), projector (checkpoints, the rebuild lock), eventlog; nothing above."""
