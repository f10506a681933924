"""Edge (both sides' HTTP): signing in and out of the API.
Owns the token endpoints (issue, revoke one or all), throttled token issue, lockout after failed logins.
May import web (the HTTP edge and its token authentication); no side, no context."""
