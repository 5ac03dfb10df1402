// Copies non-TypeScript assets next to the compiled code (tsc copies only .ts output).
const { cpSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
for (const dir of ['apps/api/src/web/public', 'libs/models/manifests']) {
  cpSync(join(root, dir), join(root, 'dist', dir), { recursive: true });
}
