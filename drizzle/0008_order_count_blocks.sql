-- Counts at a past position without reading every event since (orders.counts({ asOf })).
--
-- The counts right after P are the counts now, moved back by every event after P: a scan of
-- the log from P to its end, half a second per 500,000 events. A block of positions, once the
-- log has passed it, never changes (positions follow commit order: no event can appear below
-- the log's last position), so the net move of each block of 10,000 positions is kept here
-- the first time a count needs it, and later counts read one row per block instead of its
-- events. Filled by reads, never by writers: writes pay nothing. Pruning leaves blocks true
-- (they sum what happened there). A failover or restore keeps them true as well: a block's row
-- is written after its events committed, so a copy that holds the row holds the events.
-- The block size is part of what a row means (server/db/order-count-blocks.ts): changing it
-- takes a migration that empties this table.
CREATE TABLE "order_count_blocks" (
	"block" bigint PRIMARY KEY NOT NULL,
	"moves" jsonb NOT NULL
);
