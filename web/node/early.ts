/**
 * What a page can start before the rest of its script has loaded: the
 * signaling socket and the IndexedDB database, the two slow things a visit
 * waits for. The page's first, inline script (web/app/head-start.ts) starts
 * them; `boot()` adopts them, or closes them and starts its own where they do
 * not match the node's options. Nothing here imports the rest of the node,
 * so the inline script stays small.
 */

/**
 * Frames an early socket keeps before the client adopts it (the challenge is
 * the first; a server sending more before we register is not believed).
 */
export const MAX_EARLY_FRAMES = 8;

/** A signaling socket opened ahead of the node, with the frames it has had so far. */
export interface StartedSocket {
  readonly socket: WebSocket;
  readonly held: string[];
}

/** What the page's first script started (at `window.tabmeshHead`). */
export interface HeadStart {
  readonly socket?: StartedSocket;
  readonly database?: Promise<IDBDatabase>;
}

/** The signaling endpoint of the page's own server, when running in a page. */
export function defaultSignaling(): string[] {
  if (typeof location === 'undefined' || !location.host) return [];
  return [`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`];
}

/**
 * The URL with `?network=` added: the server then sends a bootstrap sample
 * with its challenge, so the tab can dial while it registers.
 */
export function withNetwork(url: string, network: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('network', network);
  return parsed.toString();
}

/** Open the signaling socket for `network`, holding up to MAX_EARLY_FRAMES text frames. */
export function startSocket(url: string, network: string): StartedSocket {
  const socket = new WebSocket(withNetwork(url, network));
  const held: string[] = [];
  socket.onmessage = (event: MessageEvent) => {
    if (typeof event.data === 'string' && held.length < MAX_EARLY_FRAMES) held.push(event.data);
  };
  return { socket, held };
}

/**
 * `window.tabmeshHead`, checked: it is set by our own inline script, but a
 * page's globals are anyone's to overwrite, so only the expected shapes count.
 */
export function readHeadStart(value: unknown): HeadStart {
  if (typeof value !== 'object' || value === null) return {};
  const { socket, database } = value as Record<string, unknown>;
  const started =
    typeof socket === 'object' &&
    socket !== null &&
    (socket as Record<string, unknown>)['socket'] instanceof WebSocket &&
    Array.isArray((socket as Record<string, unknown>)['held'])
      ? (socket as StartedSocket)
      : undefined;
  return {
    ...(started === undefined ? {} : { socket: started }),
    ...(database instanceof Promise ? { database: database as Promise<IDBDatabase> } : {}),
  };
}
