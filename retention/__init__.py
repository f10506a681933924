"""Retention: what the hot tables keep besides the event log, by policy and setting.

Command records expire, old audit rows and resolved dead letters go, sent emails lose their
personal data; in bounded batches, beside live traffic, never touching the log.
"""
