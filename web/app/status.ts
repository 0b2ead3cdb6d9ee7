/** The status lines: who this tab is (in the header) and how the node runs (the Status card). */
import { shortPeerId, type NodeStatus, type TabmeshNode } from '../tabmesh.js';
import { $, describeError, setText } from './dom.js';

/** The header's network and this tab's ID (the full one in its tooltip), with `name` when it has one. */
export function showIdentity(node: TabmeshNode, name: string | undefined): void {
  $('#network').textContent = node.network;
  const own = $('#own-id');
  own.textContent = name === undefined ? shortPeerId(node.id) : `${name} · ${shortPeerId(node.id)}`;
  own.title = node.id;
}

/** The Status card: signaling (with its state dot), storage and crypto. */
export function renderStatus(status: NodeStatus): void {
  $('#signal-state').dataset['state'] = status.signaling;
  setText(
    $('#status-signaling'),
    `${status.signaling}${status.signalingUrl === undefined ? '' : ` · ${status.signalingUrl}`}`,
  );
  setText(
    $('#status-storage'),
    status.storage === 'memory'
      ? `memory${status.storageReason === undefined ? '' : `: ${status.storageReason}`}`
      : status.storage === 'file'
        ? 'files'
        : 'IndexedDB',
  );
  setText($('#status-crypto'), `Ed25519 via ${status.crypto}`);
}

/** The Status card when the node could not start. */
export function showStartFailure(error: unknown): void {
  $('#status-signaling').textContent = `failed to start: ${describeError(error)}`;
  $('#signal-state').dataset['state'] = 'failed';
}
