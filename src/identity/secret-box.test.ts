import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { MASTER_KEY_BYTES, SecretBox, deriveKey, loadOrCreateMasterKey } from './secret-box.js';

const CONTEXT = 'AKIAOMSTEST000000001';
const SECRET = Buffer.from('OMSTESTSECRET0000000000000000000000000001');

describe('SecretBox', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);

  it('refuses a key that is not 32 bytes', () => {
    assert.throws(() => new SecretBox(Buffer.alloc(31)));
    assert.throws(() => new SecretBox(Buffer.alloc(64)));
  });

  it('opens what it sealed', () => {
    assert.deepEqual(box.open(box.seal(SECRET, CONTEXT), CONTEXT), SECRET);
  });

  it('round-trips any bytes in any context', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.string(), (bytes, context) => {
        const plaintext = Buffer.from(bytes);
        assert.deepEqual(box.open(box.seal(plaintext, context), context), plaintext);
      }),
      { numRuns: 300 },
    );
  });

  it('does not show the secret in the sealed bytes and seals it differently each time', () => {
    const first = box.seal(SECRET, CONTEXT);
    const second = box.seal(SECRET, CONTEXT);
    assert.equal(first.includes(SECRET), false);
    assert.equal(first.includes(Buffer.from(CONTEXT)), false);
    assert.notDeepEqual(first, second);
    assert.equal(first.length, 12 + 16 + SECRET.length);
  });

  it('gives undefined for another context', () => {
    const sealed = box.seal(SECRET, CONTEXT);
    assert.equal(box.open(sealed, 'AKIAOMSTEST000000002'), undefined);
    assert.equal(box.open(sealed, ''), undefined);
  });

  it('gives undefined for another key', () => {
    const sealed = box.seal(SECRET, CONTEXT);
    assert.equal(new SecretBox(randomBytes(32)).open(sealed, CONTEXT), undefined);
  });

  it('gives undefined when any byte was altered', () => {
    const sealed = box.seal(SECRET, CONTEXT);
    for (let i = 0; i < sealed.length; i++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const altered = Buffer.from(sealed);
        altered[i] = (altered[i] as number) ^ flip;
        assert.equal(box.open(altered, CONTEXT), undefined, `byte ${i} ^ ${flip}`);
      }
    }
  });

  it('gives undefined for truncated, extended or empty boxes', () => {
    const sealed = box.seal(SECRET, CONTEXT);
    for (let length = 0; length < sealed.length; length++) {
      assert.equal(box.open(sealed.subarray(0, length), CONTEXT), undefined, `length ${length}`);
    }
    assert.equal(box.open(Buffer.concat([sealed, Buffer.of(0)]), CONTEXT), undefined);
    assert.equal(box.open(Buffer.alloc(0), CONTEXT), undefined);
  });

  it('seals and opens an empty secret', () => {
    assert.deepEqual(box.open(box.seal(Buffer.alloc(0), CONTEXT), CONTEXT), Buffer.alloc(0));
  });
});

describe('deriveKey', () => {
  const master = randomBytes(32);

  it('gives 32 bytes, the same for the same master key and purpose', () => {
    const secrets = deriveKey(master, 'secrets');
    assert.equal(secrets.length, 32);
    assert.deepEqual(deriveKey(Buffer.from(master), 'secrets'), secrets);
  });

  it('gives different keys for different purposes and master keys, never the master key itself', () => {
    const keys = [deriveKey(master, 'secrets'), deriveKey(master, 'page-tokens'), deriveKey(randomBytes(32), 'secrets')].map((k) => k.toString('hex'));
    assert.equal(new Set([...keys, master.toString('hex')]).size, 4);
  });

  it('keeps a box sealed for one purpose closed to the other', () => {
    const sealed = new SecretBox(deriveKey(master, 'secrets')).seal(SECRET, CONTEXT);
    assert.equal(new SecretBox(deriveKey(master, 'page-tokens')).open(sealed, CONTEXT), undefined);
  });
});

describe('loadOrCreateMasterKey', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'oms-secret-box-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let counter = 0;
  const freshDir = (): string => path.join(root, `case-${++counter}`);

  it('creates a 32-byte key in a 0600 file, creating missing directories', () => {
    const file = path.join(freshDir(), 'nested', 'master.key');
    const key = loadOrCreateMasterKey(file);
    assert.equal(key.length, MASTER_KEY_BYTES);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'), key);
  });

  it('creates the key once and reads the same key back afterwards', () => {
    const file = path.join(freshDir(), 'master.key');
    const created = loadOrCreateMasterKey(file);
    const text = readFileSync(file, 'utf8');
    const loaded = loadOrCreateMasterKey(file);
    assert.deepEqual(loaded, created);
    assert.equal(readFileSync(file, 'utf8'), text);
  });

  it('gives a new random key to each new file', () => {
    const dir = freshDir();
    assert.notDeepEqual(loadOrCreateMasterKey(path.join(dir, 'a.key')), loadOrCreateMasterKey(path.join(dir, 'b.key')));
  });

  it('reads a key an operator wrote, with or without a trailing newline', () => {
    const dir = freshDir();
    const key = randomBytes(32);
    writeFileSync(path.join(dir + '-a.key'), key.toString('base64'));
    writeFileSync(path.join(dir + '-b.key'), `${key.toString('base64')}\n`);
    assert.deepEqual(loadOrCreateMasterKey(dir + '-a.key'), key);
    assert.deepEqual(loadOrCreateMasterKey(dir + '-b.key'), key);
  });

  it('refuses a file that does not hold a 32-byte key rather than replacing it', () => {
    const file = path.join(root, `short-${++counter}.key`);
    writeFileSync(file, randomBytes(16).toString('base64'));
    const before = readFileSync(file, 'utf8');
    assert.throws(() => loadOrCreateMasterKey(file), /does not hold a 32-byte base64 key/);
    assert.equal(readFileSync(file, 'utf8'), before);
    const empty = path.join(root, `empty-${++counter}.key`);
    writeFileSync(empty, '');
    assert.throws(() => loadOrCreateMasterKey(empty), /does not hold a 32-byte base64 key/);
  });

  it('passes on errors other than a missing file', () => {
    const dir = freshDir();
    loadOrCreateMasterKey(path.join(dir, 'x.key'));
    assert.throws(() => loadOrCreateMasterKey(dir), (err: NodeJS.ErrnoException) => err.code === 'EISDIR');
  });
});
