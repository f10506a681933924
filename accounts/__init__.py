"""Edge (both sides' HTTP): who may call the API.
Owns API tokens (issue, expiry, revocation), throttled token issue, lockout after failed logins.
May import writeside (the API plumbing) and eventlog; no context, no read side."""
