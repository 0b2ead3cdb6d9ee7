/**
 * The server's WebSockets: ws's own, carrying the session they belong to,
 * with their events handed to the hub by one `emit` shared by every
 * connection. Listening with `socket.on(…)` instead costs each connection a
 * closure per event, the context they share, and a larger listener table in
 * ws's EventEmitter: about 0.4 KiB of every idle connection's ~6 KiB.
 */
import { WebSocket } from 'ws';
import type { Session } from './session.js';

/** What the hub does with a registered socket's events (the same object for every connection). */
export interface SocketEvents {
  /** A frame arrived (ws's `message`: the data, and whether it was binary). */
  message(session: Session, data: unknown, isBinary: boolean): void;
  /** A pong arrived, with its payload. */
  pong(session: Session, payload: Buffer): void;
  /** ws found a protocol error (it closes the socket itself). */
  error(session: Session, error: unknown): void;
  /** The socket closed. */
  close(session: Session): void;
}

/** A WebSocket that knows its session (set by the hub when it opens one). */
export class SessionSocket extends WebSocket {
  session: Session | undefined = undefined;
}

/**
 * Hands `event` to `events` when it is one of theirs; true when it is taken
 * and nothing else is to see it (every event but `close`, which listeners
 * added with `on` see after the hub: the server's shutdown waits on them).
 * An `error` is always taken: ws closes the socket after it, and an
 * EventEmitter would throw one that no listener takes.
 */
export function routeSocketEvent(
  events: SocketEvents,
  session: Session | undefined,
  event: string | symbol,
  a: unknown,
  b: unknown,
): boolean {
  switch (event) {
    case 'message':
      if (session !== undefined) events.message(session, a, b === true);
      return true;
    case 'pong':
      if (session !== undefined) events.pong(session, a as Buffer);
      return true;
    case 'error':
      if (session !== undefined) events.error(session, a);
      return true;
    case 'close':
      if (session !== undefined) events.close(session);
      return false;
    default:
      return false;
  }
}

/**
 * The class the WebSocket server makes its sockets with (its `WebSocket`
 * option): `events` receives every socket's message, pong, error and close
 * (ws emits at most two arguments with any event).
 */
export function sessionSocketClass(events: SocketEvents): typeof SessionSocket {
  return class extends SessionSocket {
    override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
      return routeSocketEvent(events, this.session, event, a, b) || super.emit(event, a, b);
    }
  };
}
