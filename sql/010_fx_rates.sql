-- 010 — exchange rates: the European Central Bank's euro reference rates (the `fx_rates` asset upserts
-- the last 90 days of them), and the rate each price was converted with.
--
-- One row per publication day and currency: `rate` units of `currency` buy one euro (the ECB's quote).
-- Cross rates go through EUR: from→to = rate[to] / rate[from]. Weekends and TARGET holidays have no
-- rows; pricing takes the latest rate on or before its day.

CREATE TABLE retail.fx_rates (
    rate_date   date NOT NULL,
    currency    retail.currency NOT NULL CHECK (currency <> 'EUR'),
    rate        numeric(18,6) NOT NULL CHECK (rate > 0),
    source      text NOT NULL DEFAULT 'ecb',
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rate_date, currency)
);
CREATE INDEX fx_rates_currency_idx ON retail.fx_rates (currency, rate_date DESC);

-- The conversion behind a price (NULL: no conversion, the supplier's currency is the channel's, or an
-- operator's own price).
ALTER TABLE retail.price_history
    ADD COLUMN fx_rate   numeric(18,6) CHECK (fx_rate > 0),
    ADD COLUMN fx_date   date,
    ADD COLUMN fx_source text;
