/** The settings dialog: filled from the URL, applied by loading the page with the new query. */
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_NETWORK, defaultSignalingUrl } from '../tabmesh.js';
import { $ } from './dom.js';
import { fieldsFromUrl, settingsQuery } from './url.js';

export function setUpSettings(): void {
  const dialog = $('#settings', HTMLDialogElement);
  const form = $('#settings-form', HTMLFormElement);
  const network = $('#set-network', HTMLInputElement);
  const signaling = $('#set-signaling', HTMLTextAreaElement);
  const max = $('#set-max', HTMLInputElement);
  const name = $('#set-name', HTMLInputElement);
  network.placeholder = DEFAULT_NETWORK;
  max.placeholder = String(DEFAULT_MAX_CONNECTIONS);
  signaling.placeholder = defaultSignalingUrl(location);
  const fill = (): void => {
    const fields = fieldsFromUrl(location.search);
    network.value = fields.network;
    signaling.value = fields.signaling;
    max.value = fields.maxConnections;
    name.value = fields.name;
  };
  $('#open-settings').addEventListener('click', () => {
    fill();
    dialog.showModal();
  });
  $('#settings-cancel').addEventListener('click', () => dialog.close());
  $('#settings-reset').addEventListener('click', () => {
    for (const input of [network, signaling, max, name]) input.value = '';
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = settingsQuery({
      network: network.value,
      signaling: signaling.value,
      maxConnections: max.value,
      name: name.value,
    });
    location.assign(`${location.pathname}${query === '' ? '' : `?${query}`}`);
  });
}
