/**
 * Peers that are not tabs, with real Chromium tabs: a node made in this
 * process with `createNode` from `tabmesh/node` (WebRTC through
 * @roamhq/wrtc, the same simple-peer transport as the page), a mesh of tabs
 * and Node peers, and the `tabmesh-peer` seed command in a process of its
 * own, restarted on its data directory.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it, onTestFailed } from 'vitest';
import type { PeerId } from '../../shared/identity/peer-id.js';
import { useBrowser } from '../helpers/fixture.js';
import { components, isSettledMesh, waitForMesh, type Member } from '../helpers/mesh.js';
import { PeerProcess, startNodePeer, waitForReceived, type NodePeer } from '../helpers/node-peers.js';
import {
  collectMessages,
  idOf,
  reportOnFailure,
  waitForMessages,
  waitForNode,
  waitForPeer,
  waitForStatus,
} from '../helpers/tabs.js';

const browser = useBrowser();

/** A temporary data directory, removed after the test. */
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tabmesh-peer-'));
  browser.defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A Node peer in this process, closed after the test. */
async function nodePeer(signaling: string, network: string, maxConnections = 8): Promise<NodePeer> {
  const peer = await startNodePeer({ signaling: [signaling], network, maxConnections });
  browser.defer(() => peer.close());
  return peer;
}

/** The seed command in a process of its own, killed after the test if still running. */
function seed(args: readonly string[]): PeerProcess {
  const started = PeerProcess.start(args);
  browser.defer(() => started.kill());
  return started;
}

describe('Node peers beside tabs', () => {
  it('a tab and a Node peer connect, send to each other, and receive each other’s broadcasts', async () => {
    const server = await browser.pageServer();
    const peer = await nodePeer(server.wsUrl, 'node-and-tab');
    const tab = await browser.tab(server, { network: 'node-and-tab', signaling: server.wsUrl });
    const tabId = await idOf(tab);
    await waitForPeer(tab, peer.node.id);
    expect(peer.node.connections()).toContain(tabId);
    const read = await collectMessages(tab);

    await peer.node.send(tabId, 'from Node');
    await waitForMessages(tab, 'from Node', 1);
    await tab.evaluate((id) => window.tabmesh?.send(id, 'from the tab'), peer.node.id);
    await waitForReceived(peer, 'from the tab');
    // Bytes too, both ways.
    await peer.node.send(tabId, new Uint8Array(100_000).fill(7));
    await waitForMessages(tab, 'bytes:100000', 1);
    await tab.evaluate((id) => window.tabmesh?.send(id, new Uint8Array(70_000)), peer.node.id);
    await waitForReceived(peer, 'bytes:70000');

    await peer.node.broadcast('broadcast from Node');
    await waitForMessages(tab, 'broadcast from Node', 1);
    await tab.evaluate(() => window.tabmesh?.broadcast('broadcast from the tab'));
    await waitForReceived(peer, 'broadcast from the tab');

    expect((await read()).filter((m) => m.data !== 'bytes:100000')).toEqual([
      { from: peer.node.id, data: 'from Node', broadcast: false },
      { from: peer.node.id, data: 'broadcast from Node', broadcast: true },
    ]);
    expect(peer.received.filter((m) => m.data !== 'bytes:70000')).toEqual([
      { from: tabId, data: 'from the tab', broadcast: false },
      { from: tabId, data: 'broadcast from the tab', broadcast: true },
    ]);
  });

  it('six tabs and three Node peers with maxConnections 3 form one mesh, and broadcasts from either reach all exactly once', async () => {
    const server = await browser.signalingServer();
    const page = await browser.builtPage();
    const network = 'mixed-mesh';
    const query = { network, maxConnections: '3', signaling: server.wsUrl };
    const members: Member[] = [];
    // In waves, so later members find earlier ones in their bootstrap sample.
    for (let wave = 0; wave < 3; wave++) {
      const tabs = await Promise.all(
        [0, 1].map(async () => browser.tab(page, query, await browser.newContext({ trace: true }))),
      );
      await Promise.all(tabs.map((tab) => waitForStatus(tab, 'connected')));
      members.push(...tabs, (await nodePeer(server.wsUrl, network, 3)).node);
    }
    const states = await waitForMesh(
      members,
      (s) => isSettledMesh(s) && s.every((t) => t.connections.length <= 3),
      60_000,
    );
    expect(components(states)).toHaveLength(1);
    const tabs = members.filter((m): m is Page => !('neighbourhood' in m));
    const nodes = members.filter((m) => 'neighbourhood' in m);
    expect(tabs).toHaveLength(6);
    expect(nodes).toHaveLength(3);

    reportOnFailure(() => tabs.map((t, i) => [`tab ${i}`, t] as const));
    onTestFailed(() => {
      for (const node of nodes) {
        const { id, status } = node;
        const [connections, neighbourhood, limits] = [node.connections(), node.neighbourhood(), node.limitStats()];
        console.error(`--- Node peer ---\n${JSON.stringify({ id, status, connections, neighbourhood, limits })}`);
      }
    });
    const readers = await Promise.all(tabs.map(collectMessages));
    const heard = new Map<PeerId, string[]>();
    for (const node of nodes) {
      const list: string[] = [];
      heard.set(node.id, list);
      node.addEventListener('message', (event) => {
        if (typeof event.detail.data === 'string') list.push(`${event.detail.from} ${event.detail.data}`);
      });
    }
    const [first, second] = nodes;
    const tab = tabs[0];
    if (first === undefined || second === undefined || tab === undefined) throw new Error('members missing');
    const tabId = await idOf(tab);
    await first.broadcast('from a Node peer');
    await tab.evaluate(() => window.tabmesh?.broadcast('from a tab'));
    // Once every member has the second tab's round, duplicates of the first two would have arrived too.
    await Promise.all(tabs.map((t) => waitForMessages(t, 'from a Node peer', 1)));
    await Promise.all(tabs.slice(1).map((t) => waitForMessages(t, 'from a tab', 1)));
    await second.broadcast('again');
    await Promise.all(tabs.map((t) => waitForMessages(t, 'again', 1)));
    for (const read of readers) {
      const got = await read();
      expect(got.filter((m) => m.data === 'from a Node peer')).toEqual([
        { from: first.id, data: 'from a Node peer', broadcast: true },
      ]);
    }
    for (const node of nodes) {
      const list = heard.get(node.id) ?? [];
      expect(list.filter((line) => line === `${tabId} from a tab`)).toHaveLength(1);
      expect(list.filter((line) => line.endsWith(' from a Node peer'))).toHaveLength(node === first ? 0 : 1);
    }
  });
});

