/**
 * `tabmesh/widget` and the server's `/widget.js`: importing this module
 * registers `<tabmesh-peer>` (once, however often it is loaded).
 *
 * @module tabmesh/widget
 */
import { TAG_NAME, TabmeshPeerElement } from './element.js';

if (customElements.get(TAG_NAME) === undefined) customElements.define(TAG_NAME, TabmeshPeerElement);

export {
  MAX_SHOWN_MESSAGES,
  MAX_SHOWN_MESSAGE_CHARS,
  NODE_EVENTS,
  TAG_NAME,
  TabmeshPeerElement,
  optionsFromAttributes,
  signalingFor,
  type WidgetEvents,
  type WidgetView,
} from './element.js';
export type { KnownPeer, MessageDetail, NodeEvents, NodeOptions, NodeStatus, TabmeshNode } from '../tabmesh.js';
