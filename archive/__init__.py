"""Archive: closed order streams move to cold storage and stay readable and rebuildable.

It owns the policy (which streams are due) and the procedure (segment, verify, manifest, remove).
"""
