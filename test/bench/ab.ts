/**
 * A/B of two builds of the page: `node --import tsx test/bench/ab.ts DIR_A
 * DIR_B [runs]` serves each built page (e.g. `vite build --outDir DIR`) from
 * its own signaling server with one listening tab, then opens each, first
 * visit and returning, alternately, on a quiet machine (quiet.ts), and prints
 * the median milliseconds to the first connection. For trying a change
 * before it goes in; the benchmark proper is browser-bench.ts.
 */
import type { Browser } from 'playwright-core';
import { launchChromium, newContext } from '../helpers/browser.js';
import { startServer } from '../helpers/server.js';
import { openTabs } from '../helpers/tabs.js';
import { median, tabmeshConnectOnce } from './browser-bench.js';

async function main(): Promise<void> {
  const dirs = process.argv.slice(2, 4);
  const runs = Number(process.argv[4] ?? 15);
  const browser: Browser = await launchChromium();
  const sides = await Promise.all(
    dirs.map(async (dir) => {
      const server = await startServer({ staticDir: dir });
      await openTabs(await newContext(browser), server.url, 1, 'network=bench');
      const profile = await newContext(browser);
      await (await profile.newPage()).goto('about:blank');
      return { dir, server, profile, first: [] as number[], ret: [] as number[] };
    }),
  );
  // The returning profile's first visit is not counted.
  for (const s of sides) await tabmeshConnectOnce(browser, s.server.url, 'bench', s.profile);
  for (let r = 0; r < runs; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      s.first.push(await tabmeshConnectOnce(browser, s.server.url, 'bench'));
      s.ret.push(await tabmeshConnectOnce(browser, s.server.url, 'bench', s.profile));
    }
  }
  for (const s of sides)
    console.log(`${s.dir.padEnd(30)} first ${median(s.first).toFixed(0)}  returning ${median(s.ret).toFixed(0)}`);
  await browser.close();
  for (const s of sides) await s.server.close();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
