/**
 * Light and dark themes. The page follows `prefers-color-scheme` until the
 * toggle is used; the choice is then kept in localStorage under THEME_KEY
 * (index.html applies it before the first paint, so there is no flash).
 */

/** The localStorage key for an explicit choice: `light` or `dark`. */
export const THEME_KEY = 'tabmesh:theme';

export type Theme = 'light' | 'dark';

function stored(): Theme | undefined {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return value === 'light' || value === 'dark' ? value : undefined;
  } catch {
    // Storage blocked (a sandboxed frame, strict privacy settings): follow the system.
    return undefined;
  }
}

function store(theme: Theme): void {
  try {
    localStorage.setItem(THEME_KEY, theme);
  } catch {
    // Storage blocked: the choice lasts for this page only.
    return;
  }
}

/** Wire the toggle button (aria-pressed: whether the dark theme is on). */
export function setUpThemeToggle(button: HTMLButtonElement): void {
  const system = matchMedia('(prefers-color-scheme: dark)');
  const current = (): Theme => stored() ?? (system.matches ? 'dark' : 'light');
  const show = (): void => {
    const theme = current();
    document.documentElement.dataset['theme'] = theme;
    button.setAttribute('aria-pressed', String(theme === 'dark'));
  };
  button.addEventListener('click', () => {
    store(current() === 'dark' ? 'light' : 'dark');
    show();
  });
  system.addEventListener('change', show);
  show();
}
