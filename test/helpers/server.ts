/** Start a signaling server on port 0 for one test; close it afterwards. */
import {
  createSignalingServer,
  type SignalingServerDeps,
  type SignalingServerOptions,
} from '../../signaling-server/server.js';
import type { Logger } from '../../signaling-server/logger.js';

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface TestServer {
  readonly server: ReturnType<typeof createSignalingServer>;
  readonly url: string;
  readonly wsUrl: string;
  close(): Promise<void>;
}

export async function startServer(
  options: SignalingServerOptions = {},
  deps: SignalingServerDeps = {},
): Promise<TestServer> {
  const server = createSignalingServer(
    { port: 0, host: '127.0.0.1', staticDir: null, processMetrics: false, shutdownGraceMs: 1000, ...options },
    { logger: silentLogger, ...deps },
  );
  const { url } = await server.listen();
  return { server, url, wsUrl: `${url.replace('http', 'ws')}/ws`, close: () => server.close() };
}
