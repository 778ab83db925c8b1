-- A scrape looks up the validators of the product pages it is about to fetch, a chunk of URLs at a
-- time (rather than loading every row of the supplier up front): this index answers each chunk.
CREATE INDEX supplier_products_page_idx ON retail.supplier_products (supplier_id, url)
    WHERE removed_at IS NULL AND url IS NOT NULL;
