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

/** Turns whatever a mutation threw into words for the user; never silent, never raw. */
export function toUserError(err: unknown): UserError {
  if (err instanceof TRPCClientError) {
    const error = err as TRPCClientError<AppRouter>;
    // No `data` means no tRPC response came back at all: the request never got through.
    if (!error.data) return { message: OFFLINE_MESSAGE, fieldErrors: {} };
    return { message: error.message, fieldErrors: error.data.fieldErrors ?? {} };
  }
  if (typeof navigator !== 'undefined' && !navigator.onLine) return { message: OFFLINE_MESSAGE, fieldErrors: {} };
  return { message: err instanceof Error ? err.message : String(err), fieldErrors: {} };
}
