import { describe, expect, it } from 'vitest';
import { isPrivateEndpoint, isPublicEndpoint } from '../../web/node/endpoint-scope.js';

describe('isPrivateEndpoint', () => {
  it.each([
    'ws://localhost:8787/ws',
    'wss://LOCALHOST/ws',
    'ws://localhost./ws',
    'wss://dev.localhost/ws',
    'wss://printer.local/ws',
    'wss://signal.internal/ws',
    'wss://box.home.arpa/ws',
    'wss://nas.lan/ws',
    'wss://router/ws',
    'ws://127.0.0.1:8787/ws',
    'ws://127.1.2.3/ws',
    'wss://10.1.2.3/ws',
    'wss://172.16.0.1/ws',
    'wss://172.31.255.255/ws',
    'wss://192.168.0.10/ws',
    'wss://169.254.1.1/ws',
    'wss://100.64.0.1/ws',
    'wss://0.0.0.0/ws',
    'wss://224.0.0.1/ws',
    // Numeric forms the URL parser turns into 127.0.0.1.
    'ws://2130706433/ws',
    'ws://0x7f.1/ws',
    'ws://017700000001/ws',
    'wss://[::1]/ws',
    'wss://[::]/ws',
    'wss://[fd12:3456::1]/ws',
    'wss://[fc00::1]/ws',
    'wss://[fe80::1]/ws',
    'wss://[fec0::1]/ws',
    'wss://[ff02::1]/ws',
    'wss://[::ffff:127.0.0.1]/ws',
    'wss://[::ffff:c0a8:101]/ws',
    'not a url',
  ])('%s is private', (url) => {
    expect(isPrivateEndpoint(url)).toBe(true);
    expect(isPublicEndpoint(url)).toBe(false);
  });

  it.each([
    'wss://signal.example.com/ws',
    'wss://example.org',
    'ws://8.8.8.8/ws',
    'wss://172.32.0.1/ws',
    'wss://100.128.0.1/ws',
    'wss://192.169.0.1/ws',
    'wss://[2001:db8::1]/ws',
    'wss://[::ffff:808:808]/ws',
  ])('%s is public', (url) => {
    expect(isPrivateEndpoint(url)).toBe(false);
  });
});
