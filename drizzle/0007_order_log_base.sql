-- Time travel (orders.list and orders.counts with `asOf`) over a log whose start is pruned.
--
-- The orders right after position P are, per order, its last event up to P (none, or a
-- 'deleted': it did not exist). Pruning (EVENT_RETENTION) deletes the log's start, so an order
-- whose last change is older than the retention has no event left to say how it stood: its
-- state is still the row in `orders`, but only as long as nothing changes it, and an 'updated'
-- event does not carry the `updatedAt` it replaced. So the pruner keeps what it takes away: in
-- the transaction that deletes events up to `through`, it first moves `order_log_base` (every
-- order as it stood right after `base_at`) up to `through` with the events it is about to
-- delete (server/db/prune-events.ts). Then for any P from `base_at` on, the orders are the
-- base plus the kept log's events after `base_at` up to P: exact, from the log, whatever was
-- pruned. It costs the pruner an upsert per order in each batch and the table one row per
-- order alive at the pruned end; writers pay nothing.
--
-- `order_events_at_brin`: see server/db/schema.ts (orders.flow, events.positionAt).

CREATE TABLE "order_log_base" (
	"order_id" bigint PRIMARY KEY NOT NULL,
	"order" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "order_events_pruned" ADD COLUMN "base_at" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "order_events_at_brin" ON "order_events" USING brin ("at") WITH (autosummarize=true);--> statement-breakpoint
-- A database pruned before this migration has lost the states a base at `through` would need.
-- Its base starts at the log's head instead, taken from `orders` while no write can commit
-- (SHARE blocks every writer until this migration's transaction ends, and whoever wrote before
-- has committed with its event). In sequenced mode, committed events waiting for a position get
-- it first, so the head covers every row seen. Time travel then reaches back to that head until
-- the pruner passes it. A database never pruned (through = 0) starts with an empty base at 0.
DO $$
BEGIN
  IF (SELECT through FROM order_events_pruned) > 0 THEN
    LOCK TABLE orders IN SHARE MODE;
    PERFORM order_events_sequence();
    INSERT INTO order_log_base (order_id, "order") SELECT o.id, order_json(o) FROM orders o;
    UPDATE order_events_pruned
       SET base_at = greatest(through, coalesce((SELECT max(id) FROM order_events), 0));
  END IF;
END
$$;
