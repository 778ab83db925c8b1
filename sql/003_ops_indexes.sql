-- 003 — what the ops inbox and KPIs read (GET /ops/inbox, GET /ops/summary), kept cheap at scale.
--
-- Two kinds of support, both chosen so each inbox/summary query touches only the rows it reports:
--
-- 1. Partial indexes over "needs a person" rows: each inbox group's items are a bounded, newest-first
--    index scan, however big the tables around them grow.
--
-- 2. retail.kpi_counts: exact row counts per (metric, dim1, dim2), kept by statement-level triggers
--    (the summary's totals, and the inbox's counts of failed orders, invalid drafts, open tasks).
--    count(*) over a million products is ~50 ms even as an index-only scan; summing a few dozen
--    counter rows is not. Writers only ever INSERT delta rows (never update a shared counter row),
--    so concurrent writers never wait on each other or deadlock here; readers sum the deltas and
--    retail.compact_kpi_counts() folds them back into one row per key now and then.

-- ---------------------------------------------------------------------------------------------
-- Inbox groups
-- ---------------------------------------------------------------------------------------------

-- Orders that stopped on a failure, newest first (counted in kpi_counts).
CREATE INDEX orders_attention_idx ON retail.orders (current_status_at DESC, id DESC)
    WHERE current_status IN ('acceptance_failed', 'label_failed');

-- Drafts a channel's rules rejected, newest first (counted per channel in kpi_counts).
CREATE INDEX listing_drafts_invalid_idx ON retail.listing_drafts (updated_at DESC, id DESC)
    WHERE status = 'invalid';

-- Unresolved tasks (open or acknowledged), newest first per kind (counted per kind in kpi_counts).
CREATE INDEX ops_tasks_unresolved_idx ON retail.ops_tasks (kind, created_at DESC, id DESC)
    WHERE status IN ('open', 'acknowledged');

-- A task by its key whatever its status: the failed-runs group looks up each run's task (run id = key).
CREATE INDEX ops_tasks_kind_key_idx ON retail.ops_tasks (kind, dedupe_key);

-- Threads whose last word is the customer's; the threshold is a range on last_inbound_at, counted
-- from this index (a time threshold cannot be a trigger-kept counter).
CREATE INDEX conversations_awaiting_reply_idx ON retail.conversations (last_inbound_at, id)
    WHERE status = 'open' AND last_inbound_at IS NOT NULL
      AND (last_outbound_at IS NULL OR last_outbound_at < last_inbound_at);

-- ---------------------------------------------------------------------------------------------
-- Summary
-- ---------------------------------------------------------------------------------------------

-- Today's sales: a range of placed_at, totals read from the index.
CREATE INDEX orders_placed_idx ON retail.orders (placed_at) INCLUDE (currency, total);

-- Recent enrichment stats for GET /llm/health.
CREATE INDEX products_enriched_at_idx ON retail.products (enriched_at);

-- Exact counts. No primary key on purpose: writers append deltas, compaction folds them.
CREATE TABLE retail.kpi_counts (
    metric text NOT NULL,
    dim1   text NOT NULL DEFAULT '',
    dim2   text NOT NULL DEFAULT '',
    n      bigint NOT NULL
);

-- Trigger function shared by every counted table: TG_ARGV = (metric, dim1 expression, dim2 expression),
-- the expressions over the table's columns. One trigger per event (PostgreSQL allows transition
-- tables only on single-event triggers); an UPDATE that moves no row between keys writes nothing.
CREATE FUNCTION retail.kpi_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    metric text := TG_ARGV[0];
    dims   text := format('%s, %s', TG_ARGV[1], TG_ARGV[2]);
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM retail.kpi_counts k WHERE k.metric = TG_ARGV[0];
    ELSIF TG_OP = 'INSERT' THEN
        EXECUTE format(
            'INSERT INTO retail.kpi_counts (metric, dim1, dim2, n)
             SELECT %L, d1, d2, count(*) FROM (SELECT %s FROM new_rows) r(d1, d2) GROUP BY d1, d2',
            metric, dims);
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format(
            'INSERT INTO retail.kpi_counts (metric, dim1, dim2, n)
             SELECT %L, d1, d2, -count(*) FROM (SELECT %s FROM old_rows) r(d1, d2) GROUP BY d1, d2',
            metric, dims);
    ELSE
        EXECUTE format(
            'INSERT INTO retail.kpi_counts (metric, dim1, dim2, n)
             SELECT %L, d1, d2, sum(n) FROM (
                 SELECT %s, 1 FROM new_rows UNION ALL SELECT %s, -1 FROM old_rows) r(d1, d2, n)
              GROUP BY d1, d2 HAVING sum(n) <> 0',
            metric, dims, dims);
    END IF;
    RETURN NULL;
