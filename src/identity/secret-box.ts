import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * The master key seals access-key secrets (so that a copy of credentials.db alone gives no usable
 * secret) and keys the page tokens. It lives in its own file, outside the databases, created on first
 * start with mode 0600; operators may keep it elsewhere (--master-key-file) or back it up apart.
 */
export const MASTER_KEY_BYTES = 32;

export function loadOrCreateMasterKey(file: string): Buffer {
  try {
    return decodeMasterKey(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const key = randomBytes(MASTER_KEY_BYTES);
  let fd: number;
  try {
    // 'wx' fails if another process created the file meanwhile; then read theirs.
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return decodeMasterKey(readFileSync(file, 'utf8'), file);
    throw err;
  }
  try {
    writeSync(fd, key.toString('base64') + '\n');
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600);
  return key;
}

function decodeMasterKey(text: string, file: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== MASTER_KEY_BYTES) throw new Error(`${file} does not hold a ${MASTER_KEY_BYTES}-byte base64 key`);
  return key;
}

/** A purpose-bound key derived from the master key (HKDF-SHA256), so that one purpose never reuses another's key. */
export function deriveKey(masterKey: Buffer, purpose: 'secrets' | 'page-tokens'): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `oms/${purpose}/v1`, 32));
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM: iv | tag | ciphertext. `context` (e.g. the access key id) is bound as associated data. */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.#key = key;
  }

  seal(plaintext: Buffer, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  /** Returns undefined when the box was altered, sealed with another key or for another context. */
  open(sealed: Buffer, context: string): Buffer | undefined {
    if (sealed.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, sealed.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      return undefined;
    }
  }
}
