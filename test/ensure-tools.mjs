#!/usr/bin/env node
// Makes sure the programs the tests drive exist before Vitest starts:
// Chromium and Firefox ESR for the browser tests, redis-server for the
// multi-instance tests, coturn for the TURN tests, iproute2 and iptables for
// the NAT lab. What is missing is installed from Debian's packages when we
// are root with apt-get (about a minute for everything); otherwise the run
// stops with a message naming what to install. Never skips silently.
//
// Chromium may also come from $CHROMIUM_PATH, Firefox from $FIREFOX_PATH.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What the tests run, the Debian package that has it, and where else it may be. */
const TOOLS = [
  { command: 'chromium', pkg: 'chromium', paths: [process.env.CHROMIUM_PATH, '/usr/bin/chromium'] },
  { command: 'firefox-esr', pkg: 'firefox-esr', paths: [process.env.FIREFOX_PATH, '/usr/bin/firefox-esr'] },
  { command: 'redis-server', pkg: 'redis-server', paths: [] },
  { command: 'turnserver', pkg: 'coturn', paths: [] },
  { command: 'ip', pkg: 'iproute2', paths: ['/usr/sbin/ip', '/sbin/ip'] },
  { command: 'iptables', pkg: 'iptables', paths: ['/usr/sbin/iptables', '/sbin/iptables'] },
];

function found(tool) {
  for (const path of tool.paths) if (path && existsSync(path)) return true;
  return spawnSync('sh', ['-c', `command -v ${tool.command}`]).status === 0;
}

let missing = TOOLS.filter((tool) => !found(tool));
if (missing.length > 0) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get']).status === 0;
  const packages = missing.map((tool) => tool.pkg);
  if (root && apt) {
    console.log(
      `Not found: ${missing.map((t) => t.command).join(', ')}; installing Debian's ${packages.join(', ')} (apt-get)…`,
    );
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...packages], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    missing = missing.filter((tool) => !found(tool));
  }
  if (missing.length > 0) {
    console.error(
      `The tests need ${missing.map((t) => t.command).join(', ')} and ${missing.length === 1 ? 'it was' : 'they were'} not found.\n` +
        `Install ${missing.length === 1 ? 'it' : 'them'}, e.g. \`sudo apt-get install ${missing.map((t) => t.pkg).join(' ')}\` on Debian/Ubuntu` +
        ' (Chromium may also come from CHROMIUM_PATH, Firefox from FIREFOX_PATH), then run `npm test` again.\n' +
        'The NAT lab and the Firefox tests also need root, for network namespaces.',
    );
    process.exit(1);
  }
}
