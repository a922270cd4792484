-- EVENT_ORDERING=sequenced: writers that never wait for each other.
--
-- What was slow
-- -------------
-- In commit ordering (0001, 0002) every transaction that changes orders takes the position lock
-- and sends a NOTIFY at COMMIT, and PostgreSQL holds both until the commit's WAL flush is done:
-- such commits pass one at a time and never share a flush (issue 20 has the numbers).
--
-- What sequenced ordering does instead
-- ------------------------------------
-- The trigger only appends: the event goes to `order_events_pending` in the writer's own
-- transaction, with no position, no exclusive lock and no NOTIFY. A sequencer (the function
-- order_events_sequence() below, called often by every server node) then, in one short
-- transaction: locks the head row (so two sequencers never overlap; a row lock lives in the
-- transaction, so this works through a transaction-mode pooler and needs no leader), moves
-- every *committed* pending event into `order_events` with the next positions, and sends one
-- NOTIFY naming the last one. Uncommitted events are invisible to it, so an open transaction
-- holds nobody up; its events are positioned by the first batch after it commits.
--
-- Why that keeps the log's promises
-- ---------------------------------
-- * Positions only grow in the order readers can see them: a batch is one transaction, taking
--   positions after the head under the head's lock, so every batch's positions are above every
--   earlier batch's, and all of a batch becomes visible at once.
-- * Dense and never reused: positions are `head + row_number()`, not a sequence, so a batch
--   that is killed, or a database that restarts mid-batch, rolls back whole: no number is
--   consumed, every event is still pending, and the next batch positions it once.
-- * A transaction's events together, in statement order: the batch orders by (the
--   transaction's last `seq`, `seq`); `seq` is drawn as each event is appended.
-- * Two transactions that change the same row get positions in commit order: the second
--   could write the row only after the first committed, so all of its `seq`s (drawn at its
--   COMMIT by the deferred trigger, or at its statement's end) are above all of the first's,
--   and either they are in one batch, ordered by last `seq`, or the second in a later one.
--
-- Switching modes
-- ---------------
-- The mode lives in `order_events_head.ordering`, read by the trigger as it appends; the
-- server sets it at start-up (EVENT_ORDERING) with order_events_set_ordering(). Every
-- appender holds the mode lock (key 7305861045390212) in shared mode from reading the mode to
-- its commit; a switch takes it exclusively, so it waits until every append of the old mode
-- has committed or rolled back, then positions every pending event in the same transaction.
-- So the old mode's events are all positioned before the new mode's first one. Sequencing
-- and commit-time appends also share the position lock (key 7305861045390211): a sequencer
-- never computes the head while a commit-time append is between taking its position and
-- becoming visible, so the two can even run side by side (a REPEATABLE READ transaction that
-- began before a switch still reads the old mode) without a position taken twice.

CREATE OR REPLACE FUNCTION order_events_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  position bigint;
  kind order_event_type;
  state jsonb;
  delta jsonb;
BEGIN
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

  -- Shared: appenders never wait for each other here, only for a switch of mode.
  PERFORM pg_advisory_xact_lock_shared(7305861045390212);
  IF (SELECT ordering FROM order_events_head) = 'sequenced' THEN
    INSERT INTO order_events_pending (type, order_id, "order", changes, actor)
    VALUES (
      kind,
      (state->>'id')::bigint,
      state,
      delta,
      coalesce(nullif(current_setting('live_orders.actor', true), ''), 'sql:' || current_user)
    );
    RETURN NULL;
  END IF;

  -- Commit ordering: serializes commits that append events; see 0001's header.
  PERFORM pg_advisory_xact_lock(7305861045390211);
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

CREATE OR REPLACE FUNCTION order_events_append_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  last_position bigint;
BEGIN
  IF NOT EXISTS (SELECT FROM inserted) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock_shared(7305861045390212);
  IF (SELECT ordering FROM order_events_head) = 'sequenced' THEN
    -- nextval in the outer query, so `seq` follows the sorted rows.
    INSERT INTO order_events_pending (seq, type, order_id, "order", changes, actor)
    SELECT nextval('order_events_pending_seq_seq'), 'created', s.id, s.state, NULL,
           coalesce(nullif(current_setting('live_orders.actor', true), ''), 'sql:' || current_user)
      FROM (SELECT i.id, order_json(i::orders) AS state FROM inserted i ORDER BY i.id) s;
    RETURN NULL;
  END IF;

  PERFORM pg_advisory_xact_lock(7305861045390211);
  WITH appended AS (
    INSERT INTO order_events (id, type, order_id, "order", changes, actor, at)
    SELECT nextval('order_events_id_seq'), 'created', s.id, s.state, NULL,
           coalesce(nullif(current_setting('live_orders.actor', true), ''), 'sql:' || current_user),
           clock_timestamp()
      FROM (SELECT i.id, order_json(i::orders) AS state FROM inserted i ORDER BY i.id) s
    RETURNING id
  )
  SELECT max(id) INTO last_position FROM appended;
  PERFORM pg_notify('order_events', last_position::text);
  RETURN NULL;
END
$$;
--> statement-breakpoint

-- The sequencer: positions every committed pending event, in one batch; returns the last
-- position it gave, or NULL when there was nothing to position. Call it as a statement of its
-- own (READ COMMITTED): each statement below then sees what committed before it began, so
-- the move sees everything committed up to the moment both locks were held. Called inside a
-- REPEATABLE READ transaction that locked the head first (orders.list), it positions exactly
-- what that transaction's snapshot sees.
CREATE FUNCTION order_events_sequence() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  base bigint;
  appended bigint;
BEGIN
  -- No committed event waiting: no lock, no write; an idle poll costs one index probe.
  IF NOT EXISTS (SELECT FROM order_events_pending ORDER BY seq LIMIT 1) THEN
    RETURN NULL;
  END IF;
  SELECT last INTO base FROM order_events_head FOR UPDATE;
  -- A commit-time append between taking its position and becoming visible holds this lock:
  -- wait for it, so the head computed below is above its position.
  PERFORM pg_advisory_xact_lock(7305861045390211);
  base := greatest(
    base,
    (SELECT max(id) FROM order_events),
    (SELECT through FROM order_events_pruned)
  );
  WITH moved AS (
    DELETE FROM order_events_pending RETURNING *
  ), ordered AS (
    SELECT m.*, max(m.seq) OVER (PARTITION BY m.xid) AS xact_last FROM moved m
  )
  INSERT INTO order_events (id, type, order_id, "order", changes, actor, at)
  SELECT base + row_number() OVER (ORDER BY xact_last, seq), type, order_id, "order", changes, actor, at
    FROM ordered;
  GET DIAGNOSTICS appended = ROW_COUNT;
  IF appended = 0 THEN
    RETURN NULL;
  END IF;
  UPDATE order_events_head SET last = base + appended;
  -- Commit-time appends (after a switch back) go on above this batch.
  PERFORM setval('order_events_id_seq', greatest(base + appended, (SELECT last_value FROM order_events_id_seq)));
  PERFORM pg_notify('order_events', (base + appended)::text);
  RETURN base + appended;
END
$$;
--> statement-breakpoint

-- Sets the ordering mode, and positions every event the old mode left pending (see the
-- header); returns the last position given, or NULL. Setting the mode it already has only
-- positions what is pending.
CREATE FUNCTION order_events_set_ordering(mode text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  IF mode NOT IN ('commit', 'sequenced') THEN
    RAISE EXCEPTION 'unknown event ordering "%": expected commit or sequenced', mode USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF (SELECT ordering FROM order_events_head) IS DISTINCT FROM mode THEN
    PERFORM pg_advisory_xact_lock(7305861045390212);
    UPDATE order_events_head SET ordering = mode;
  END IF;
  RETURN order_events_sequence();
END
$$;
