-- Real parcel weights and boxes (issue 13). Units: grams and millimetres on products, centimetres
-- (one decimal, as Canada Post takes them) on the shipment.

-- What the supplier says about one unit (Shopify variant grams, schema.org weight/depth/width/height,
-- page text); null when it says nothing usable.
ALTER TABLE retail.supplier_products
    ADD COLUMN weight_grams integer CHECK (weight_grams BETWEEN 1 AND 70000),
    ADD COLUMN length_mm    integer CHECK (length_mm BETWEEN 1 AND 3000),
    ADD COLUMN width_mm     integer CHECK (width_mm BETWEEN 1 AND 3000),
    ADD COLUMN height_mm    integer CHECK (height_mm BETWEEN 1 AND 3000);

-- The unit parcel labels use: the supplier's figures, else the enrichment model's estimate (kept in
-- parcel_estimate with its reason), else the category default; parcel_source says which.
ALTER TABLE retail.products
    ADD COLUMN parcel_estimate jsonb CHECK (parcel_estimate IS NULL OR jsonb_typeof(parcel_estimate) = 'object'),
    ADD COLUMN weight_grams    integer CHECK (weight_grams BETWEEN 1 AND 70000),
    ADD COLUMN length_mm       integer CHECK (length_mm BETWEEN 1 AND 3000),
    ADD COLUMN width_mm        integer CHECK (width_mm BETWEEN 1 AND 3000),
    ADD COLUMN height_mm       integer CHECK (height_mm BETWEEN 1 AND 3000),
    ADD COLUMN parcel_source   text CHECK (parcel_source IN ('supplier', 'estimate', 'category_default')),
    ADD COLUMN parcel_reason   text,
    ADD CONSTRAINT products_parcel_complete CHECK (
        (weight_grams IS NULL) = (parcel_source IS NULL)
        AND (weight_grams IS NULL OR (length_mm IS NOT NULL AND width_mm IS NOT NULL AND height_mm IS NOT NULL)));

-- The parcel sent to the carrier: its box, which source its weight came from ('mixed' when the lines
-- differ), and per line the unit weight, box and source used.
ALTER TABLE retail.shipments
    ADD COLUMN length_cm     numeric(6,1) CHECK (length_cm > 0),
    ADD COLUMN width_cm      numeric(6,1) CHECK (width_cm > 0),
    ADD COLUMN height_cm     numeric(6,1) CHECK (height_cm > 0),
    ADD COLUMN parcel_source text CHECK (parcel_source IN ('supplier', 'estimate', 'category_default', 'mixed')),
    ADD COLUMN parcel_lines  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(parcel_lines) = 'array');
