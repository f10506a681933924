"""Orders and their lines as rows: the CRUD service's one app."""
