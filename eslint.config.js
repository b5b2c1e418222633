// ESLint: the recommended JavaScript and typescript-eslint rules, without type information. The two
// type-aware rules that catch real bugs here (a promise nobody awaits, awaiting something that is
// not one: typescript-eslint's no-floating-promises and await-thenable) run in oxlint
// (.oxlintrc.json), on TypeScript 7's types: here they made typescript-eslint build TypeScript 5
// programs for both tsconfigs, about 25 s of the checks' CPU, where oxlint takes about 8 s.
// Layout is prettier's job, not eslint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/fixtures/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Control characters in regular expressions are the point where they occur: canonical JSON
      // escaping, and escaping text from elsewhere before a person reads it (protocol/display.ts).
      'no-control-regex': 'off',
      // At most 120 columns. A line may run longer only for one string, template or regular
      // expression literal that is kept whole (a test name, an SQL statement, a message to grep for).
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
    },
  },
);
