/**
 * Bytes a subscription may leave queued on its socket before it waits. Without a limit, a
 * client that stops reading would have every event buffered in server memory. Waiting stops
 * the push from the hub; the hub then marks the subscriber overflowed and it resumes from the
 * log when the client reads again. The limit is per socket, so it is kept small: 5,000
 * stalled clients may cost 5,000 times this much.
 */
export const MAX_BUFFERED_BYTES = 256 * 1024;
