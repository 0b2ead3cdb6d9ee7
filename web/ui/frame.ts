/**
 * UI helpers shared by the page (web/app) and the widget (web/widget). They
 * know nothing of the node: the page and the widget reach it through
 * web/tabmesh.ts.
 */

/**
 * Coalesce redraws: however many times the returned function is called
 * before the next frame, `draw` runs once, at the next animation frame.
 * While the node connects, the main thread is its busiest resource, and a
 * burst of events must not draw a burst of frames.
 *
 * A hidden tab gets no animation frames: it draws on a (throttled) timer
 * instead, so it is up to date when shown and to anyone reading its DOM.
 */
export function oncePerFrame(draw: () => void): () => void {
  let pending = false;
  const run = (): void => {
    pending = false;
    draw();
  };
  return () => {
    if (pending) return;
    pending = true;
    if (document.hidden) setTimeout(run, 0);
    else requestAnimationFrame(run);
  };
}
