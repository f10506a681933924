"""Tools, never in production: the benchmarks (docs/performance.md).
Owns `manage.py bench`, the peer and CRUD comparisons, the HTTP load; installed only when BENCH=1.
May import any package; none imports it."""
