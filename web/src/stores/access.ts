import { createSignal } from 'solid-js';
import { session } from '../lib/session.ts';

/**
 * What the server lets this page do. There is no "who am I" call: the page learns it from
 * answers. A query refused UNAUTHORIZED means a token is needed (or the one sent is not
 * accepted); a change refused FORBIDDEN means the token is a reader's.
 */
export function createAccess() {
  const [signInNeeded, setSignInNeeded] = createSignal(false);
  const [rejected, setRejected] = createSignal(false);
  const [readOnly, setReadOnly] = createSignal(false);

  return {
    /** The token in use, or null. */
    token: session.token,
    /** Show the sign-in form instead of the orders. */
    signInNeeded,
    /** The last token tried was not accepted. */
    rejected,
    /** A change was refused FORBIDDEN: this token can read but not change orders. */
    readOnly,
    /** A read was refused UNAUTHORIZED: forget the token (if any) and ask for one. */
    unauthorized() {
      setRejected(session.token() !== null);
      setSignInNeeded(true);
      setReadOnly(false);
      session.setToken(null);
    },
    /** A read went through: whatever token is in use (if any) is good. */
    granted() {
      setSignInNeeded(false);
      setRejected(false);
    },
    forbidden() {
      setReadOnly(true);
    },
    /** Switches to `token` (null: signs out); the form stays until a read goes through. */
    use(token: string | null) {
      session.setToken(token);
      setReadOnly(false);
      setRejected(false);
      if (token === null) setSignInNeeded(true);
    },
  };
}

export type Access = ReturnType<typeof createAccess>;
