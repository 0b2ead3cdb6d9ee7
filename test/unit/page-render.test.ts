/**
 * The pieces of the page's and the widget's drawing that need no DOM: the
 * once-per-frame scheduler both use (web/ui/frame.ts), and what the page's
 * graph and its summary line show for a node's state.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { graphPeers, summaryText } from '../../web/app/neighbourhood.js';
import { MAX_KNOWN_SHOWN } from '../../web/app/graph.js';
import type { KnownPeer, LinkInfo, TabmeshNode } from '../../web/tabmesh.js';
import { oncePerFrame } from '../../web/ui/frame.js';

describe('oncePerFrame', () => {
  let frames: (() => void)[];
  let hidden: boolean;

  beforeEach(() => {
    frames = [];
    hidden = false;
    vi.useFakeTimers();
    vi.stubGlobal('document', {
      get hidden() {
        return hidden;
      },
    });
    vi.stubGlobal('requestAnimationFrame', (callback: () => void) => frames.push(callback));
  });

  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it('draws once per animation frame, however often it is asked', () => {
    const draw = vi.fn();
    const schedule = oncePerFrame(draw);
    schedule();
    schedule();
    schedule();
    expect(frames).toHaveLength(1);
    expect(draw).not.toHaveBeenCalled();
    frames.shift()?.();
    expect(draw).toHaveBeenCalledTimes(1);
    schedule();
    expect(frames).toHaveLength(1);
  });

  it('draws on a timer in a hidden tab, which gets no animation frames', () => {
    hidden = true;
    const draw = vi.fn();
    const schedule = oncePerFrame(draw);
    schedule();
    schedule();
    expect(frames).toHaveLength(0);
    vi.runAllTimers();
    expect(draw).toHaveBeenCalledTimes(1);
  });
});

const id = (n: number): PeerId => `tm1peer${String(n).padStart(3, '0')}` as PeerId;

function known(n: number, name?: string): KnownPeer {
  return { id: id(n), name, tried: false, seq: 1, expiresAt: 0, endpoints: [] };
}

/** A node as graphPeers reads it: only the calls it makes. */
function fakeNode(state: {
  connections?: PeerId[];
  active?: PeerId[];
  passive?: PeerId[];
  attempts?: PeerId[];
  known?: KnownPeer[];
}): TabmeshNode {
  const links = (state.attempts ?? []).map((peer) => ({ peer, state: 'connecting' }) as unknown as LinkInfo);
  return {
    id: id(0),
    connections: () => state.connections ?? [],
    neighbourhood: () => ({ active: state.active ?? [], passive: state.passive ?? [] }),
    links: () => links,
    knownPeers: () => state.known ?? [],
  } as unknown as TabmeshNode;
}

describe("the page's graph", () => {
  it('shows each peer once, in the strongest role it has', () => {
    const node = fakeNode({
      connections: [id(1)],
      active: [id(1), id(2)],
      passive: [id(1), id(3)],
      attempts: [id(4)],
      known: [known(0), known(1, 'ada'), known(5)],
    });
    const { peers, hiddenKnown } = graphPeers(node);
    expect(new Map(peers.map((p) => [p.id, p.kind]))).toEqual(
      new Map([
        [id(1), 'active'],
        [id(3), 'passive'],
        [id(4), 'connecting'],
        [id(2), 'connecting'],
        [id(5), 'known'],
      ]),
    );
    expect(peers.find((p) => p.id === id(1))?.name).toBe('ada');
    expect(hiddenKnown).toBe(0);
    expect(summaryText(peers, hiddenKnown)).toBe('Connected to 1 peer · 2 connecting · 1 in reserve · 1 more known');
  });

  it('draws at most MAX_KNOWN_SHOWN known peers, and counts the rest', () => {
    const many = Array.from({ length: MAX_KNOWN_SHOWN + 3 }, (_, i) => known(i + 1));
    const { peers, hiddenKnown } = graphPeers(fakeNode({ known: many }));
    expect(peers).toHaveLength(MAX_KNOWN_SHOWN);
    expect(hiddenKnown).toBe(3);
    expect(summaryText(peers, hiddenKnown)).toBe(
      `Connected to 0 peers · 0 in reserve · ${MAX_KNOWN_SHOWN + 3} more known (3 not drawn)`,
    );
  });
});
