CREATE TABLE "order_events_pruned" (
	"single" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"through" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "order_events_pruned_single" CHECK ("order_events_pruned"."single")
);
--> statement-breakpoint
-- The one row: nothing pruned yet.
INSERT INTO "order_events_pruned" DEFAULT VALUES;
