-- 004 — API call budgets shared by every process (Dagster runs, sensors, the sidecar).
--
-- Trade Me allows 1,000 calls per clock hour, eBay a quota per day. Each process takes calls from the
-- row of its API's current window before sending; the taking is one statement
--     INSERT … ON CONFLICT (api, window_start) DO UPDATE SET spent = spent + n WHERE spent + n <= limit
-- so the row lock serialises concurrent takers and together they never pass the limit. The limit is
-- the taker's (its settings), kept on the row so a person can read the state of a window.

CREATE TABLE retail.call_budgets (
    api          text        NOT NULL,              -- "trademe", "ebay"
    window_start timestamptz NOT NULL,              -- start of the hour or day the calls count in
    call_limit   integer     NOT NULL CHECK (call_limit > 0),
    spent        integer     NOT NULL CHECK (spent >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api, window_start)
);
