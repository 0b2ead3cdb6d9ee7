/**
 * A/B of two builds of the page: `node --import tsx test/bench/ab.ts DIR_A
 * DIR_B [runs]` serves each built page (e.g. `vite build --outDir DIR`) from
 * its own signaling server with one listening tab, then opens each, first
 * visit and returning, alternately, on a quiet machine (quiet.ts), and prints
 * the median milliseconds to the first connection. For trying a change
 * before it goes in; the benchmark proper is browser-bench.ts.
 */
import { launchChromium, newContext } from '../helpers/browser.js';
import { openTabs } from '../helpers/tabs.js';
import { startServer } from '../helpers/server.js';
import type { BrowserContext, Browser } from 'playwright-core';
import { waitForQuiet } from './quiet.js';

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
async function main(): Promise<void> {
  const dirs = process.argv.slice(2, 4);
  const runs = Number(process.argv[4] ?? 15);
  const browser: Browser = await launchChromium();
  const sides = await Promise.all(
    dirs.map(async (dir) => {
      const server = await startServer({ staticDir: dir });
      const lc = await newContext(browser);
      await openTabs(lc, server.url, 1, 'network=bench');
      const profile = await newContext(browser);
      await (await profile.newPage()).goto('about:blank');
      return { dir, server, profile, first: [] as number[], ret: [] as number[] };
    }),
  );
  const once = async (ctx: BrowserContext, url: string): Promise<number> => {
    const page = await ctx.newPage();
    await waitForQuiet();
    try {
      await page.goto(url);
      return await page.evaluate(async () => {
        const node = await window.tabmeshReady;
        if (node === undefined) throw new Error('no node');
        return new Promise<number>((resolve) => {
          if (node.connections().length > 0) resolve(performance.now());
          node.addEventListener('peer:connect', () => resolve(performance.now()), { once: true });
        });
      });
    } finally {
      await page.close({ runBeforeUnload: true });
    }
  };
  for (const s of sides) await once(s.profile, `${s.server.url}/?network=bench`);
  for (let r = 0; r < runs; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      const fresh = await newContext(browser);
      s.first.push(await once(fresh, `${s.server.url}/?network=bench`));
      await fresh.close();
      s.ret.push(await once(s.profile, `${s.server.url}/?network=bench`));
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
