-- A channel that refuses automated work until a person signs in again (a bot-protection challenge on
-- a website driven by a browser) opens one ops task of kind 'channel_sign_in' per channel.
-- The kind is added to whatever kinds the constraint allows when this runs (other migrations of the
-- same release add theirs too), not to a list copied here.
DO $$
DECLARE
    kinds text[];
BEGIN
    SELECT array_agg(DISTINCT m[1] ORDER BY m[1])
      INTO kinds
      FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') AS m
     WHERE c.conname = 'ops_tasks_kind_check' AND c.conrelid = 'retail.ops_tasks'::regclass;
    IF NOT 'channel_sign_in' = ANY (kinds) THEN
        kinds := array_append(kinds, 'channel_sign_in');
    END IF;
    ALTER TABLE retail.ops_tasks DROP CONSTRAINT ops_tasks_kind_check;
    EXECUTE format('ALTER TABLE retail.ops_tasks ADD CONSTRAINT ops_tasks_kind_check CHECK (kind = ANY (%L::text[]))',
                   kinds);
END
$$;
