"""The secret that signs sessions, CSRF tokens and password resets: never a public one in production.

Without DEBUG, a missing, short or published key stops the process at start with one line
that says what to set, instead of running with a key anyone can read in this repository.
"""

from __future__ import annotations

# Keys this repository has shipped or documented: public, so they sign nothing in production.
PUBLISHED_KEYS = frozenset({"dev-only-insecure-key-change-me", "change-me", "development-only-not-secret"})
# Django's own deployment check asks for at least this many characters.
MIN_LENGTH = 50
DEVELOPMENT_KEY = "development-only-not-secret"


def secret_key(configured: str, *, debug: bool) -> str:
    """The configured SECRET_KEY; in development a fixed placeholder if none is set.

    Raises SystemExit (one line on stderr, exit status 1) when production would start with
    no key, a published one, or one too short to resist guessing.
    """
    if debug:
        return configured or DEVELOPMENT_KEY
    if not configured:
        problem = "SECRET_KEY is not set"
    elif configured in PUBLISHED_KEYS or configured.startswith("django-insecure-"):
        problem = "SECRET_KEY is a published placeholder"
    elif len(configured) < MIN_LENGTH or len(set(configured)) < 5:
        problem = f"SECRET_KEY is shorter than {MIN_LENGTH} characters"
    else:
        return configured
    raise SystemExit(
        f"Refusing to start: {problem}. Set SECRET_KEY to a long random value "
        "(python3 -c 'import secrets; print(secrets.token_urlsafe(50))'), or DEBUG=true for development only."
    )
