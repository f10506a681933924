"""The store, the bottom: the append-only log of events that both sides stand on.
Owns stored events, snapshots, command records, subject keys (sealing), serialization, publishing.
Imports no other project package (an import contract keeps it so)."""
