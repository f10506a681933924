#!/usr/bin/env python
"""The CRUD service's manage.py: `python bench/crud/manage.py migrate` (CRUD_DATABASE_URL)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench.crud.*
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.crud.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