END
$$;

-- Folds the deltas into one row per key; returns how many rows it folded. One statement, so a
-- concurrent reader sees either all the deltas or their sums, never a mix.
CREATE FUNCTION retail.compact_kpi_counts() RETURNS bigint
LANGUAGE sql AS $$
    WITH folded AS (DELETE FROM retail.kpi_counts RETURNING metric, dim1, dim2, n),
         kept AS (
             INSERT INTO retail.kpi_counts (metric, dim1, dim2, n)
             SELECT metric, dim1, dim2, sum(n) FROM folded GROUP BY metric, dim1, dim2 HAVING sum(n) <> 0
             RETURNING 1)
    SELECT count(*) FROM folded
$$;

-- (table, metric, dim1, dim2) for every counted table; '' = no second dimension.
CREATE TEMPORARY TABLE kpi_counted (tbl text, metric text, dim1 text, dim2 text) ON COMMIT DROP;
INSERT INTO kpi_counted VALUES
    ('supplier_products', 'supplier_products', $$CASE WHEN removed_at IS NULL THEN 'active' ELSE 'removed' END$$, $$''$$),
    ('products', 'products', 'status', $$''$$),
    ('validation_results', 'validation_results', $$CASE WHEN passed THEN 'passed' ELSE 'failed' END$$, $$''$$),
    ('channel_listings', 'channel_listings', 'channel', 'actual_state'),
    ('orders', 'orders', 'channel', $$coalesce(current_status, 'none')$$),
    ('operator_commands', 'operator_commands', 'status', $$''$$),
    ('listing_drafts', 'listing_drafts', 'channel', 'status'),
    ('ops_tasks', 'ops_tasks', 'kind', 'status');

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM kpi_counted LOOP
        EXECUTE format(
            'CREATE TRIGGER %1$s_kpi_insert AFTER INSERT ON retail.%1$I REFERENCING NEW TABLE AS new_rows
                 FOR EACH STATEMENT EXECUTE FUNCTION retail.kpi_count(%2$L, %3$L, %4$L)',
            c.tbl, c.metric, c.dim1, c.dim2);
        EXECUTE format(
            'CREATE TRIGGER %1$s_kpi_update AFTER UPDATE ON retail.%1$I
                 REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                 FOR EACH STATEMENT EXECUTE FUNCTION retail.kpi_count(%2$L, %3$L, %4$L)',
            c.tbl, c.metric, c.dim1, c.dim2);
        EXECUTE format(
            'CREATE TRIGGER %1$s_kpi_delete AFTER DELETE ON retail.%1$I REFERENCING OLD TABLE AS old_rows
                 FOR EACH STATEMENT EXECUTE FUNCTION retail.kpi_count(%2$L, %3$L, %4$L)',
            c.tbl, c.metric, c.dim1, c.dim2);
        EXECUTE format(
            'CREATE TRIGGER %1$s_kpi_truncate AFTER TRUNCATE ON retail.%1$I
                 FOR EACH STATEMENT EXECUTE FUNCTION retail.kpi_count(%2$L, %3$L, %4$L)',
            c.tbl, c.metric, c.dim1, c.dim2);
        -- Seed from what is there, after the triggers: creating them locked out writers until this
        -- transaction commits, so no write is counted twice or missed.
        EXECUTE format(
            'INSERT INTO retail.kpi_counts (metric, dim1, dim2, n)
             SELECT %L, d1, d2, count(*) FROM (SELECT %s, %s FROM retail.%I) r(d1, d2) GROUP BY d1, d2',
            c.metric, c.dim1, c.dim2, c.tbl);
    END LOOP;
END
$$;
