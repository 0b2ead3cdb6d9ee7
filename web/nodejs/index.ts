/**
 * PLACEHOLDER for the `tabmesh/node` entry, written in another branch
 * (i16-nodepeer): only its signature, so the tabmesh-peer CLI typechecks.
 * Replaced by the real module at merge.
 */
import { ErrorCode, TabmeshError } from '../../shared/errors.js';
import type { NodeDeps, NodeOptions, TabmeshNode } from '../node/options.js';

export type NodePeerOptions = NodeOptions & { readonly dataDir?: string };

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- a placeholder: the signature only
export function createNode(_options?: NodePeerOptions, _deps?: NodeDeps): Promise<TabmeshNode> {
  return Promise.reject(new TabmeshError(ErrorCode.CLOSED, 'createNode is a placeholder in this branch'));
}
