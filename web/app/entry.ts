/**
 * The page's first script. It starts what a visitor waits for (the
 * signaling socket, storage, Ed25519 and this tab's identity: see
 * web/node/boot.ts) before the rest of the page's code is fetched and
 * evaluated, then hands over to main.ts, which creates the node from it and
 * draws the page.
 */
import { boot, type Boot } from '../node/boot.js';
import { optionsFromUrl } from './url.js';

const options = optionsFromUrl(location.search);
let booted: Boot | Error;
try {
  booted = boot(options);
} catch (error) {
  // Invalid options: main.ts shows why.
  booted = error instanceof Error ? error : new Error(String(error));
}
window.tabmeshReady = import('./main.js').then((page) => page.start(options, booted));
