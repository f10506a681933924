"""Errors to an error tracker: SENTRY_DSN enables sentry-sdk with its Django and Celery
integrations in every process that loads the settings (web, worker, beat); unset, nothing
is initialised and nothing leaves the process."""

from __future__ import annotations


def init_sentry(dsn: str, *, environment: str, release: str, traces_sample_rate: float) -> bool:
    """Initialise sentry-sdk when `dsn` is set; True if it was."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,  # no user e-mails, cookies or bodies: customers' data stays here
    )
    return True
