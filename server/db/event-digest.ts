import { sql } from 'drizzle-orm';
import { DIGEST_HEX_DIGITS } from '../../shared/resume-id.ts';
import { orderEvents } from './schema.ts';

/**
 * The digest of an event, as a SQL expression over the row of `order_events` in scope: the
 * one definition, used by every read that hands out or checks a resume id (shared/resume-id.ts).
 *
 * Derived at read time from what is stored, not stored itself: whichever way a row was
 * written (the commit-time trigger, the statement trigger of bulk inserts, or a mode that
 * gives positions after the row is written), its digest is the same, and no migration or
 * trigger has to keep a column right. Everything of the event but its position goes in, so
 * an event that took the same position in another history (a failover, a restore) differs
 * at least in `at`, to the millisecond, and in practice in its order's id, version or state.
 *
 * The text hashed is the concatenation of: the type (letters), the order id (digits), `:`,
 * `at` in microseconds since 1970 (digits; absolute, so no session TimeZone or DateStyle can
 * change it), the order and the changes as JSON values (each self-delimiting; `null` when there
 * are none), then the actor (the rest). Read left to right it splits one way only, so two
 * different events never hash the same text. (A jsonb_build_array of the fields would say the
 * same, at 1.5 times the cost; this runs for every event the server reads.) SHA-256 rather
 * than md5: md5 is refused on FIPS-mode servers.
 */
export const eventDigest = sql<string>`encode(substr(sha256(convert_to(
    ${orderEvents.type}::text || ${orderEvents.orderId} || ':' || (extract(epoch from ${orderEvents.at}) * 1000000)::bigint
      || ${orderEvents.order}::text || coalesce(${orderEvents.changes}::text, 'null') || ${orderEvents.actor},
    'UTF8')), 1, ${sql.raw(String(DIGEST_HEX_DIGITS / 2))}), 'hex')`;

/** The digest of the event at `position`, null when the log holds no event there: one scalar subquery. */
export const digestAt = (position: bigint) =>
  sql<string | null>`(select ${eventDigest} from ${orderEvents} where ${orderEvents.id} = ${position})`;
