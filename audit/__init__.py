"""The command audit trail: every command tried, who sent it, what it asked and how it ended."""
