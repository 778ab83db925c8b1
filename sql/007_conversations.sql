-- 007 — customer service in the console: thread statuses, read state, saved replies, manual replies.
--
-- Statuses (a helpdesk's usual four): open (needs us), pending (we wait for the buyer), snoozed
-- (hidden until snoozed_until), resolved (was 'closed'). A new inbound message reopens any of them;
-- the message sync does that, not a trigger, so a seed or a backfill can still write what it means.
--
-- Read state: last_read_message_id is the newest message an agent has seen; unread_count the inbound
-- messages after it. last_message_id / last_activity_at / unread_count are kept by a statement-level
-- trigger on retail.messages, whoever inserts (sync, replies, a seed), so the thread list never
-- counts messages per thread: a page is one index range on (status, last_activity_at, id).

ALTER TABLE retail.conversations DROP CONSTRAINT conversations_status_check;
UPDATE retail.conversations SET status = 'resolved' WHERE status = 'closed';
ALTER TABLE retail.conversations
    ADD CONSTRAINT conversations_status_check CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    ADD COLUMN snoozed_until        timestamptz,
    ADD COLUMN last_read_message_id bigint,
    ADD COLUMN last_message_id      bigint,
    ADD COLUMN last_activity_at     timestamptz,
    ADD COLUMN unread_count         integer NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    ADD CONSTRAINT conversations_snoozed_until CHECK ((status = 'snoozed') = (snoozed_until IS NOT NULL));

-- What is already there: read up to our last outbound message (we answered, so someone read it).
UPDATE retail.conversations c
   SET last_message_id = s.last_id,
       last_activity_at = coalesce(s.last_at, c.created_at),
       last_read_message_id = s.last_outbound_id,
       unread_count = s.unread
  FROM (SELECT c2.id,
               max(m.id) AS last_id,
               max(coalesce(m.sent_at, m.created_at)) AS last_at,
               max(m.id) FILTER (WHERE m.direction = 'outbound') AS last_outbound_id,
               count(m.id) FILTER (WHERE m.direction = 'inbound'
                                     AND m.id > coalesce((SELECT max(o.id) FROM retail.messages o
                                                           WHERE o.conversation_id = c2.id
                                                             AND o.direction = 'outbound'), 0)) AS unread
          FROM retail.conversations c2 LEFT JOIN retail.messages m ON m.conversation_id = c2.id
         GROUP BY c2.id) s
 WHERE c.id = s.id;
ALTER TABLE retail.conversations
    ALTER COLUMN last_activity_at SET DEFAULT now(),
    ALTER COLUMN last_activity_at SET NOT NULL;

CREATE FUNCTION retail.messages_touch_conversation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE retail.conversations c
       SET last_message_id = greatest(c.last_message_id, n.max_id),
           -- a thread's first messages set its activity (a synced old thread is not "new"); later ones move it on
           last_activity_at = CASE WHEN c.last_message_id IS NULL THEN n.at ELSE greatest(c.last_activity_at, n.at) END,
           unread_count = c.unread_count + n.inbound
      FROM (SELECT conversation_id, max(id) AS max_id, max(coalesce(sent_at, created_at)) AS at,
                   count(*) FILTER (WHERE direction = 'inbound') AS inbound
              FROM new_rows GROUP BY conversation_id) n
     WHERE c.id = n.conversation_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_touch_conversation
    AFTER INSERT ON retail.messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION retail.messages_touch_conversation();

-- The thread list: a status tab (or all), newest activity first, keyset on (last_activity_at, id).
CREATE INDEX conversations_by_status_idx ON retail.conversations (status, last_activity_at DESC, id DESC);
CREATE INDEX conversations_by_activity_idx ON retail.conversations (last_activity_at DESC, id DESC);
CREATE INDEX conversations_unread_idx ON retail.conversations (status, last_activity_at DESC, id DESC)
    WHERE unread_count > 0;
-- Snoozed threads whose time has come are woken by one range scan.
CREATE INDEX conversations_snoozed_idx ON retail.conversations (snoozed_until) WHERE status = 'snoozed';
-- A thread's messages in insertion order: the thread view, collision checks, unread recounts.
CREATE INDEX messages_conversation_id_idx ON retail.messages (conversation_id, id);

-- Search (the embedded server has no pg_trgm): the words of a thread's subject, buyer's name, order id
-- and thread id in one tsvector kept by a trigger, so a search is one GIN lookup for a rare term, or a
-- walk of the activity index checking a stored vector for a common one (the planner picks).
ALTER TABLE retail.conversations ADD COLUMN search_words tsvector NOT NULL DEFAULT ''::tsvector;
CREATE FUNCTION retail.conversation_search_words(c retail.conversations) RETURNS tsvector
LANGUAGE sql STABLE AS $$
    -- ids with their punctuation as spaces too: the parser reads "O-707" as 'o' and the number '-707'
    SELECT to_tsvector('simple', concat_ws(' ', s.subject, s.name, s.ids, regexp_replace(s.ids, '[^[:alnum:]]+', ' ', 'g')))
      FROM (SELECT c.subject, (SELECT name FROM retail.customers WHERE id = c.customer_id) AS name,
                   concat_ws(' ', c.external_thread_id,
                             (SELECT external_order_id FROM retail.orders WHERE id = c.order_id)) AS ids) s
$$;
CREATE FUNCTION retail.conversations_set_search_words() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_words := retail.conversation_search_words(NEW);
    RETURN NEW;
END
$$;
CREATE TRIGGER conversations_search_words
    BEFORE INSERT OR UPDATE OF subject, external_thread_id, customer_id, order_id ON retail.conversations
    FOR EACH ROW EXECUTE FUNCTION retail.conversations_set_search_words();
UPDATE retail.conversations c SET search_words = retail.conversation_search_words(c);
CREATE INDEX conversations_search_words_idx ON retail.conversations USING gin (search_words);
CREATE INDEX conversations_customer_idx ON retail.conversations (customer_id);

-- The status tabs' counts (total, and with unread messages) as kpi_counts deltas (see 003): the list
-- never counts threads. dim1 = status, dim2 = unread | read.
CREATE TRIGGER conversations_kpi_insert AFTER INSERT ON retail.conversations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION retail.kpi_count(
        'conversations', 'status', $$CASE WHEN unread_count > 0 THEN 'unread' ELSE 'read' END$$);
CREATE TRIGGER conversations_kpi_update AFTER UPDATE ON retail.conversations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION retail.kpi_count(
        'conversations', 'status', $$CASE WHEN unread_count > 0 THEN 'unread' ELSE 'read' END$$);
CREATE TRIGGER conversations_kpi_delete AFTER DELETE ON retail.conversations REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION retail.kpi_count(
        'conversations', 'status', $$CASE WHEN unread_count > 0 THEN 'unread' ELSE 'read' END$$);
CREATE TRIGGER conversations_kpi_truncate AFTER TRUNCATE ON retail.conversations
    FOR EACH STATEMENT EXECUTE FUNCTION retail.kpi_count('conversations', 'status', $$''$$);
-- Seeded after the triggers exist (this transaction holds their lock: nothing is counted twice).
INSERT INTO retail.kpi_counts (metric, dim1, dim2, n)
SELECT 'conversations', status, CASE WHEN unread_count > 0 THEN 'unread' ELSE 'read' END, count(*)
  FROM retail.conversations GROUP BY 2, 3;

-- A person's reply carries the idempotency key its form was rendered with: a double click, or a
-- retry after a crash, finds the same row instead of posting again.
ALTER TABLE retail.messages
    ADD COLUMN idempotency_key text UNIQUE,
    ADD CONSTRAINT messages_idempotency_key_outbound CHECK (idempotency_key IS NULL OR direction = 'outbound');

-- Saved replies: the answers agents give again and again. {name} and {order} are filled from the
-- thread when offered.
CREATE TABLE retail.saved_replies (
    id         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    title      text NOT NULL UNIQUE CHECK (length(btrim(title)) BETWEEN 1 AND 120),
    body       text NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 5000),
    created_by text,                                        -- the API key's label or prefix
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER saved_replies_updated_at BEFORE UPDATE ON retail.saved_replies
    FOR EACH ROW EXECUTE FUNCTION retail.set_updated_at();

INSERT INTO retail.saved_replies (title, body) VALUES
    ('Tracking details',
     E'Hello {name},\n\nYour order {order} is on its way. You can follow it with the tracking link in your order page; '
     'parcels usually arrive within 2 to 5 business days.\n\nCustomer Service'),
    ('Shipping today',
     E'Hello {name},\n\nThank you for your patience. Your order {order} is packed and leaves our warehouse today; '
     'you will receive the tracking number as soon as the carrier scans it.\n\nCustomer Service'),
    ('Return instructions',
     E'Hello {name},\n\nSorry the item did not work out. Please open a return request for order {order} from your '
     'marketplace account within 30 days of delivery; once the item is back with us, the refund goes to your original '
     'payment method within 5 business days.\n\nCustomer Service'),
    ('Damaged on arrival',
     E'Hello {name},\n\nWe are sorry your order {order} arrived damaged. Could you reply with a photo of the item and '
     'the box? We will send a replacement or refund you in full, and you will not need to pay for the return.\n\n'
     'Customer Service'),
    ('Still available',
     E'Hello {name},\n\nYes, the item is in stock and ships within one business day of your order.\n\n'
     'Customer Service');
