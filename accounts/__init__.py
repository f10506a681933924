"""Edge (both sides' HTTP): who may call the API.
Owns API tokens (issue, expiry, revocation), throttled token issue, lockout after failed logins.
May import web (the HTTP edge), writeside and eventlog; no context, no read side."""
