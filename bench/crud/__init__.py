"""A plain DRF CRUD order service: what a team would write instead of CQRS,
the yardstick for the HTTP target (docs/performance.md).

Its own tiny Django project (settings, urls, wsgi, manage.py) on its own database, sharing no
code with the product, so `make bench-crud` can drive both with bench/http_load.py and compare.
Rows are the truth: a transition locks its order (SELECT ... FOR UPDATE), checks the status and
writes it in one transaction, and a read sees every committed write at once.
"""
