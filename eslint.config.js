// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'py-probe/', '**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Untrusted text is checked for control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    // Pure modules: no GitHub toolkit, no processes, no file system (DESIGN.md).
    files: ['src/plan/**/*.ts', 'src/report/**/*.ts', 'src/render/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@actions/*'], message: 'Pure modules must not import @actions/*.' },
            { group: ['execa'], message: 'Pure modules must not run processes.' },
            {
              group: ['node:fs', 'node:fs/*', 'fs', 'fs/*', 'node:child_process'],
              message: 'Pure modules must not touch the file system.',
            },
          ],
        },
      ],
    },
  },
);
