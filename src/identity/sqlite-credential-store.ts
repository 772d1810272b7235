import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Statement } from 'better-sqlite3';
import type { AccessKeyRecord, AccessKeyState, Account, CredentialStore, NewAccessKey, User } from './credential-store.js';
import { IdentityError } from './credential-store.js';
import {
  ACCESS_KEY_ID_PATTERN,
  ACCOUNT_ID_PATTERN,
  USER_NAME_PATTERN,
  generateAccessKeyId,
  generateAccountId,
  generateSecretKey,
} from './generate-ids.js';
import type { SecretBox } from './secret-box.js';

const SCHEMA_VERSION = 1;

// Secrets are stored sealed (AES-256-GCM with a key outside this file, bound to the access key id),
// because SigV4 needs the secret itself to recompute signatures: a hash would not do.
const SCHEMA_V1 = `
CREATE TABLE accounts (
  AccountId TEXT PRIMARY KEY,
  Email     TEXT,
  CreatedAt TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE users (
  AccountId TEXT NOT NULL REFERENCES accounts(AccountId),
  UserName  TEXT NOT NULL,
  CreatedAt TEXT NOT NULL,
  PRIMARY KEY (AccountId, UserName)
) WITHOUT ROWID;
CREATE TABLE access_keys (
  AccessKeyId  TEXT PRIMARY KEY,
  AccountId    TEXT NOT NULL REFERENCES accounts(AccountId),
  UserName     TEXT,
  State        TEXT NOT NULL CHECK (State IN ('ACTIVE', 'INACTIVE')),
  SealedSecret BLOB NOT NULL,
  CreatedAt    TEXT NOT NULL
) WITHOUT ROWID;
`;

interface AccessKeyRow {
  AccessKeyId: string;
  AccountId: string;
  UserName: string | null;
  State: AccessKeyState;
  SealedSecret: Buffer;
}

export interface SqliteCredentialStoreOptions {
  path: string;
  secretBox: SecretBox;
}

export class SqliteCredentialStore implements CredentialStore {
  readonly #db: Database.Database;
  readonly #box: SecretBox;
  readonly #insertAccount: Statement<[string, string | null, string]>;
  readonly #accountExists: Statement<[string], { one: number }>;
  readonly #insertUser: Statement<[string, string, string]>;
  readonly #userExists: Statement<[string, string], { one: number }>;
  readonly #insertKey: Statement<[string, string, string | null, Buffer, string]>;
  readonly #findKey: Statement<[string], AccessKeyRow>;
  readonly #setState: Statement<[AccessKeyState, string]>;
  readonly #countAccounts: Statement<[], { n: number }>;

