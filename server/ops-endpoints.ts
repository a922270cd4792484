import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Credentials } from './auth/credentials.ts';
import type { Metrics } from './metrics.ts';
import { sendJson } from './rest/http.ts';

export type Health = () => Promise<{ ok: boolean } & Record<string, unknown>>;
export type Readiness = () => Promise<{ ready: boolean } & Record<string, unknown>>;

/**
 * What operators and load balancers ask a node:
 *   /healthz  is it working (database and listener)
 *   /readyz   should it get new traffic: not while starting, not while the database is away,
 *             and not from SIGTERM on (so the load balancer moves new clients elsewhere
 *             before the node closes)
 *   /metrics  Prometheus text; open with access control off, else any accepted credential
 * Returns false for any other path.
 */
export function createOpsEndpoints(opts: { health: Health; readiness: Readiness; metrics: Metrics; auth: Credentials }) {
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> => {
    switch (pathname) {
      case '/healthz': {
        const status = await opts.health();
        sendJson(res, status.ok ? 200 : 503, status);
        return true;
      }
      case '/readyz': {
        const status = await opts.readiness();
        sendJson(res, status.ready ? 200 : 503, status);
        return true;
      }
      case '/metrics': {
        if (opts.auth.enabled && !(await opts.auth.authenticate(req)).principal) {
          res.setHeader('www-authenticate', 'Bearer');
          sendJson(res, 401, { error: 'a valid token is required: send Authorization: Bearer <token>' });
          return true;
        }
        const text = await opts.metrics.text();
        res.writeHead(200, { 'content-type': opts.metrics.contentType, 'cache-control': 'no-store' });
        res.end(text);
        return true;
      }
      default:
        return false;
    }
  };
}
