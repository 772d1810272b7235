import { OmsError } from '../../domain/oms-error.js';

/**
 * Turns a better-sqlite3 failure into an OmsError, so that callers never see driver errors.
 * Conditions of the file or the host (locked, I/O, full disk, read-only, unreadable) are
 * StoreUnavailable: the caller may retry later, the API answers 503. Anything else is a bug in this
 * store. Details are fixed texts: never the driver message, which may quote SQL or a path; the
 * driver error stays as `cause` for the log.
 */
export function toStoreError(err: unknown): OmsError {
  if (err instanceof OmsError) return err;
  const code = driverCode(err);
  // Extended codes (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED, ...) share their primary code's meaning.
  const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? '';
  const details = UNAVAILABLE_DETAILS[primary];
  if (details !== undefined) return new OmsError('StoreUnavailable', details, { cause: err });
  return new OmsError('Internal', 'the log store failed', { cause: err });
}

const UNAVAILABLE_DETAILS: Readonly<Record<string, string>> = {
  SQLITE_BUSY: 'the log store is locked by another process',
  SQLITE_LOCKED: 'the log store is locked by another process',
  SQLITE_PROTOCOL: 'the log store is locked by another process',
  SQLITE_IOERR: 'the log store cannot read or write its file',
  SQLITE_FULL: 'the log store disk is full',
  SQLITE_NOLFS: 'the log store file is too large for this system',
  SQLITE_READONLY: 'the log store is read-only',
  SQLITE_PERM: 'the log store file is not writable',
  SQLITE_AUTH: 'the log store file is not accessible',
  SQLITE_CANTOPEN: 'the log store file cannot be opened',
  SQLITE_NOTADB: 'the log store file is not a database',
  SQLITE_CORRUPT: 'the log store file is damaged',
};

function driverCode(err: unknown): string {
  if (typeof err !== 'object' || err === null || !('code' in err)) return '';
  return typeof err.code === 'string' ? err.code : '';
}
