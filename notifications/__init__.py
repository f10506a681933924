"""Read side: emails owed to customers, each sent once.
Owns the customer directory, the outbox, its projection, sending and its Celery task.
May import readmodels (the forget guard), orders, projector, eventlog; no sibling of its layer."""
