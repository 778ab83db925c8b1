-- 014 — sync you can review (issue 12): detection and reconciliation as separate runs. An event keeps the
-- detection run that last saw it (run_id) and gains the run that applied it (applied_run_id; NULL when the
-- sidecar applied one event by hand), so a run's events can be counted and a detection applied later.

ALTER TABLE retail.sync_events ADD COLUMN applied_run_id text;
CREATE INDEX sync_events_run_idx ON retail.sync_events (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX sync_events_applied_run_idx ON retail.sync_events (applied_run_id) WHERE applied_run_id IS NOT NULL;
