/**
 * The widget's stylesheet, adopted by its shadow root only (a constructed
 * stylesheet: no `<style>` element, so a host page's CSP need not allow
 * inline styles). Nothing here reaches the host page.
 *
 * The host page's styles cannot select anything inside the shadow root; what
 * they could still pass in is inheritance (a page's `* { color: red
 * !important }` also matches the `<tabmesh-peer>` element itself). `.root`
 * therefore resets every property with `all: initial` and sets its own, so
 * only the documented custom properties come through:
 *
 * | property              | default                  |
 * | --------------------- | ------------------------ |
 * | `--tabmesh-accent`    | `#2458d6`                |
 * | `--tabmesh-bg`        | `#ffffff`                |
 * | `--tabmesh-fg`        | `#1b1f24`                |
 * | `--tabmesh-muted`     | `#5b6470`                |
 * | `--tabmesh-border`    | `#d9dde3`                |
 * | `--tabmesh-font`      | `system-ui, sans-serif`  |
 * | `--tabmesh-font-size` | `14px`                   |
 * | `--tabmesh-radius`       | `999px` (the pill)    |
 * | `--tabmesh-panel-radius` | `12px` (the panel)    |
 *
 * Sizes inside are in `em` of `.root`, never `rem` (a host's root font size
 * must not scale the widget).
 */
export const WIDGET_CSS = `
:host { display: inline-block; vertical-align: middle; }
:host([hidden]) { display: none; }
.root {
  all: initial;
  display: inline-block;
  box-sizing: border-box;
  font-family: var(--tabmesh-font, system-ui, -apple-system, 'Segoe UI', sans-serif);
  font-size: var(--tabmesh-font-size, 14px);
  line-height: 1.4;
  color: var(--tabmesh-fg, #1b1f24);
}
.root *, .root *::before, .root *::after { box-sizing: border-box; }
.pill {
  display: inline-flex; align-items: center; gap: 0.5em;
  padding: 0.3em 0.4em 0.3em 0.8em;
  background: var(--tabmesh-bg, #fff);
  border: 1px solid var(--tabmesh-border, #d9dde3);
  border-radius: var(--tabmesh-radius, 999px);
}
.dot { width: 0.6em; height: 0.6em; border-radius: 50%; background: var(--tabmesh-muted, #5b6470); flex: none; }
.dot[data-state='connected'] { background: #1f9d55; }
.dot[data-state='connecting'] { background: #d69e2e; }
.dot[data-state='disconnected'], .dot[data-state='failed'] { background: #c53030; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.95em; }
.count { font-weight: 600; }
button, input, select {
  font: inherit; color: inherit; margin: 0;
  border: 1px solid var(--tabmesh-border, #d9dde3); border-radius: 0.4em;
  background: var(--tabmesh-bg, #fff); padding: 0.25em 0.6em;
}
button { cursor: pointer; }
button.primary { background: var(--tabmesh-accent, #2458d6); border-color: var(--tabmesh-accent, #2458d6); color: #fff; }
button:focus-visible, input:focus-visible, select:focus-visible {
  outline: 2px solid var(--tabmesh-accent, #2458d6); outline-offset: 1px;
}
.toggle { border-radius: 999px; padding: 0.1em 0.55em; }
.status { margin: 0.4em 0 0; color: var(--tabmesh-muted, #5b6470); font-size: 0.85em; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.panel {
  display: block; width: 22em; max-width: 100%; margin-top: 0.4em; padding: 0.75em;
  background: var(--tabmesh-bg, #fff);
  border: 1px solid var(--tabmesh-border, #d9dde3);
  border-radius: var(--tabmesh-panel-radius, 12px);
}
.panel[hidden] { display: none; }
h2 { all: unset; display: block; font-weight: 600; font-size: 0.9em; margin: 0.5em 0 0.25em; }
ul, ol { list-style: none; margin: 0; padding: 0; max-height: 9em; overflow: auto; }
li { padding: 0.1em 0; overflow-wrap: anywhere; }
.empty { color: var(--tabmesh-muted, #5b6470); }
form { display: flex; flex-wrap: wrap; gap: 0.4em; margin-top: 0.5em; }
form input { flex: 1 1 10em; min-width: 0; }
label { display: block; width: 100%; font-size: 0.85em; color: var(--tabmesh-muted, #5b6470); }
.error { color: #c53030; font-size: 0.85em; margin: 0.25em 0 0; }
`;
