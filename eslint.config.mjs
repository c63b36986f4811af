// One lint and format toolchain: ESLint with typescript-eslint, and Prettier run as an ESLint
// rule, so `npm run lint` reports both and every finding is an error (--max-warnings 0).
import js from '@eslint/js';
import jest from 'eslint-plugin-jest';
import prettier from 'eslint-plugin-prettier/recommended';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', 'cdk.out.*/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // `typeof import('x')` types the on-demand require()s below.
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // On demand only where loading is expensive or must wait: the CLI's local engine (it
      // synthesizes the app) and the ESM-only ASL interpreter.
      '@typescript-eslint/no-require-imports': [
        'error',
        { allow: ['^\\.\\./local/', '^aws-local-stepfunctions$'] },
      ],
      eqeqeq: ['error', 'always'],
      'prefer-template': 'error',
    },
  },
  {
    // Handler code runs in Lambda and in the local engine: never the CDK, never lib/.
    files: ['lambda/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'aws-cdk-lib', message: 'Handler code never imports aws-cdk-lib.' },
            { name: 'constructs', message: 'Handler code never imports constructs.' },
          ],
          patterns: [
            { group: ['aws-cdk-lib/*'], message: 'Handler code never imports aws-cdk-lib.' },
            {
              group: ['**/lib/**', '../lib/*', '../../lib/*'],
              message: 'Handler code never imports from lib/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    plugins: { jest },
    rules: {
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      'jest/no-identical-title': 'error',
      // Tests load a built bundle or a module on demand with require().
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { module: 'writable', require: 'readonly', process: 'readonly' } },
  },
  prettier,
);
