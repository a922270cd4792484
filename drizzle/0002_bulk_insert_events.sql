-- Bulk inserts at the trigger's limit: one append per statement, one NOTIFY per statement.
--
-- What was slow
-- -------------
-- `orders.createMany` inserts 1,000 rows in one statement; 0001's deferred row trigger then runs
-- 1,000 times at COMMIT, under the position lock: a PL/pgSQL call, an INSERT and a NOTIFY with a
-- distinct payload per row. Measured on one database (bulk of 1,000, fsync off, the row trigger
-- against the statement trigger below): 96-116 ms against 55-60 ms per 1,000 rows; a plain
-- table without triggers takes 13-20 ms. BENCHMARKS.md has the end-to-end figures.
--
-- One NOTIFY per statement
-- ------------------------
-- The listener reads the log after its position whatever a notification says. The statement
-- trigger below notifies once, with the last position it appended, instead of once per row.
-- Row-level appends keep notifying each event's id as in 0001 (the contract says so, and an
-- empty payload folded per transaction measured within the noise for the writer).
--
-- One append per statement, for the API's single-statement inserts
-- ------------------------------------------------------------------
-- A statement-level trigger sees every inserted row at once in a transition table and appends
-- their events with one INSERT ... SELECT. Constraint triggers, the only deferrable ones, cannot
-- be statement-level, so it runs at the end of its statement, not at COMMIT: it takes the
-- position lock there and holds it until the transaction ends. For a statement that is its own
-- transaction that is the same moment, and order stays commit order exactly as in 0001 (the
-- lock is still released only once the commit is visible). For a long transaction it would
-- mean holding every other writer up while it runs, which is why it is not the default: it
-- applies only when the transaction says `live_orders.append = 'per_statement'`, as the API's
-- one-statement `orders.create`/`createMany` do. Every other write, raw SQL included, keeps
-- 0001's deferred row trigger, whose WHEN skips rows of such transactions (the WHEN is
-- evaluated as each row is written), so no row is appended twice or missed. The setting is
-- meant for a transaction that is one INSERT: one that set it and then also updated or deleted
-- would have those appended at COMMIT, after inserts it made later.
--
-- The contract stays as it was: events in the order the rows were inserted (identities are
-- drawn in insertion order, so ORDER BY id), each naming the transaction's actor, positions in
-- commit order with no gaps reordered. Updates and deletes keep the row trigger: an update
-- that changes no field appends nothing and keeps its version.

CREATE OR REPLACE FUNCTION order_events_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  position bigint;
  kind order_event_type;
  state jsonb;
  delta jsonb;
BEGIN
  -- Serializes commits that append events; see 0001's header. The key is arbitrary but fixed.
  PERFORM pg_advisory_xact_lock(7305861045390211);

  IF TG_OP = 'INSERT' THEN
    kind := 'created';
    state := order_json(NEW);
  ELSIF TG_OP = 'DELETE' THEN
    kind := 'deleted';
    state := order_json(OLD);
  ELSE
    kind := 'updated';
    state := order_json(NEW);
    SELECT jsonb_object_agg(n.key, jsonb_build_object('from', o.value, 'to', n.value))
      INTO delta
      FROM jsonb_each(state) n
      JOIN jsonb_each(order_json(OLD)) o USING (key)
     WHERE n.value IS DISTINCT FROM o.value
       AND n.key NOT IN ('version', 'updatedAt');
    IF delta IS NULL THEN
      RETURN NULL;
    END IF;
  END IF;

  position := nextval('order_events_id_seq');
  INSERT INTO order_events (id, type, order_id, "order", changes, actor, at)
  VALUES (
    position,
    kind,
    (state->>'id')::bigint,
    state,
    delta,
    -- The API names its caller per transaction; anyone else is their database role.
    coalesce(nullif(current_setting('live_orders.actor', true), ''), 'sql:' || current_user),
    clock_timestamp()
  );
  PERFORM pg_notify('order_events', position::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint

CREATE FUNCTION order_events_append_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  last_position bigint;
BEGIN
  IF NOT EXISTS (SELECT FROM inserted) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(7305861045390211);
  -- nextval in the outer query, so positions follow the sorted rows.
  WITH appended AS (
    INSERT INTO order_events (id, type, order_id, "order", changes, actor, at)
    SELECT nextval('order_events_id_seq'), 'created', s.id, s.state, NULL,
           coalesce(nullif(current_setting('live_orders.actor', true), ''), 'sql:' || current_user),
           clock_timestamp()
      FROM (SELECT i.id, order_json(i::orders) AS state FROM inserted i ORDER BY i.id) s
    RETURNING id
  )
  SELECT max(id) INTO last_position FROM appended;
  -- One notification for the statement, naming the last position it appended.
  PERFORM pg_notify('order_events', last_position::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint

CREATE TRIGGER orders_append_events_per_statement
AFTER INSERT ON orders
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT
WHEN (current_setting('live_orders.append', true) = 'per_statement')
EXECUTE FUNCTION order_events_append_inserted();
--> statement-breakpoint

-- 0001's insert-or-delete trigger, split so that only its inserts give way to the above.
DROP TRIGGER orders_append_event_on_insert_delete ON orders;
--> statement-breakpoint

CREATE CONSTRAINT TRIGGER orders_append_event_on_insert
AFTER INSERT ON orders
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW
WHEN (current_setting('live_orders.append', true) IS DISTINCT FROM 'per_statement')
EXECUTE FUNCTION order_events_append();
--> statement-breakpoint

CREATE CONSTRAINT TRIGGER orders_append_event_on_delete
AFTER DELETE ON orders
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW
EXECUTE FUNCTION order_events_append();