  constructor(options: SqliteCredentialStoreOptions) {
    mkdirSync(path.dirname(options.path), { recursive: true });
    this.#db = new Database(options.path);
    this.#box = options.secretBox;
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('foreign_keys = ON');
    this.#migrate();
    this.#insertAccount = this.#db.prepare('INSERT INTO accounts (AccountId, Email, CreatedAt) VALUES (?, ?, ?)');
    this.#accountExists = this.#db.prepare('SELECT 1 AS one FROM accounts WHERE AccountId = ?');
    this.#insertUser = this.#db.prepare('INSERT INTO users (AccountId, UserName, CreatedAt) VALUES (?, ?, ?)');
    this.#userExists = this.#db.prepare('SELECT 1 AS one FROM users WHERE AccountId = ? AND UserName = ?');
    this.#insertKey = this.#db.prepare(
      "INSERT INTO access_keys (AccessKeyId, AccountId, UserName, State, SealedSecret, CreatedAt) VALUES (?, ?, ?, 'ACTIVE', ?, ?)",
    );
    this.#findKey = this.#db.prepare('SELECT AccessKeyId, AccountId, UserName, State, SealedSecret FROM access_keys WHERE AccessKeyId = ?');
    this.#setState = this.#db.prepare('UPDATE access_keys SET State = ? WHERE AccessKeyId = ?');
    this.#countAccounts = this.#db.prepare('SELECT count(*) AS n FROM accounts');
  }

  #migrate(): void {
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new IdentityError(`credentials database schema ${version} is newer than this version of oms understands (${SCHEMA_VERSION})`);
    }
    if (version < 1) {
      this.#db.transaction(() => {
        this.#db.exec(SCHEMA_V1);
        this.#db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    }
  }

  async createAccount(options: { accountId?: string; email?: string }): Promise<Account> {
    const accountId = options.accountId ?? generateAccountId();
    if (!ACCOUNT_ID_PATTERN.test(accountId)) throw new IdentityError(`account id must be 12 digits, got ${JSON.stringify(accountId)}`);
    if (this.#accountExists.get(accountId)) throw new IdentityError(`account ${accountId} already exists`);
    this.#insertAccount.run(accountId, options.email ?? null, new Date().toISOString());
    return options.email === undefined ? { AccountId: accountId } : { AccountId: accountId, Email: options.email };
  }

  async createUser(accountId: string, userName: string): Promise<User> {
    this.#requireAccount(accountId);
    if (!USER_NAME_PATTERN.test(userName)) throw new IdentityError(`user name must be 1-64 characters of A-Z a-z 0-9 +=,.@_-, got ${JSON.stringify(userName)}`);
    if (this.#userExists.get(accountId, userName)) throw new IdentityError(`user ${userName} already exists in account ${accountId}`);
    this.#insertUser.run(accountId, userName, new Date().toISOString());
    return { AccountId: accountId, UserName: userName };
  }

  async createAccessKey(accountId: string, userName?: string): Promise<NewAccessKey> {
    this.#requireAccount(accountId);
    if (userName !== undefined && !this.#userExists.get(accountId, userName)) {
      throw new IdentityError(`no user ${JSON.stringify(userName)} in account ${accountId}`);
    }
    const accessKeyId = generateAccessKeyId();
    const secretKey = generateSecretKey();
    const sealed = this.#box.seal(Buffer.from(secretKey, 'utf8'), accessKeyId);
    this.#insertKey.run(accessKeyId, accountId, userName ?? null, sealed, new Date().toISOString());
    const key: NewAccessKey = { AccessKeyId: accessKeyId, SecretKey: secretKey, AccountId: accountId };
    if (userName !== undefined) key.UserName = userName;
    return key;
  }

  async setAccessKeyState(accessKeyId: string, state: AccessKeyState): Promise<void> {
    const result = this.#setState.run(state, accessKeyId);
    if (result.changes === 0) throw new IdentityError(`no access key ${JSON.stringify(accessKeyId)}`);
  }

  async findAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    if (!ACCESS_KEY_ID_PATTERN.test(accessKeyId)) return undefined;
    const row = this.#findKey.get(accessKeyId);
    if (row === undefined) return undefined;
    const secret = this.#box.open(row.SealedSecret, row.AccessKeyId);
    // A secret that cannot be unsealed (wrong master key, altered row) makes the key unusable, not readable.
    if (secret === undefined) return undefined;
    const record: AccessKeyRecord = {
      AccessKeyId: row.AccessKeyId,
      AccountId: row.AccountId,
      State: row.State,
      SecretKey: secret.toString('utf8'),
    };
    if (row.UserName !== null) record.UserName = row.UserName;
    return record;
  }

  async countAccounts(): Promise<number> {
    return this.#countAccounts.get()?.n ?? 0;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #requireAccount(accountId: string): void {
    if (!ACCOUNT_ID_PATTERN.test(accountId)) throw new IdentityError(`account id must be 12 digits, got ${JSON.stringify(accountId)}`);
    if (!this.#accountExists.get(accountId)) throw new IdentityError(`no account ${accountId}`);
  }
}
