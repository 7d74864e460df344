import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// Layers (README.md, "Dependencies"): rpc/ stands alone; the infrastructure and the libraries of agent/
// never import a feature (agent/features.ts lists the features and hands them down); shipped
// code never imports test/.
const FEATURES = [
  'apt-gate',
  'clock',
  'commands',
  'gateway-interface',
  'packaging',
  'protected-files',
  'qrexec-files',
  'replace-ips',
  'simulate',
  'stacked-tor',
  'status',
  'tor-state',
  'updates-bridge',
  'updates-check',
  'updates-proxy',
]
const INFRASTRUCTURE = [
  'agent/cli.ts',
  'agent/context.ts',
  'agent/io.ts',
  'agent/paths.ts',
  'agent/run.ts',
  'agent/daemon/**',
  'agent/fs/**',
  'agent/generated/**',
  'agent/manifest/**',
  'agent/net/**',
  'agent/notify/**',
  'agent/qubesdb/**',
  'agent/role/**',
  'agent/services/environment.ts',
  'agent/services/registry.ts',
  'agent/services/selectors.ts',
  'agent/services/table.ts',
  'agent/systemd/**',
  'agent/tinyproxy/**',
  'agent/tor/**',
]
const noTest = { group: ['**/test/**'], message: 'Shipped code never imports test/.' }
const noAgent = {
  group: ['**/agent/**', '**/agent'],
  message: 'rpc/ is a library of its own: it never imports agent/.',
}
const noFeature = {
  group: [...FEATURES.flatMap((name) => [`**/${name}/**`, `**/${name}`]), '**/features'],
  allowTypeImports: true,
  message: 'Infrastructure receives the features from agent/features.ts; it never imports one (types excepted).',
}
const restrict = (...patterns) => ({
  'no-restricted-imports': 'off',
  '@typescript-eslint/no-restricted-imports': ['error', { patterns }],
})

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'build/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // An async method may implement a Promise-returning interface without awaiting anything.
      '@typescript-eslint/require-await': 'off',
      // A rejection passes on what was thrown or the abort signal's reason, unchanged.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  { files: ['agent/**', 'packages-meta/**'], rules: restrict(noTest) },
  { files: ['rpc/**'], rules: restrict(noTest, noAgent) },
  { files: INFRASTRUCTURE, rules: restrict(noTest, noFeature) },
  {
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Tests and benches read the JSON the program prints (JSON.parse gives any) and assert on it.
    files: ['test/**', 'bench/**', '*.config.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      // Cleanups registered as `onTestFinished(thing.close)` are arrow properties.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['**/*.mjs', '**/*.js'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
)
