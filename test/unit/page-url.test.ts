import { describe, expect, it } from 'vitest';
import { fieldsFromUrl, optionsFromUrl, settingsQuery } from '../../web/app/url.js';

describe("the page's URL contract", () => {
  it('reads every option, and leaves out what is missing or invalid', () => {
    expect(
      optionsFromUrl('?network=room1&signaling=ws://a/ws,%20wss://b/ws&maxConnections=3&name=Ada&relay=1'),
    ).toEqual({
      network: 'room1',
      signaling: ['ws://a/ws', 'wss://b/ws'],
      maxConnections: 3,
      name: 'Ada',
      iceTransportPolicy: 'relay',
    });
    expect(optionsFromUrl('')).toEqual({});
    expect(optionsFromUrl('?network=&signaling=,&maxConnections=0&name=%20bad%20&relay=yes')).toEqual({});
    expect(optionsFromUrl('?maxConnections=2.5')).toEqual({});
  });

  it('round-trips the settings form through the URL', () => {
    const fields = { network: 'room1', signaling: 'ws://a/ws\nwss://b/ws', maxConnections: '4', name: 'Ada' };
    const query = settingsQuery(fields);
    expect(fieldsFromUrl(`?${query}`)).toEqual(fields);
    expect(optionsFromUrl(`?${query}`)).toEqual({
      network: 'room1',
      signaling: ['ws://a/ws', 'wss://b/ws'],
      maxConnections: 4,
      name: 'Ada',
    });
    expect(settingsQuery({ network: ' ', signaling: '', maxConnections: '', name: '' })).toBe('');
  });
});
