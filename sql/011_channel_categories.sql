-- Issue 11: a product's category on each channel, from the channel's own taxonomy, and the attributes
-- filled for it (the `channel_categories` asset; an operator's pick through the sidecar).

-- One row per (product, channel with a taxonomy). status: chosen (category_id set: automatically when
-- the channel's top suggestion was confident and clearly ahead, else by an operator), needs_choice (an
-- ops task with the candidates waits for the operator), no_category (the channel has none that fits:
-- the draft says so), failed (the taxonomy could not be asked: retried next run).
CREATE TABLE retail.channel_categories (
    product_id        bigint NOT NULL REFERENCES retail.products (id) ON DELETE CASCADE,
    channel           retail.channel NOT NULL,
    status            text NOT NULL CHECK (status IN ('chosen', 'needs_choice', 'no_category', 'failed')),
    category_id       text,
    category_path     text,
    confidence        numeric(4, 3) CHECK (confidence BETWEEN 0 AND 1),
    chosen_by         text CHECK (chosen_by IN ('auto', 'operator')),
    chosen_by_actor   text,                                  -- the operator's key prefix
    reason            text,                                  -- why it was (not) chosen
    candidates        jsonb NOT NULL DEFAULT '[]',           -- [{category_id, path, confidence}], best first
    query             jsonb NOT NULL DEFAULT '{}',           -- what the taxonomy was asked
    query_hash        text NOT NULL,                         -- the question: a new one asks again
    attributes        jsonb NOT NULL DEFAULT '{}',           -- filled for category_id (name -> value or [values])
    missing_required  text[] NOT NULL DEFAULT '{}',          -- required attributes nobody could fill
    attributes_hash   text,                                  -- the fill's input (product, schema, model): cached
    enricher          text,                                  -- llm | offline: who filled them
    model             text,
    prompt_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    llm_attempts      integer NOT NULL DEFAULT 0,
    task_id           bigint REFERENCES retail.ops_tasks (id) ON DELETE SET NULL,
    error             text,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, channel),
    CONSTRAINT channel_categories_chosen CHECK ((status = 'chosen') = (category_id IS NOT NULL AND chosen_by IS NOT NULL))
);
CREATE INDEX channel_categories_waiting_idx ON retail.channel_categories (channel, status) WHERE status <> 'chosen';

-- What a category takes, per channel: its attribute schema (a JSON Schema object), asked once.
CREATE TABLE retail.category_attribute_schemas (
    channel     retail.channel NOT NULL,
    category_id text NOT NULL,
    schema      jsonb NOT NULL,
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, category_id)
);

-- The operator's category choice is an ops task kind.
ALTER TABLE retail.ops_tasks DROP CONSTRAINT ops_tasks_kind_check;
ALTER TABLE retail.ops_tasks ADD CONSTRAINT ops_tasks_kind_check CHECK (kind IN (
    'run_failure', 'scrape_error', 'enrichment_failed', 'import_error', 'webhook_error',
    'invalid_draft', 'publish_failed', 'unknown_remote_listing', 'command_human_required',
    'acceptance_failed', 'label_failed', 'short_pick', 'tracking_failed', 'message_waiting',
    'category_choice', 'other'));
