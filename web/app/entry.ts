/**
 * The page's first script. It creates the node (web/node/node.ts: the
 * signaling socket, storage, Ed25519, this tab's identity and the first offer
 * start at once, see web/node/boot.ts), then hands over to main.ts, which
 * draws the page. The page's own code is a separate chunk, fetched beside
 * this one and evaluated after it, so the node's first steps wait for none of
 * it.
 */
import { createNode } from '../node/node.js';
import { optionsFromUrl } from './url.js';

const options = optionsFromUrl(location.search);
const node = createNode(options);
// Invalid options reject it: main.ts shows why, once loaded.
node.catch(() => undefined);
window.tabmeshReady = import('./main.js').then((page) => page.start(options, node));
