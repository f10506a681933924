"""Operations, write side: the trail of every command tried.
Owns the append-only audit rows (who sent what, how it ended), their admin and verify's check.
May import writeside (a bus middleware), kernel, projector (verify) and eventlog; nothing above."""
