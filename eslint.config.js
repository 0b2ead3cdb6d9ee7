// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Layering (docs/ARCHITECTURE.md, "Who may import whom"): shared/ imports nothing of web/ or the server, nor any platform module. */
const nodeModules = [
  'node:*',
  'fs',
  'path',
  'http',
  'https',
  'net',
  'crypto',
  'os',
  'url',
  'stream',
  'util',
  'ws',
  'pino',
  'prom-client',
  'sirv',
];

/** Every browser file: no server code, no Node modules. */
const webPatterns = [
  { group: ['**/signaling-server/**'], message: 'web/ must not import the server.' },
  { group: nodeModules, message: 'web/ runs in browsers: no Node modules.' },
];

/**
 * The node's insides. The page (web/app) and the widget (web/widget) use the
 * node only through its public API, web/tabmesh.ts, as any site embedding it
 * would; the DOM helpers they share live in web/ui/.
 */
const nodeInternals = [
  '**/node/**',
  '**/transport/**',
  '**/storage/**',
  '**/local/**',
  '**/signaling-client*',
  '**/shared/**',
];
const publicEntryOnly = {
  group: nodeInternals,
  message:
    'The page and the widget import the node only through its public entry, web/tabmesh.ts (export what they need there).',
};

/**
 * The page and the widget: the node only through the public entry, and not each other.
 * @param {string} files
 * @param {string} other
 * @param {string} message
 */
function uiRules(files, other, message) {
  return {
    files: [files],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...webPatterns, publicEntryOnly, { group: [other], message }] }],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'docs/api/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['eslint.config.js', 'test/*.mjs'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      'no-empty': ['error', { allowEmptyCatch: false }],
      eqeqeq: 'error',
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/web/**', '**/signaling-server/**'],
              message: 'shared/ must not import web/ or signaling-server/.',
            },
            { group: nodeModules, message: 'shared/ is isomorphic: no Node or server modules.' },
          ],
        },
      ],
    },
  },
  {
    files: ['web/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: webPatterns }] },
  },
  {
    files: ['web/node/**/*.ts', 'web/transport/**/*.ts', 'web/storage/**/*.ts', 'web/local/**/*.ts', 'web/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...webPatterns,
            {
              group: ['**/app/**', '**/widget/**', '**/ui/**'],
              message: 'The node knows nothing of the page, the widget or their UI helpers.',
            },
          ],
        },
      ],
    },
  },
  {
    // The Node peer (tabmesh/node, tabmesh-peer): the node with Node's modules, still no server, page or widget.
    files: ['web/nodejs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/signaling-server/**'], message: 'web/ must not import the server.' },
            {
              group: ['**/app/**', '**/widget/**', '**/ui/**'],
              message: 'The Node peer knows nothing of the page, the widget or their UI helpers.',
            },
          ],
        },
      ],
    },
  },
  uiRules('web/app/**/*.ts', '**/widget/**', 'The page does not import the widget.'),
  uiRules('web/widget/**/*.ts', '**/app/**', 'The widget does not import the page.'),
  {
    files: ['web/ui/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...webPatterns,
            {
              group: [...nodeInternals, '**/tabmesh.js', '**/app/**', '**/widget/**'],
              message:
                'web/ui/ holds DOM helpers for the page and the widget: it knows nothing of the node, the page or the widget.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['signaling-server/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/web/**'], message: 'The server must not import web/.' }] },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  prettier,
);
