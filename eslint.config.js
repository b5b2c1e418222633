// ESLint: the recommended JavaScript and typescript-eslint rules, plus the type-aware rules that
// catch real bugs here (a promise nobody awaits, awaiting something that is not one). Layout is
// prettier's job, not eslint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test/fixtures/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // `project` (the two tsconfigs, built once) rather than `projectService`: the same types for
    // 6 s less of CPU on this code base.
    languageOptions: {
      parserOptions: { project: ['./tsconfig.json', './web/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
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
