-- 015: agents' GPS fixes partitioned by month (the table that grows fastest: agents x fixes a day).
-- A month's partition can be dropped whole, its BRIN and primary-key indexes stay small, and a query on
-- one day only opens that month's partition. A DEFAULT partition takes any row whose month has no
-- partition yet (an import of old fixes), so an insert never fails for want of a partition;
-- ensure_position_partitions() then moves such rows into their month's partition.

ALTER TABLE agent_positions RENAME TO agent_positions_unpartitioned;
ALTER TABLE agent_positions_unpartitioned RENAME CONSTRAINT agent_positions_pkey TO agent_positions_unpartitioned_pkey;
ALTER INDEX agent_positions_received_brin RENAME TO agent_positions_unpartitioned_received_brin;
ALTER INDEX agent_positions_t_brin RENAME TO agent_positions_unpartitioned_t_brin;

CREATE TABLE agent_positions (
    agent_id    bigint NOT NULL REFERENCES agents (id),
    t           timestamptz NOT NULL,
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    accuracy_m  double precision CHECK (accuracy_m >= 0),
    battery     smallint CHECK (battery BETWEEN 0 AND 100),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, t)
) PARTITION BY RANGE (t);
CREATE INDEX agent_positions_received_brin ON agent_positions USING brin (received_at);
CREATE INDEX agent_positions_t_brin ON agent_positions USING brin (t);
CREATE TABLE agent_positions_default PARTITION OF agent_positions DEFAULT;

GRANT SELECT, INSERT, DELETE ON agent_positions TO akig_write;
GRANT SELECT ON agent_positions TO akig_read_all;

-- Make sure every month from p_from (default: the oldest row of the DEFAULT partition, at most a month ago)
-- to p_to (UTC months) has its partition, moving the rows the DEFAULT partition holds for it. Returns how
-- many partitions it created. SECURITY DEFINER: the server, which runs it daily, is not the tables' owner.
CREATE FUNCTION ensure_position_partitions(p_to date, p_from date DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    month date := date_trunc('month', p_from)::date;
    created integer := 0;
    part text;
    lower_t timestamptz;
    upper_t timestamptz;
BEGIN
    IF p_from IS NULL THEN
        p_from := least(coalesce((SELECT min(t) FROM agent_positions_default)::date, current_date),
                        current_date - 31);
        month := date_trunc('month', p_from)::date;
    END IF;
    IF p_to < p_from OR p_to > p_from + 3660 THEN
        RAISE EXCEPTION 'ensure_position_partitions: bad range % .. %', p_from, p_to;
    END IF;
    WHILE month <= p_to LOOP
        part := format('agent_positions_%s', to_char(month, 'YYYY_MM'));
        lower_t := month::timestamp AT TIME ZONE 'UTC';
        upper_t := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE agent_positions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format('WITH moved AS (DELETE FROM agent_positions_default WHERE t >= $1 AND t < $2 RETURNING *)'
                           ' INSERT INTO %I SELECT * FROM moved', part) USING lower_t, upper_t;
            EXECUTE format('ALTER TABLE agent_positions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           part, lower_t, upper_t);
            created := created + 1;
        END IF;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;
REVOKE ALL ON FUNCTION ensure_position_partitions(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ensure_position_partitions(date, date) TO akig_write;

-- The rows move over, each into its month's partition.
INSERT INTO agent_positions SELECT agent_id, t, lat, lon, accuracy_m, battery, received_at
FROM agent_positions_unpartitioned;
SELECT ensure_position_partitions((now() + interval '2 months')::date);
DROP TABLE agent_positions_unpartitioned;
