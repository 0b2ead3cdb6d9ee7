/** Placeholder page: shows the signaling endpoint and the server's health. */
export {};
const endpoint = document.querySelector<HTMLElement>('#endpoint');
const status = document.querySelector<HTMLElement>('#status');
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
if (endpoint) endpoint.textContent = wsUrl;

async function refresh(): Promise<void> {
  try {
    const response = await fetch('/healthz');
    const body = (await response.json()) as { status?: string; peers?: number; connections?: number };
    if (status) status.textContent = `${body.status ?? 'unknown'}: ${body.peers ?? 0} peers registered`;
  } catch {
    if (status) status.textContent = 'unreachable';
  }
}
void refresh();
