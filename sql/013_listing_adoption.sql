-- 013 — adopting the listings a shop already has on its channels (issue 12).

-- A product has at most one listing per channel: an adopted listing and a draft of the same product
-- meet in one row (publish's SYNC_INTENT conflicts on this key), never two remote listings. Rows
-- written so far come from drafts, which are one per (product, channel) with the product's SKU, so
-- existing data satisfies it.
CREATE UNIQUE INDEX channel_listings_channel_product_key ON retail.channel_listings (channel, product_id);

-- `listing_adoption` replaces `unknown_remote_listing`: one task per remote listing we did not make,
-- with the products it may be (adopt one / create a product from the listing / ignore). Open tasks of
-- the old kind carry on under the new one.
UPDATE retail.ops_tasks
   SET kind = 'listing_adoption',
       dedupe_key = regexp_replace(dedupe_key, '^unknown_remote_listing:', 'listing_adoption:')
 WHERE kind = 'unknown_remote_listing';
ALTER TABLE retail.ops_tasks DROP CONSTRAINT ops_tasks_kind_check;
ALTER TABLE retail.ops_tasks ADD CONSTRAINT ops_tasks_kind_check CHECK (kind IN (
    'run_failure', 'scrape_error', 'enrichment_failed', 'import_error', 'webhook_error',
    'invalid_draft', 'publish_failed', 'listing_adoption', 'command_human_required',
    'acceptance_failed', 'label_failed', 'short_pick', 'tracking_failed', 'message_waiting',
    'category_choice', 'other'));
