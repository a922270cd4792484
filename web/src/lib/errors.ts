import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../../server/routers/app.ts';

export type FieldErrors = Partial<Record<string, string[]>>;

export type UserError = {
  /** One sentence for the person at the screen. */
  message: string;
  /** The server's validation messages per input field, when it sent them. */
  fieldErrors: FieldErrors;
};

const OFFLINE_MESSAGE = 'Could not reach the server, so nothing was saved. Check your connection and try again.';

/** What a reader's token gets when it tries a change. */
export const READ_ONLY_MESSAGE = 'Your token can read but not change orders.';
const SIGNED_OUT_MESSAGE = 'The server no longer accepts your access token. Sign in again.';

/** The tRPC error code the server answered with (`UNAUTHORIZED`, `FORBIDDEN`, ...), if any. */
export function errorCode(err: unknown): string | undefined {
  if (!(err instanceof TRPCClientError)) return undefined;
  return (err as TRPCClientError<AppRouter>).data?.code;
}

export const isUnauthorized = (err: unknown) => errorCode(err) === 'UNAUTHORIZED';
export const isForbidden = (err: unknown) => errorCode(err) === 'FORBIDDEN';

/** Turns whatever a mutation threw into words for the user; never silent, never raw. */
export function toUserError(err: unknown): UserError {
  if (err instanceof TRPCClientError) {
    const error = err as TRPCClientError<AppRouter>;
    // No `data` means no tRPC response came back at all: the request never got through.
    if (!error.data) return { message: OFFLINE_MESSAGE, fieldErrors: {} };
    if (error.data.code === 'FORBIDDEN') return { message: READ_ONLY_MESSAGE, fieldErrors: {} };
    if (error.data.code === 'UNAUTHORIZED') return { message: SIGNED_OUT_MESSAGE, fieldErrors: {} };
    return { message: error.message, fieldErrors: error.data.fieldErrors ?? {} };
  }
  if (typeof navigator !== 'undefined' && !navigator.onLine) return { message: OFFLINE_MESSAGE, fieldErrors: {} };
  return { message: err instanceof Error ? err.message : String(err), fieldErrors: {} };
}
