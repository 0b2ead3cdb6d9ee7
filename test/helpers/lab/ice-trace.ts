/**
 * ICE in a lab tab's failure report: every RTCPeerConnection the page makes
 * notes, in the trace that `traceNodes` keeps (`window.__tabmeshTrace`), its
 * ICE servers, each candidate offered and received, its ICE states, and,
 * once connected or failed, its candidate pairs. A subclass installed
 * before the page's scripts run, as test/browser/fixtures/turn.ts does; the
 * node sees an ordinary RTCPeerConnection.
 */
import type { BrowserContext } from 'playwright-core';

/** Runs in the page before its scripts (serialised: self-contained). */
function installIceTrace(): void {
  const Native = window.RTCPeerConnection;
  const start = performance.now();
  let made = 0;
  const note = (line: string): void => {
    const trace = (window as unknown as { __tabmeshTrace?: string[] }).__tabmeshTrace;
    trace?.push(`${(performance.now() - start).toFixed(0)} ms ice ${line}`);
  };
  /** `typ host 1.2.3.4:5` from a candidate line, or the line when it does not parse. */
  const brief = (candidate: string | undefined): string => {
    const match = /\s(\S+)\s(\d+)\styp\s(\S+)/.exec(candidate ?? '');
    return match === null ? (candidate ?? 'end') : `${match[3] ?? ''} ${match[1] ?? ''}:${match[2] ?? ''}`;
  };
  const pairs = async (pc: RTCPeerConnection): Promise<string> => {
    const stats = await pc.getStats();
    const lines: string[] = [];
    const end = (id: unknown): string => {
      const c = stats.get(String(id)) as { candidateType?: string; address?: string; port?: number } | undefined;
      return `${c?.candidateType ?? '?'} ${c?.address ?? '(hidden)'}:${String(c?.port)}`;
    };
    stats.forEach((s: { type: string; state?: string; nominated?: boolean; [k: string]: unknown }) => {
      if (s.type !== 'candidate-pair') return;
      const checks = `${String(s['requestsSent'])}/${String(s['responsesReceived'])}/${String(s['requestsReceived'])}`;
      lines.push(
        `${s.state ?? '?'}${s.nominated === true ? ' nominated' : ''} ${end(s['localCandidateId'])} -> ` +
          `${end(s['remoteCandidateId'])} (checks sent/answered/received ${checks})`,
      );
    });
    return lines.join('; ') || 'no pairs';
  };
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      const pc = `pc${++made}`;
      note(`${pc} made with ${JSON.stringify((config?.iceServers ?? []).map((s) => s.urls))}`);
      this.addEventListener('icecandidate', (event) => note(`${pc} offers ${brief(event.candidate?.candidate)}`));
      this.addEventListener('iceconnectionstatechange', () => {
        const state = this.iceConnectionState;
        note(`${pc} ${state}`);
        if (state === 'connected' || state === 'failed') {
          pairs(this).then(
            (text) => note(`${pc} pairs: ${text}`),
            (error: unknown) => note(`${pc} pairs unread: ${String(error)}`),
          );
        }
      });
    }

    override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
      note(`received ${brief(candidate?.candidate)}`);
      return super.addIceCandidate(candidate);
    }
  };
}

/** Trace ICE in every page of `context` (made with `traceNodes` first, which keeps the trace). */
export async function traceIce(context: BrowserContext): Promise<void> {
  await context.addInitScript(installIceTrace);
}
