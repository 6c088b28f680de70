-- 051: the promises read for one owner and a window of due dates (the apps' promises of yesterday, today and
-- tomorrow) took 94-102 ms at `large` scale for the owner with the most leases. PostgreSQL does not know
-- under row-level security which owner it reads for, so it plans for an average one (4 sites, 200 leases)
-- and looks up each of his leases' promises: through promises_lease_id and promises_due_date combined
-- (BitmapAnd), which read the window's 671 entries of promises_due_date again for each of the owner's
-- 5,501 leases (52 of the 80 ms under EXPLAIN ANALYZE).
--
-- One index on (lease_id, due_date) answers both conditions of that lookup in one descent: 80 -> 20 ms.
-- It serves every lookup promises_lease_id served (lease_id is its first column), so that index goes and
-- a write to promises maintains one index for the two.

CREATE INDEX promises_lease_due_date ON promises (lease_id, due_date);
DROP INDEX promises_lease_id;
