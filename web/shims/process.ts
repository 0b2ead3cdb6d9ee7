/**
 * simple-peer's dependencies (readable-stream) call process.nextTick; browsers
 * have no `process`. This must be imported before anything that loads
 * simple-peer. https://github.com/feross/simple-peer#usage (bundler notes)
 */
const scope = globalThis as unknown as {
  process?: {
    env: Record<string, string>;
    nextTick: (fn: (...args: unknown[]) => void, ...args: unknown[]) => void;
    browser: boolean;
  };
};
scope.process ??= { env: {}, browser: true, nextTick: (fn, ...args) => queueMicrotask(() => fn(...args)) };
export {};
