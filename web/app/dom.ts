/** Finding the page's elements, writing text only where it changed, and errors in words. */

/** The page's element for `selector`, checked to be a `type` (HTMLElement by default); throws when missing. */
export function $(selector: string): HTMLElement;
export function $<T extends Element>(selector: string, type: abstract new () => T): T;
export function $(selector: string, type: abstract new () => Element = HTMLElement): Element {
  const element = document.querySelector(selector);
  if (!(element instanceof type)) throw new Error(`missing ${selector}`);
  return element;
}

/** Set an element's text, leaving it alone (no mutation, no re-layout) when it already reads so. */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** An error as a sentence for the page. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
