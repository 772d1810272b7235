import { randomInt } from 'node:crypto';

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** 20 characters, as OUTSCALE access key ids. */
export function generateAccessKeyId(): string {
  return randomString(KEY_ALPHABET, 20);
}

/** 40 characters, as OUTSCALE secret keys (about 206 bits of entropy). */
export function generateSecretKey(): string {
  return randomString(KEY_ALPHABET, 40);
}

/** 12 digits, not starting with 0 so that no tool that reads it as a number loses a digit. */
export function generateAccountId(): string {
  return String(randomInt(1, 10)) + randomString('0123456789', 11);
}

export const ACCOUNT_ID_PATTERN = /^\d{12}$/;
export const ACCESS_KEY_ID_PATTERN = /^[A-Z0-9]{20}$/;
export const USER_NAME_PATTERN = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
