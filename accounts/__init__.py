"""Who may call the API: tokens that expire and can be revoked, throttled token issue, and
lockout after repeated failed logins (admin and API alike)."""
