/**
 * Why a credential was refused: the `reason` label of
 * `live_orders_authentication_refusals_total`, and the start of what the caller is told.
 * A fixed list, so the metric's labels stay few.
 */
export const REFUSAL_REASONS = [
  'missing',
  'unknown_token',
  'expired',
  'not_yet_valid',
  'wrong_issuer',
  'wrong_audience',
  'bad_signature',
  'algorithm_not_allowed',
  'unknown_key',
  'malformed',
  'no_role',
  'issuer_unavailable',
  'session_unknown',
  'session_ended',
  'cross_site',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** A refused credential: the tRPC code (and HTTP status) it gets, and a message that says which check failed. */
export type AuthRefusal = Readonly<{
  code: 'UNAUTHORIZED' | 'FORBIDDEN';
  reason: RefusalReason;
  message: string;
}>;

export const refusal = (reason: RefusalReason, message: string, code: AuthRefusal['code'] = 'UNAUTHORIZED'): AuthRefusal =>
  Object.freeze({ code, reason, message });
