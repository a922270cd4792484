-- orders.counts without counting every order: counts right after a position, kept to start
-- from (server/db/order-counts.ts). Counting 100,000 orders took 20-40 ms on a loaded 2-core
-- machine, more than the 50 ms target allows at its tail; the nearest kept counts moved by the
-- events after them take a few milliseconds, and do not grow with the orders. Written by
-- reads (at most one row per 1,000 positions), never by writers. True for good, like a
-- block of moves (0008): a row is written after the events it counts committed, so a copy of
-- the database (a replica, a backup) that holds the row holds those events.
CREATE TABLE "order_counts_at" (
	"position" bigint PRIMARY KEY NOT NULL,
	"counts" jsonb NOT NULL
);
