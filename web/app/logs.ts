/** The Messages and Refused cards: what the node received and refused, newest first. */
import type { PeerId, TabmeshNode } from '../tabmesh.js';
import { $ } from './dom.js';
import { formatClock } from './format.js';

type LogKind = 'broadcast' | 'direct' | 'routed' | 'sent';

const LOG_BADGES: Record<LogKind, string> = { broadcast: 'broadcast', direct: 'direct', routed: 'routed', sent: 'you' };
/** Entries kept in each log; older ones leave. */
export const MAX_LOG_ENTRIES = 200;

/** Add an entry at the top of a log list. */
function appendLog(
  list: HTMLElement,
  entry: { readonly at: number; readonly kind: LogKind | 'warning'; readonly who: string; readonly text: string },
): void {
  const li = document.createElement('li');
  li.dataset['kind'] = entry.kind;
  const time = document.createElement('time');
  time.dateTime = new Date(entry.at).toISOString();
  time.textContent = formatClock(entry.at);
  const badge = document.createElement('span');
  badge.className = `badge ${entry.kind}`;
  badge.textContent = entry.kind === 'warning' ? 'refused' : LOG_BADGES[entry.kind];
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = entry.who;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = entry.text;
  li.append(time, badge, who, text);
  list.prepend(li);
  while (list.children.length > MAX_LOG_ENTRIES) list.lastElementChild?.remove();
}

/** The two logs, fed by the node's `message` and `warning` events; `label` names peers. */
export class Logs {
  private readonly messages = $('#messages');
  private readonly warnings = $('#warnings');
  private refused = 0;

  constructor(
    node: TabmeshNode,
    private readonly label: (peer: PeerId) => string,
  ) {
    node.addEventListener('message', (event) => {
      const { from, data, broadcast, routed } = event.detail;
      this.message(broadcast ? 'broadcast' : routed === true ? 'routed' : 'direct', label(from), data);
    });
    node.addEventListener('warning', (event) => {
      const { code, message, peer } = event.detail;
      this.refused++;
      $('#warning-count').textContent = String(this.refused);
      $('#warnings-empty').hidden = true;
      appendLog(this.warnings, {
        at: Date.now(),
        kind: 'warning',
        who: peer === undefined ? code : `${code} · ${label(peer)}`,
        text: message,
      });
    });
  }

  /** Log a message this tab sent: to everyone when `to` is undefined. */
  sent(to: PeerId | undefined, text: string): void {
    this.message('sent', to === undefined ? 'to everyone' : `to ${this.label(to)}`, text);
  }

  private message(kind: LogKind, who: string, data: string | Uint8Array): void {
    appendLog(this.messages, {
      at: Date.now(),
      kind,
      who,
      text: typeof data === 'string' ? data : `(${data.length} bytes)`,
    });
    $('#messages-empty').hidden = true;
  }
}
