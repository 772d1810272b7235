import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBearerVerifier } from './ingest-token.js';

const TOKEN = 'a-good-ingest-token-0123456789';

describe('compileBearerVerifier', () => {
  const verify = compileBearerVerifier(TOKEN);

  it('accepts the token under the Bearer scheme, whatever the case of the scheme name', () => {
    assert.equal(verify(`Bearer ${TOKEN}`), 'ok');
    assert.equal(verify(`bearer ${TOKEN}`), 'ok');
    assert.equal(verify(`BEARER  ${TOKEN} `), 'ok');
  });

  it('tells a missing credential from a wrong one', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', `Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN} extra`]) {
      assert.equal(verify(header), 'missing', String(header));
    }
    for (const header of [`Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.toUpperCase()}`, 'Bearer x', `Bearer ${'a'.repeat(10_000)}`]) {
      assert.equal(verify(header), 'wrong', header.slice(0, 40));
    }
  });
});
