/**
 * The page's first script. It creates the node (web/node/node.ts: the
 * signaling socket, storage, Ed25519, this tab's identity and the first offer
 * start at once, see web/node/boot.ts), then hands over to main.ts, which
 * draws the page. The page's own code is a separate chunk, fetched beside
 * this one and evaluated after it, so the node's first steps wait for none of
 * it.
 *
 * It needs nothing of the node but `createNode`, so it too imports the public
 * entry: that brings no module into this chunk that createNode does not
 * already need.
 */
import { createNode } from '../tabmesh.js';
import { optionsFromUrl } from './url.js';

const options = optionsFromUrl(location.search);
const node = createNode(options);
// Not dropped: main.ts awaits this same promise and shows why the node could
// not start (invalid options, say). This handler only keeps the browser from
// reporting the rejection as unhandled while main.ts is still loading.
node.catch(() => undefined);
window.tabmeshReady = import('./main.js').then((page) => page.start(options, node));
