-- The heart of live-orders: every committed change of a row of `orders`, by the API or by
-- anyone with a SQL prompt, appends exactly one row to `order_events` in the same transaction
-- and NOTIFYs its position.
--
-- Why positions follow commit order
-- ---------------------------------
-- Readers resume "after position N", so once a reader has seen N no smaller position may become
-- visible later. A sequence taken when the row is written does not give that: a transaction
-- that took 10 can commit after one that took 11, and a reader that saw 11 would skip 10.
--
-- So positions are taken at commit, not at write: the event is appended by a DEFERRED
-- constraint trigger, which PostgreSQL runs at COMMIT, and that trigger first takes a
-- transaction-scoped advisory lock. The lock is released only after the commit is complete
-- and visible, so the next transaction can take a position only after every smaller position
-- is visible (or rolled back, which leaves a gap, never a reordering). Events of one
-- transaction get consecutive positions in the order its changes were made.
--
-- What it costs: committing transactions that changed orders run one at a time from their
-- first event insert to the end of their commit (the WAL flush included). A long transaction
-- does not hold anybody up while it runs, only for its own commit. `SET CONSTRAINTS ALL
-- IMMEDIATE` would make the trigger fire early and hold the lock longer: still correct.
--
-- Why the OLD/NEW rows are right at commit: PostgreSQL queues deferred row triggers with the
-- exact row versions of each change, so a row inserted then updated in one transaction yields
-- 'created' with its first state, then 'updated'.

-- The JSON shape of an Order (shared/orders.ts), timestamps as JavaScript's toISOString().
CREATE FUNCTION order_json(o orders) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', o.id::text,
    'customerName', o.customer_name,
    'productName', o.product_name,
    'status', o.status,
    'version', o.version,
    'createdAt', to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'updatedAt', to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
  )
$$;
--> statement-breakpoint

-- `version` and `updated_at` belong to the database, so raw SQL writes keep them right too.
-- A write that changes no field keeps both as they were, and so appends no event.
CREATE FUNCTION orders_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.version := 1;
    NEW.updated_at := NEW.created_at;
    RETURN NEW;
  END IF;
  IF NEW.id IS DISTINCT FROM OLD.id THEN
    RAISE EXCEPTION 'orders.id cannot be changed (order %)', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF (to_jsonb(NEW) - 'version' - 'updated_at') = (to_jsonb(OLD) - 'version' - 'updated_at') THEN
    NEW.version := OLD.version;
    NEW.updated_at := OLD.updated_at;
  ELSE
    NEW.version := OLD.version + 1;
    NEW.updated_at := clock_timestamp();
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint

CREATE TRIGGER orders_before_write
BEFORE INSERT OR UPDATE ON orders
FOR EACH ROW EXECUTE FUNCTION orders_before_write();
--> statement-breakpoint

CREATE FUNCTION order_events_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  position bigint;
  kind order_event_type;
  state jsonb;
  delta jsonb;
BEGIN
  -- Serializes commits that append events; see the header. The key is arbitrary but fixed.
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

CREATE CONSTRAINT TRIGGER orders_append_event_on_insert_delete
AFTER INSERT OR DELETE ON orders
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION order_events_append();
--> statement-breakpoint

-- A write that changed nothing leaves the row equal (see orders_before_write) and is not queued.
CREATE CONSTRAINT TRIGGER orders_append_event_on_update
AFTER UPDATE ON orders
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW
WHEN (OLD.* IS DISTINCT FROM NEW.*)
EXECUTE FUNCTION order_events_append();
--> statement-breakpoint

-- TRUNCATE skips row triggers and would empty `orders` behind the log's back.
CREATE FUNCTION orders_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'TRUNCATE of orders is refused: it would bypass the event log; use DELETE FROM orders'
    USING ERRCODE = 'feature_not_supported';
END
$$;
--> statement-breakpoint

CREATE TRIGGER orders_refuse_truncate
BEFORE TRUNCATE ON orders
FOR EACH STATEMENT EXECUTE FUNCTION orders_refuse_truncate();
