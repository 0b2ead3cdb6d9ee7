#!/usr/bin/env node
// Makes sure a Chromium for the browser tests exists before Vitest starts.
// Order: $CHROMIUM_PATH, /usr/bin/chromium, `chromium` on PATH. When none is
// there and we are root with apt-get, install Debian's package (about 25 s);
// otherwise stop with a message naming what to install. Never skips silently.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function find() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].filter(Boolean);
  for (const path of candidates) if (existsSync(path)) return path;
  const which = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

if (find() === undefined) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get']).status === 0;
  if (root && apt) {
    console.log('Chromium not found: installing Debian package "chromium" (apt-get)…');
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (find() === undefined) {
    console.error(
      'The browser tests need Chromium and none was found.\n' +
        'Install it, e.g. `sudo apt-get install chromium` on Debian/Ubuntu,\n' +
        'or point CHROMIUM_PATH at a Chromium or Chrome binary, then run `npm test` again.',
    );
    process.exit(1);
  }
}
