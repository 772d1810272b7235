import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { OSC_ERRORS } from '../../src/api/index.js';
import { OMS_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { SETTINGS } from '../../src/config/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function tableRows(afterHeading: string): string[][] {
  const start = readme.indexOf(afterHeading);
  assert.notEqual(start, -1, `README has a ${afterHeading} section`);
  const rows: string[][] = [];
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|') || line.startsWith('|---')) continue;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim().replace(/`/g, '')));
  }
  return rows.slice(1);
}

describe('README stays in step with the code', () => {
  it('lists every error of the error table with its HTTP status, Code and Type, and no other', () => {
    const documented = new Set(tableRows('## Errors').map(([status, code, type]) => `${status} ${code} ${type}`));
    const actual = new Set(Object.values(OSC_ERRORS).map((row) => `${row.status} ${row.code} ${row.type}`));
    assert.deepEqual([...documented].sort(), [...actual].sort());
  });

  it('lists every setting with its flag, variable and default', () => {
    const rows = tableRows('## Configuration');
    for (const setting of SETTINGS) {
      const row = rows.find(([, env]) => env === setting.env);
      assert.ok(row, `${setting.env} is documented`);
      // A setting without a flag (a secret) shows a dash in the flag column.
      assert.equal(row[0], setting.flag ?? '—', setting.env);
      if (setting.default !== '') assert.equal(row[2], setting.default, setting.env);
    }
    assert.equal(rows.length, SETTINGS.length);
  });

  it('starts Node with the same V8 flags from the oms binary, npm start and README', () => {
    const flags = OMS_NODE_FLAGS.join(' ');
    const binary = readFileSync(new URL('../../src/cli/oms.ts', import.meta.url), 'utf8');
    assert.equal(binary.split('\n')[0], `#!/usr/bin/env -S node ${flags}`);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    assert.ok((pkg.scripts.start ?? '').endsWith(` node ${flags} dist/cli/oms.js serve`), `npm start runs node ${flags}`);
    assert.ok(readme.includes(`node ${flags} dist/cli/oms.js serve`), 'README shows the flags for a service manager');
  });
});
