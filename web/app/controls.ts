/**
 * What the visitor does: copy this tab's ID, send a message (to everyone or
 * one peer), and message or connect to the peer selected in the graph.
 */
import { unlessGone, type PeerId, type TabmeshNode } from '../tabmesh.js';
import { $, describeError } from './dom.js';

export interface ControlsContext {
  readonly node: TabmeshNode;
  /** The peer selected in the graph. */
  readonly selection: () => PeerId;
  /** A peer as the page names it. */
  readonly label: (peer: PeerId) => string;
  /** Log a message this tab sent (`to` undefined: to everyone). */
  readonly sent: (to: PeerId | undefined, text: string) => void;
}

export function wireControls(context: ControlsContext): void {
  wireCopyId(context.node);
  wireCompose(context);
  wireDetailButtons(context);
  // Closing the node on the way out ends every channel at once, instead of
  // leaving peers to notice the silence.
  addEventListener('pagehide', () => {
    context.node.close().catch(unlessGone((error) => console.warn('Tabmesh: closing the node failed', error)));
  });
}

function wireCopyId(node: TabmeshNode): void {
  $('#copy-id').addEventListener('click', () => {
    // Refused when the page is not focused or the permission is denied; the
    // ID stays selectable in the header (and whole in its tooltip).
    navigator.clipboard
      .writeText(node.id)
      .catch((error: unknown) => console.warn('Tabmesh: could not copy the peer ID', error));
  });
}

/** The message form: to everyone, or to the peer chosen; logged once sent, or the failure shown. */
function wireCompose({ node, sent }: ControlsContext): void {
  $('#compose').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = $('#message', HTMLTextAreaElement);
    const to = $('#recipient', HTMLSelectElement).value as PeerId | '';
    const error = $('#send-error');
    error.textContent = '';
    const body = text.value;
    (to === '' ? node.broadcast(body) : node.send(to, body)).then(
      () => {
        sent(to === '' ? undefined : to, body);
        text.value = '';
      },
      (failure: unknown) => {
        error.textContent = describeError(failure);
      },
    );
  });
}

/** The detail panel's buttons: address the message form to the selected peer, or connect to it. */
function wireDetailButtons({ node, selection, label }: ControlsContext): void {
  $('#detail-message').addEventListener('click', () => {
    const peer = selection();
    const select = $('#recipient', HTMLSelectElement);
    if (![...select.options].some((o) => o.value === peer)) {
      const option = document.createElement('option');
      option.value = peer;
      option.textContent = `${label(peer)} (through the mesh)`;
      select.append(option);
    }
    select.value = peer;
    $('#message').focus();
  });
  $('#detail-connect').addEventListener('click', () => {
    const peer = selection();
    const result = $('#detail-result');
    result.textContent = `Connecting to ${label(peer)}…`;
    node.connect(peer).then(
      () => {
        result.textContent = `Connected to ${label(peer)}.`;
      },
      (failure: unknown) => {
        result.textContent = `Could not connect: ${describeError(failure)}`;
      },
    );
  });
}
