/**
 * The id a subscriber resumes from: what `orders.onChange` tracks (the WebSocket result's
 * `id`, the SSE `id:`) and takes back as `lastEventId`. Either a plain position (`"1207"`,
 * as `orders.list` and `events.list` give it), or a position and a digest of the event the
 * client saw there (`"1207.3f9a0c51d2e4b687"`). With the digest the server can tell whether
 * position 1207 still holds that event: after a failover to a replica that lacked it, or a
 * restore from a backup, new writes take its position again, and resuming "after 1207" from
 * the new history would skip what it wrote below. The digest is computed by the database
 * from the stored event (the server's event digest, in one query of its own); clients never compute or read it, they
 * keep the id as an opaque string and take the position from `positionOf`.
 */
export type ResumeId = string;

/** The digest's length in hex digits: 64 bits. It only has to tell two events at one position apart. */
export const DIGEST_HEX_DIGITS = 16;

/** A resume id as written: `N` or `N.<16 hex digits>` (its schema: `resumeIdSchema`, orders.ts). */
export const RESUME_ID_PATTERN = new RegExp(`^(0|[1-9][0-9]{0,18})(?:\\.([0-9a-f]{${DIGEST_HEX_DIGITS}}))?$`);

export type ParsedResumeId = {
  /** position in the log, bigint as a decimal string */
  position: string;
  /** the digest of the event at `position`, when the id names one */
  digest: string | null;
};

/** Splits a resume id (one `resumeIdSchema` accepted) into its position and digest. */
export function parseResumeId(id: ResumeId): ParsedResumeId {
  const dot = id.indexOf('.');
  return dot === -1 ? { position: id, digest: null } : { position: id.slice(0, dot), digest: id.slice(dot + 1) };
}

/** The position a resume id names: what clients compare (as BigInt) to order events. */
export function positionOf(id: ResumeId): string {
  const dot = id.indexOf('.');
  return dot === -1 ? id : id.slice(0, dot);
}

/** The resume id of the event at `position` whose digest is `digest`. */
export function formatResumeId(position: string, digest: string | null): ResumeId {
  return digest === null ? position : `${position}.${digest}`;
}
