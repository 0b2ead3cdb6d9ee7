/**
 * The page's URL contract: `?network=`, `?signaling=` (comma-separated),
 * `?maxConnections=`, `?name=` and `?relay=1` (TURN relays only) set the
 * node's options; anything missing or invalid leaves that option at its
 * default.
 */
import { isValidDisplayName, type NodeOptions } from '../tabmesh.js';

/** Read the node's options from the page's URL query. */
export function optionsFromUrl(search: string): NodeOptions {
  const params = new URLSearchParams(search);
  const signaling = params
    .get('signaling')
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const max = Number(params.get('maxConnections') ?? NaN);
  const network = params.get('network');
  const name = params.get('name');
  return {
    ...(network === null || network === '' ? {} : { network }),
    ...(signaling === undefined || signaling.length === 0 ? {} : { signaling }),
    ...(Number.isInteger(max) && max > 0 ? { maxConnections: max } : {}),
    ...(name !== null && isValidDisplayName(name) ? { name } : {}),
    ...(params.get('relay') === '1' ? { iceTransportPolicy: 'relay' as const } : {}),
  };
}

/** What the settings form holds, as typed. */
export interface SettingsFields {
  readonly network: string;
  /** URLs separated by commas, spaces or new lines. */
  readonly signaling: string;
  readonly maxConnections: string;
  readonly name: string;
}

/** The query string (without `?`) for the settings form: empty fields are left out, so their defaults apply. */
export function settingsQuery(fields: SettingsFields): string {
  const params = new URLSearchParams();
  const network = fields.network.trim();
  if (network !== '') params.set('network', network);
  const signaling = fields.signaling.split(/[\s,]+/).filter((s) => s !== '');
  if (signaling.length > 0) params.set('signaling', signaling.join(','));
  const max = fields.maxConnections.trim();
  if (max !== '') params.set('maxConnections', max);
  const name = fields.name.trim();
  if (name !== '') params.set('name', name);
  return params.toString();
}

/** The form's fields as the URL `search` sets them (blank where the default applies). */
export function fieldsFromUrl(search: string): SettingsFields {
  const params = new URLSearchParams(search);
  return {
    network: params.get('network') ?? '',
    signaling: (params.get('signaling') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .join('\n'),
    maxConnections: params.get('maxConnections') ?? '',
    name: params.get('name') ?? '',
  };
}
