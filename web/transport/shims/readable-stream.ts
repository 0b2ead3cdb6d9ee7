/**
 * What simple-peer's index.js uses of readable-stream, for the browser
 * builds (vite.config.ts aliases `readable-stream` here; tests in Node use
 * the real one). Tabmesh reads a peer through its events only — never as a
 * stream — so this is an event emitter with the few stream members
 * simple-peer touches: push() emits 'data' (and push(null) 'end'), end()
 * emits 'finish', and the `_readableState.ended` / `_writableState.finished`
 * flags its destroy() reads. write(), pipes and buffering are left out: the
 * real readable-stream with its buffer, events, process and util shims was
 * most of simple-peer's weight in the bundle. The emitter is written here
 * rather than taken from the `events` package, for the same reason.
 */
type Listener = (...args: unknown[]) => void;

interface Entry {
  readonly listener: Listener;
  readonly once: boolean;
}

/** Constructed with stream options (allowHalfOpen and the like), which mean nothing here. */
export class Duplex {
  readable = true;
  writable = true;
  readonly _readableState = { ended: false };
  readonly _writableState = { finished: false };
  private readonly listeners = new Map<string, Entry[]>();

  on(event: string, listener: Listener): this {
    return this.add(event, { listener, once: false });
  }

  once(event: string, listener: Listener): this {
    return this.add(event, { listener, once: true });
  }

  removeListener(event: string, listener: Listener): this {
    const entries = this.listeners.get(event);
    const index = entries?.findIndex((entry) => entry.listener === listener) ?? -1;
    if (index >= 0) entries?.splice(index, 1);
    return this;
  }

  off(event: string, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  /** Calls the listeners in order; an 'error' no one listens to is dropped rather than thrown. */
  emit(event: string, ...args: unknown[]): boolean {
    const entries = this.listeners.get(event);
    if (entries === undefined || entries.length === 0) return false;
    for (const entry of [...entries]) {
      if (entry.once) this.removeListener(event, entry.listener);
      entry.listener.apply(this, args);
    }
    return true;
  }

  /** A received chunk goes straight to 'data' listeners; null ends the readable side. */
  push(chunk: unknown): boolean {
    if (this._readableState.ended) return false;
    if (chunk === null) {
      this._readableState.ended = true;
      this.emit('end');
      return false;
    }
    this.emit('data', chunk);
    return true;
  }

  end(): this {
    if (!this._writableState.finished) {
      this._writableState.finished = true;
      this.emit('finish');
    }
    return this;
  }

  private add(event: string, entry: Entry): this {
    const entries = this.listeners.get(event);
    if (entries === undefined) this.listeners.set(event, [entry]);
    else entries.push(entry);
    return this;
  }
}
