import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { OmsError } from '../domain/oms-error.js';
import type { ParsedDate } from '../domain/time.js';
import { MAX_PAGE_TOKEN_CHARS, type ApiLogFilters } from './parse-request.js';

/**
 * NextPageToken: opaque (encrypted), tamper-proof (authenticated), bound to the account (associated
 * data) and to the request's filters (a digest inside), valid 24 hours, and carrying everything a later
 * page needs so that pages never shift: the resolved window, the snapshot bound (the highest arrival
 * sequence when the first page was read) and the position after the last record returned.
 *
 *   token = base64url( version(1) | iv(12) | tag(16) | AES-256-GCM(JSON state) )
 *
 * The key is derived from the master key, so every replica sharing it accepts the others' tokens.
 */
export const PAGE_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface PageState {
  fromUs: number;
  toUs: number;
  maxSeq: number;
  afterDateUs: number;
  afterSeq: number;
}

interface TokenPayload {
  f: string;
  w: [number, number];
  m: number;
  c: [number, number];
  e: number;
}

function canonicalList<T extends string | number>(values: readonly T[] | undefined): T[] {
  return [...new Set(values ?? [])].sort();
}

/** A digest of what selects records: two requests with the same digest select the same records. */
export function digestFilters(filters: ApiLogFilters, after: ParsedDate | undefined, before: ParsedDate | undefined): string {
  const canonical = JSON.stringify([
    canonicalList(filters.QueryAccessKeys),
    canonicalList(filters.QueryApiNames),
    canonicalList(filters.QueryCallNames),
    canonicalList(filters.QueryIpAddresses),
    canonicalList(filters.QueryUserAgents),
    canonicalList(filters.RequestIds),
    canonicalList(filters.ResponseStatusCodes),
    after === undefined ? null : [after.us, after.dateOnly],
    before === undefined ? null : [before.us, before.dateOnly],
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

const TOKEN_CHARS = /^[A-Za-z0-9_-]{40,}$/;
const INVALID = 'The NextPageToken is not valid for this request.';

function isSafeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

export class PageTokenCodec {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('PageTokenCodec needs a 32-byte key');
    this.#key = key;
  }

  encode(accountId: string, filtersDigest: string, state: PageState, nowMs: number): string {
    const payload: TokenPayload = {
      f: filtersDigest,
      w: [state.fromUs, state.toUs],
      m: state.maxSeq,
      c: [state.afterDateUs, state.afterSeq],
      e: nowMs + PAGE_TOKEN_TTL_MS,
    };
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(accountId, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** Throws OmsError('InvalidPageToken') for anything but an intact, unexpired token of this account and filters. */
  decode(token: string, accountId: string, filtersDigest: string, nowMs: number): PageState {
    if (token.length > MAX_PAGE_TOKEN_CHARS || !TOKEN_CHARS.test(token)) throw new OmsError('InvalidPageToken', INVALID);
    const raw = Buffer.from(token, 'base64url');
    // The last base64 character can carry unused bits that the decoder ignores: only the canonical
    // spelling of the bytes is the token that was issued, any other is an altered token.
    if (raw.length < 1 + IV_BYTES + TAG_BYTES + 2 || raw[0] !== VERSION || raw.toString('base64url') !== token) {
      throw new OmsError('InvalidPageToken', INVALID);
    }
    let text: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(Buffer.from(accountId, 'utf8'));
      decipher.setAuthTag(raw.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
      text = Buffer.concat([decipher.update(raw.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      // Altered, truncated, or sealed for another account: all look the same from outside.
      throw new OmsError('InvalidPageToken', INVALID);
    }
    const payload = JSON.parse(text) as Partial<TokenPayload>;
    const { f, w, m, c, e } = payload;
    if (
      typeof f !== 'string' || !Array.isArray(w) || !Array.isArray(c) ||
      !isSafeInt(w[0]) || !isSafeInt(w[1]) || !isSafeInt(m) || !isSafeInt(c[0]) || !isSafeInt(c[1]) || !isSafeInt(e)
    ) {
      throw new OmsError('InvalidPageToken', INVALID);
    }
    if (f !== filtersDigest) throw new OmsError('InvalidPageToken', 'The NextPageToken was issued for other filters.');
    if (e <= nowMs) throw new OmsError('InvalidPageToken', 'The NextPageToken has expired.');
    return { fromUs: w[0], toUs: w[1], maxSeq: m, afterDateUs: c[0], afterSeq: c[1] };
  }
}
