/**
 * Neighbours: the node's side of HyParView, driven through its host with
 * real signed records and real frames (encoded by the wire codec, parsed
 * back here), no browser.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../shared/errors.js';
import type { PeerId } from '../../shared/identity/peer-id.js';
import type { Identity } from '../../shared/identity/signing.js';
import { parseChannelFrame } from '../../shared/protocol/channel.js';
import type { WireMembership } from '../../shared/protocol/mesh.js';
import type { SignedRecord } from '../../shared/records.js';
import { MAX_RECORDS_PER_MESSAGE, VERIFY_BURST } from '../../shared/limits.js';
import type { NodeCore } from '../../web/node/core.js';
import { Neighbours, type NeighboursHost } from '../../web/node/neighbours.js';
import { newLimitCounters } from '../../web/node/options.js';
import { verifyBudgets } from '../../web/node/verify-budget.js';
import { countingEd25519, ed25519, newIdentity, newRecord } from '../helpers/client.js';

const NETWORK = 'n';

interface Peer {
  readonly identity: Identity;
  readonly record: SignedRecord;
}

async function peer(): Promise<Peer> {
  const identity = await newIdentity();
  return { identity, record: await newRecord(identity, NETWORK) };
}

/** A Neighbours for `self`, with a host that records what it is asked to do; its clock stands still unless moved. */
function setup(self: Peer) {
  const clock = { now: Date.now() };
  const tally = newLimitCounters();
  const counted = countingEd25519(ed25519);
  const counting = counted.ed25519;
  const held = new Map<PeerId, SignedRecord>();
  const sent: { to: PeerId; message: WireMembership }[] = [];
  const connects: PeerId[] = [];
  const cutOffs: { peer: PeerId; message: string }[] = [];
  const problems: { code: ErrorCode; message: string; peer: PeerId | undefined }[] = [];
  let changes = 0;
  let waiting: (() => void)[] = [];
  /** Resolves at the next thing the part reports (a view change, a problem, a cut-off, a learned record). */
  const next = (): Promise<void> => new Promise((resolve) => waiting.push(resolve));
  const report = (): void => {
    const now = waiting;
    waiting = [];
    for (const resolve of now) resolve();
  };
  const core: NodeCore = {
    identity: self.identity,
    ed25519: counting,
    network: NETWORK,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    now: () => clock.now,
    random: () => 0.5,
    closed: () => false,
    connected: () => [],
    problem: (code, message, from) => {
      problems.push({ code, message, peer: from });
      report();
    },
  };
  const host: NeighboursHost = {
    ownRecord: () => self.record,
    recordOf: (id) => held.get(id),
    learn: (record) => {
      held.set(record.record.id, record);
      report();
    },
    sendFrame: (to, frame) => {
      const parsed = parseChannelFrame(frame);
      if (!parsed.ok || parsed.value.type !== 'membership') throw new Error('not a membership frame');
      sent.push({ to, message: parsed.value.message });
    },
    connect: (id) => connects.push(id),
    disconnect: () => undefined,
    reachable: () => true,
    cutOff: (id, message) => {
      cutOffs.push({ peer: id, message });
      report();
    },
    viewsChanged: () => {
      changes++;
      report();
    },
  };
  const neighbours = new Neighbours(core, host, { activeSize: 3 }, { verify: verifyBudgets(), tally });
  return {
    neighbours,
    held,
    sent,
    connects,
    cutOffs,
    problems,
    next,
    changes: () => changes,
    clock,
    tally,
    verifies: counted.verifies,
  };
}

/** Make `from` a fresh inbound link of `n`. */
function inbound(n: Neighbours, from: Peer): void {
  n.linkUp(from.identity.id, false);
}

