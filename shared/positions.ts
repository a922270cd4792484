/**
 * Positions in the event log, and the ids that carry them. Positions (and order ids) are
 * bigints written as decimal strings; they can outgrow Number, so they are compared as BigInt.
 *
 * An event id a subscription yields is opaque to clients: resume with it exactly as received.
 * Its position is read by `positionOf` (resume-id.ts, where the id's format is defined) and
 * compared here.
 */
import { positionOf } from './resume-id.ts';

/** A position as written: "0" (before the first event) or a positive bigint, no leading zeros. */
export const POSITION_PATTERN = /^(0|[1-9][0-9]{0,18})$/;

/** An order id as written: a positive bigint, no leading zeros. */
export const ORDER_ID_PATTERN = /^[1-9][0-9]{0,18}$/;

/** True when `a` comes after `b` in the log (each an event id or a position). */
export const isAfter = (a: string, b: string): boolean => BigInt(positionOf(a)) > BigInt(positionOf(b));

/**
 * Orders decimal ids (order ids, positions) numerically without BigInt: a shorter one is
 * smaller. For sorts, which compare many times per element.
 */
export function compareDecimalIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
