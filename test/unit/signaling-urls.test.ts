import { describe, expect, it } from 'vitest';
import { MAX_LEARNED_SIGNALING_URLS, SignalingClient } from '../../web/signaling-client.js';
import { newIdentity, newRecord } from '../helpers/client.js';

async function client(urls: string[]): Promise<SignalingClient> {
  const identity = await newIdentity();
  const record = await newRecord(identity, 'lobby');
  const ignore = (): void => undefined;
  return new SignalingClient(
    { urls, network: 'lobby', identity, record: () => record, random: Math.random },
    {
      onState: ignore,
      onWelcome: ignore,
      onSignal: ignore,
      onProblem: ignore,
      onUndeliverable: ignore,
      onTurnPending: ignore,
      onTurn: ignore,
      onStun: ignore,
    },
  );
}

describe('signaling servers learned from peers', () => {
  it('keeps configured URLs first, adds a bounded number of learned ones, without repeats', async () => {
    const signaling = await client(['ws://a.example/ws']);
    signaling.learn(['ws://a.example/ws', 'wss://b.example/ws', 'wss://b.example/ws']);
    expect(signaling.knownUrls()).toEqual(['ws://a.example/ws', 'wss://b.example/ws']);
    signaling.learn(Array.from({ length: 10 }, (_, i) => `wss://s${i}.example/ws`));
    expect(signaling.knownUrls()).toHaveLength(1 + MAX_LEARNED_SIGNALING_URLS);
    expect(signaling.knownUrls()[0]).toBe('ws://a.example/ws');
  });

  it('never lets a peer steer a secure page to plain ws:', async () => {
    const signaling = await client(['wss://a.example/ws']);
    signaling.learn(['ws://evil.example/ws', 'wss://b.example/ws']);
    expect(signaling.knownUrls()).toEqual(['wss://a.example/ws', 'wss://b.example/ws']);
  });
});
