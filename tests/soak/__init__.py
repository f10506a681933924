"""The chaos soak: the whole stack as `make up` runs it, under steady traffic, while its
services are cut and its processes killed on a seeded schedule, with nobody stepping in.

The guarantee it proves is the product's: every process rides out an outage or is restarted
by its supervisor, no command acknowledged to a client is lost or applied twice, and once the
faults stop the read side catches up and the books verify. `make soak` runs it for
SOAK_MINUTES; tests/e2e/test_soak.py runs a short one inside `make test`.
"""
