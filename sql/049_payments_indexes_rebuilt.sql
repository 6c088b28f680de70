-- 049: the indexes of payments rebuilt after 048 gave every payment its owner.
--
-- 048's update wrote a new version of every payment, and so a second entry in each of its indexes. A rebuild
-- in 048's own transaction keeps the old versions (they are dead only once it commits), so it is this
-- migration's. Rebuilt partition by partition (a partitioned table is reindexed only outside a
-- transaction), they are back to their size (1,145 -> 536 MB at `large` scale) and a payment's insert,
-- whose triggers probe them for the lease's dues and promises, to its time (44-46 -> 25-31 ms a payment,
-- one by one). On a new database, whose payments were empty then, it takes no time.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'payments'::regclass LOOP
        EXECUTE format('REINDEX TABLE %s', part);
    END LOOP;
END $$;
