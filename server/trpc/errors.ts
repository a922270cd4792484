import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { CommitOutcomeUnknownError, isCommitOutcomeUnknown, isDatabaseUnavailable } from '../db/errors.ts';
import type { Logger } from '../logger.ts';

/**
 * "customerName: must not be empty; status: Invalid option: ..." — every problem, each
 * prefixed with the field it is about. `fieldName` lets REST speak snake_case.
 */
export function describeValidationError(error: z.ZodError, fieldName: (key: string) => string = (k) => k): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'string' ? fieldName(p) : String(p))).join('.');
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? `: ${issue.keys.map((k) => fieldName(String(k))).join(', ')}` : '';
      const message = issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''}${keys}` : issue.message;
      return path ? `${path}: ${message}` : message;
    })
    .join('; ');
}

export type PublicError = { code: TRPCError['code']; message: string; fieldErrors?: Record<string, string[]> };

/**
 * The one place that decides what a client is told about an error. Validation errors name
 * their fields; an unreachable database says so, and so does a commit whose outcome could not
 * be found out; anything unexpected is a generic 500 (the details go to the log, never to the
 * client).
 */
export function toPublicError(error: TRPCError): PublicError {
  if (error.cause instanceof z.ZodError) {
    return {
      code: 'BAD_REQUEST',
      message: describeValidationError(error.cause),
      fieldErrors: z.flattenError(error.cause).fieldErrors as Record<string, string[]>,
    };
  }
  if (isCommitOutcomeUnknown(error)) {
    return { code: 'INTERNAL_SERVER_ERROR', message: CommitOutcomeUnknownError.MESSAGE };
  }
  if (isDatabaseUnavailable(error)) {
    return { code: 'INTERNAL_SERVER_ERROR', message: 'database unavailable: nothing was written; retry shortly' };
  }
  if (error.code === 'INTERNAL_SERVER_ERROR') return { code: error.code, message: 'internal server error' };
  return { code: error.code, message: error.message };
}

/** Logs what the client will not see: unexpected errors in full, an unreachable database briefly. */
export function logError(log: Logger, error: TRPCError, path: string | undefined): void {
  if (error.code !== 'INTERNAL_SERVER_ERROR') return;
  if (isCommitOutcomeUnknown(error)) log.warn({ path, err: error.cause }, 'commit outcome unknown');
  else if (isDatabaseUnavailable(error)) log.warn({ path }, 'database unavailable');
  else log.error({ err: error.cause ?? error, path }, 'unexpected error');
}