describe('Neighbours', () => {
  it('joins through a contact: dials it, then sends a join carrying our own signed record', async () => {
    const self = await peer();
    const contact = await peer();
    const { neighbours, sent, connects } = setup(self);
    neighbours.join([contact.identity.id]);
    expect(connects).toEqual([contact.identity.id]);
    neighbours.linkUp(contact.identity.id, true);
    expect(neighbours.active()).toEqual([contact.identity.id]);
    const joins = sent.filter((s) => s.message.type === 'join');
    expect(joins).toHaveLength(1);
    const [join] = joins;
    expect(join?.to).toBe(contact.identity.id);
    expect(join?.message.type).toBe('join');
    if (join?.message.type !== 'join') return;
    expect(join.message.record).toEqual(self.record.bytes);
  });

  it('takes a joiner whose join carries its own record, learning the record', async () => {
    const self = await peer();
    const joiner = await peer();
    const { neighbours, held, next } = setup(self);
    inbound(neighbours, joiner);
    const changed = next();
    void neighbours.receive(joiner.identity.id, { type: 'join', record: joiner.record.bytes });
    await changed;
    await next();
    expect(held.get(joiner.identity.id)?.text).toBe(joiner.record.text);
    expect(neighbours.active()).toContain(joiner.identity.id);
  });

  it('cuts off a peer whose join carries somebody else’s record', async () => {
    const self = await peer();
    const joiner = await peer();
    const other = await peer();
    const { neighbours, cutOffs, next } = setup(self);
    inbound(neighbours, joiner);
    const reported = next();
    void neighbours.receive(joiner.identity.id, { type: 'join', record: other.record.bytes });
    await reported; // the other's record is learned first
    if (cutOffs.length === 0) await next();
    expect(cutOffs.map((c) => c.peer)).toEqual([joiner.identity.id]);
    expect(cutOffs[0]?.message).toContain('join carries');
    expect(neighbours.active()).not.toContain(joiner.identity.id);
  });

  it('counts a record that does not verify, charged to the neighbour that sent it, and learns nothing', async () => {
    const self = await peer();
    const joiner = await peer();
    const { neighbours, held, problems, next } = setup(self);
    inbound(neighbours, joiner);
    const tampered = joiner.record.bytes.slice();
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    const reported = next();
    void neighbours.receive(joiner.identity.id, { type: 'join', record: tampered });
    await reported;
    expect(problems).toHaveLength(1);
    expect(problems[0]?.peer).toBe(joiner.identity.id);
    expect(problems[0]?.message).toMatch(/^record in a membership message: /);
    expect(held.size).toBe(0);
    expect(neighbours.active()).not.toContain(joiner.identity.id);
  });

  it('forwards a joiner to its other neighbours with the joiner’s record, as held', async () => {
    const self = await peer();
    const first = await peer();
    const joiner = await peer();
    const { neighbours, sent, next } = setup(self);
    neighbours.join([first.identity.id]);
    neighbours.linkUp(first.identity.id, true);
    sent.length = 0;
    inbound(neighbours, joiner);
    const changed = next();
    void neighbours.receive(joiner.identity.id, { type: 'join', record: joiner.record.bytes });
    await changed;
    while (!neighbours.active().includes(joiner.identity.id)) await next();
    const forward = sent.find((s) => s.to === first.identity.id);
    expect(forward?.message.type).toBe('forward-join');
    if (forward?.message.type !== 'forward-join') return;
    expect(forward.message.joiner).toEqual(joiner.record.bytes);
  });

  it('refuses a membership message from a peer it has no link with', async () => {
    const self = await peer();
    const stranger = await peer();
    const { neighbours, problems, next } = setup(self);
    const reported = next();
    void neighbours.receive(stranger.identity.id, { type: 'disconnect' });
    await reported;
    expect(problems.map((p) => [p.code, p.peer])).toEqual([[ErrorCode.PROTOCOL_VIOLATION, stranger.identity.id]]);
    expect(problems[0]?.message).toMatch(/^membership: /);
  });

  it('adds learned peers to the passive view and reports the change', async () => {
    const self = await peer();
    const others = await Promise.all([peer(), peer()]);
    const { neighbours, changes } = setup(self);
    neighbours.addPassive(others.map((p) => p.identity.id));
    expect(neighbours.passive().sort()).toEqual(others.map((p) => p.identity.id).sort());
    expect(changes()).toBe(1);
  });
});

/**
 * Issue 15, item 8: shuffle samples were verified before the active-view
 * check, so any linked peer could make a tab verify 32 records per message at
 * its full membership rate (320 a second; 1.8 s of CPU per second with
 * tweetnacl). Cheap checks now come first, and what is left draws on the
 * neighbour's verification budget.
 */
describe('Neighbours: signature checks on behalf of a neighbour', () => {
  /** A shuffle from `from` that ends here (TTL 0), its sample these records. */
  function shuffle(from: Peer, records: readonly SignedRecord[]): WireMembership {
    return {
      type: 'shuffle',
      origin: from.identity.id,
      ttl: 0,
      path: [from.identity.id],
      sample: records.map((r) => r.bytes),
    };
  }

  /** `n` peers' records, all fresh to the node. */
  async function records(n: number): Promise<SignedRecord[]> {
    return (await Promise.all(Array.from({ length: n }, () => peer()))).map((p) => p.record);
  }

  it('verifies nothing in a shuffle from a peer that is not its active neighbour, and counts it', async () => {
    const self = await peer();
    const linked = await peer();
    const { neighbours, problems, tally, verifies, held, next } = setup(self);
    inbound(neighbours, linked);
    const sample = await records(MAX_RECORDS_PER_MESSAGE);
    const reported = next();
    void neighbours.receive(linked.identity.id, shuffle(linked, sample));
    await reported;
    expect(verifies()).toBe(0);
    expect(held.size).toBe(0);
    expect(tally.membershipUnread).toBe(1);
    expect(problems.map((p) => [p.code, p.peer])).toEqual([[ErrorCode.PROTOCOL_VIOLATION, linked.identity.id]]);
  });

  it(`verifies at most VERIFY_BURST (${VERIFY_BURST}) records for one neighbour at once, leaving the rest out`, async () => {
    const self = await peer();
    const neighbour = await peer();
    const { neighbours, tally, verifies, held } = setup(self);
    neighbours.join([neighbour.identity.id]);
    neighbours.linkUp(neighbour.identity.id, true);
    const messages = 3;
    const samples = await Promise.all(Array.from({ length: messages }, () => records(MAX_RECORDS_PER_MESSAGE)));
    await Promise.all(samples.map((sample) => neighbours.receive(neighbour.identity.id, shuffle(neighbour, sample))));
    expect(verifies()).toBe(VERIFY_BURST);
    expect(held.size).toBe(VERIFY_BURST);
    expect(tally.verifyOverBudget).toBe(messages * MAX_RECORDS_PER_MESSAGE - VERIFY_BURST);
    expect(neighbours.active()).toEqual([neighbour.identity.id]);
  });

  it('does not verify again a record it holds byte for byte', async () => {
    const self = await peer();
    const neighbour = await peer();
    const { neighbours, verifies, held } = setup(self);
    neighbours.join([neighbour.identity.id]);
    neighbours.linkUp(neighbour.identity.id, true);
    const [known, fresh] = await records(2);
    if (known === undefined || fresh === undefined) throw new Error('two records');
    held.set(known.record.id, known);
    await neighbours.receive(neighbour.identity.id, shuffle(neighbour, [known, fresh]));
    expect(verifies()).toBe(1);
    expect(neighbours.passive()).toEqual(expect.arrayContaining([known.record.id, fresh.record.id]));
  });
});
