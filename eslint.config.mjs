// typescript-eslint's recommended rules, without the type-aware ones (`npm run typecheck` runs the
// compiler already; a second typed program would double the lint time on two cores). Formatting is
// Prettier's alone (eslint-config-prettier turns off the rules that would argue with it).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.deploy/', '.azurite/', '.local/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` says a value is left out on purpose (a destructured field dropped, say).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // CommonJS entry points (bin/), and the three modules that require the app late on purpose: the
    // functions must register after the settings are checked, or after functions-core is in place.
    files: ['**/*.js', '**/*.cjs', 'functions/index.ts', 'local/start.ts', 'test/support/captureRegistrations.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off', '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    // The domain never holds the table itself: each module is handed the rows of its kind
    // (shared/storage/tableLayout.ts), so one file says which row is whose.
    files: ['shared/**/*.ts'],
    ignores: ['shared/storage/tableLayout.ts', 'shared/storage/storageAccount.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@azure/data-tables',
              importNames: ['TableClient'],
              message: 'Take the PartitionRows of your kind of row from the TableLayout (shared/storage/tableLayout.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    // The dashboard's script runs in the browser, as it is written (no build step).
    files: ['dashboard/**/*.js'],
    languageOptions: { globals: { ...globals.browser }, sourceType: 'script' },
  },
  {
    // A test reads JSON answers and asserts their shape with expect; typing each answer twice adds nothing.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
