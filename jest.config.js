// Tests run on the compiled output (dist/): worker_threads and spawned app processes then load
// exactly the JavaScript that `npm start` runs. See docs/adr/0001-nestjs-11-commonjs.md.
/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  roots: ['<rootDir>/dist'],
  testMatch: ['**/*.spec.js', '**/*.e2e-spec.js'],
  testEnvironment: 'node',
  setupFiles: ['source-map-support/register'],
  testTimeout: 60_000,
  maxWorkers: 2,
};
