-- 012 — which channels a product goes to: per supplier (the default for its products) and per product
-- (an override). NULL = no choice made: a product follows its supplier, a supplier every listing channel.
-- An empty array lists nowhere. The sidecar checks names against the channel registry's listing
-- channels (the domain below only knows every channel name).

ALTER TABLE retail.suppliers ADD COLUMN channels retail.channel[];
ALTER TABLE retail.products ADD COLUMN channels retail.channel[];

-- Whether the product is to be sold on the channel: its own choice, else its supplier's, else yes.
CREATE FUNCTION retail.sells_on(p_product_id bigint, p_channel text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(p_channel = ANY (CAST(coalesce(p.channels, s.channels) AS text[])), true)
      FROM retail.products p
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
      JOIN retail.suppliers s ON s.id = sp.supplier_id
     WHERE p.id = p_product_id
$$;