describe('the tabmesh-peer seed command', () => {
  it('restarted on the same data directory, comes back under the same ID and the tabs reconnect to it; its metrics count the channels', async () => {
    const server = await browser.pageServer();
    const dir = await dataDir();
    const args = ['--signaling', server.wsUrl, '--network', 'seeded', '--data-dir', dir];
    const first = seed([...args, '--metrics-port', '0']);
    const id = await first.joinedId();
    const tabs = await Promise.all(
      [0, 1].map(async () => browser.tab(server, { network: 'seeded' }, await browser.newContext())),
    );
    await Promise.all(tabs.map((tab) => waitForPeer(tab, id)));
    // Each side confirms the channel when the other's confirmation arrives, so
    // a tab can see the seed before the seed sees the tab: wait for the seed's word.
    await first.line('peer:connect', undefined, '"connections":2[,}]');
    // Its metrics count the two channels.
    const metrics = await (await fetch(String((await first.line('metrics'))['url']))).text();
    expect(metrics).toMatch(/^tabmesh_peer_connections 2$/m);

    expect(await first.stop()).toBe(0);
    await Promise.all(
      tabs.map((tab) =>
        waitForNodeGone(tab, id).catch((error: unknown) => {
          throw new Error(`a tab kept its link to the stopped seed: ${String(error)}`);
        }),
      ),
    );

    const again = seed(args);
    expect(await again.joinedId()).toBe(id);
    await Promise.all(tabs.map((tab) => waitForPeer(tab, id, 45_000)));
    expect(await again.stop()).toBe(0);
  });

  it('a second process on the same data directory is refused with a clear message', async () => {
    const server = await browser.signalingServer();
    const dir = await dataDir();
    const args = ['--signaling', server.wsUrl, '--network', 'locked', '--data-dir', dir];
    const holder = seed(args);
    await holder.joinedId();
    const second = seed(args);
    const fatal = await second.line('fatal');
    expect(fatal['code']).toBe('DATA_DIR_LOCKED');
    expect(String(fatal['message'])).toContain(dir);
    expect(await second.exitCode()).toBe(1);
    expect(await holder.stop()).toBe(0);
  });

  it('a corrupt identity file gives a warning naming it, a fresh identity, and the file kept aside', async () => {
    const server = await browser.signalingServer();
    const dir = await dataDir();
    const args = ['--signaling', server.wsUrl, '--network', 'corrupt', '--data-dir', dir];
    const before = seed(args);
    const oldId = await before.joinedId();
    expect(await before.stop()).toBe(0);
    const files = await readdir(dir);
    const identityFile = files.find((name) => name.startsWith('identity'));
    if (identityFile === undefined) throw new Error(`no identity file in ${files.join(', ')}`);
    await writeFile(join(dir, identityFile), '{"version": 1, "seed": "trunc');

    const after = seed(args);
    // The node's own warnings come out as 'node' lines at pino's warn level (40).
    const warning = await after.line('node');
    expect(warning['level']).toBe(40);
    expect(String(warning['message'])).toContain(`${identityFile} is not valid JSON`);
    expect(String(warning['message'])).toContain('moved aside');
    const newId = await after.joinedId();
    expect(newId).not.toBe(oldId);
    expect((await readdir(dir)).some((name) => name.startsWith(`${identityFile}.corrupt`))).toBe(true);
    expect(await after.stop()).toBe(0);
  });
});

/** Resolves once the tab has no channel to `peer`. */
async function waitForNodeGone(tab: Page, peer: PeerId): Promise<void> {
  await waitForNode(tab, 'peer:disconnect', (_, node, id) => !node.connections().includes(id), {
    arg: peer,
    timeoutMs: 20_000,
    what: `no connection to ${peer}`,
  });
}
