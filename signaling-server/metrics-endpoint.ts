/**
 * Who may read /metrics. It names every network with peers and counts every
 * refusal, so it is not for the public: on the main port it is served only
 * with the bearer token (metricsToken), and otherwise only on a listener of
 * its own (metricsPort, on loopback by default), behind the token too when
 * one is set.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './logger.js';
import type { ServerMetrics } from './metrics.js';

/** Which listener a request came in on: the main one (signaling, page) or metricsPort's. */
export type Listener = 'main' | 'metrics';

export type MetricsAccess = 'allowed' | 'unauthorized' | 'hidden';

/** Whether `request` may read /metrics on `listener`, given the configured token. */
export function metricsAccess(request: IncomingMessage, listener: Listener, token: string | undefined): MetricsAccess {
  if (token === undefined) return listener === 'metrics' ? 'allowed' : 'hidden';
  const header = request.headers.authorization;
  const presented = header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length).trim() : undefined;
  return presented !== undefined && sameSecret(presented, token) ? 'allowed' : 'unauthorized';
}

/** Compared in constant time (as digests, so not even the length leaks). */
function sameSecret(a: string, b: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Answer a /metrics request: the text, 401 without the token, 404 where metrics are not served. */
export function serveMetrics(
  request: IncomingMessage,
  response: ServerResponse,
  listener: Listener,
  token: string | undefined,
  metrics: ServerMetrics,
  logger: Logger,
): void {
  const access = metricsAccess(request, listener, token);
  if (access === 'hidden') {
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found\n');
    return;
  }
  if (access === 'unauthorized') {
    response
      .writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer realm="metrics"' })
      .end('Unauthorized\n');
    return;
  }
  metrics.text().then(
    (text) => {
      response.writeHead(200, { 'Content-Type': metrics.contentType });
      response.end(text);
    },
    (error: unknown) => {
      logger.error({ err: error }, 'metrics collection failed');
      response.writeHead(500).end();
    },
  );
}
