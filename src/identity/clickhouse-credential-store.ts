/**
 * Accounts, EIM users and access keys in ClickHouse, for `--store clickhouse://...`: every `oms serve`
 * replica reads the same identities, so a key created through one replica (or `oms admin`) signs
 * calls to all of them. They live in the store's database on its first node, next to the tables that
 * are shared in the same way (the writers and purges of the log store): a few rows, read by access
 * key id, so no sharding and no replication of their own are needed beyond what that node has.
 *
 * Secrets are sealed with AES-256-GCM under a key derived from the master key (SecretBox), bound to
 * the access key id: a copy of the database alone reveals no usable secret. Every replica is given
 * the same master key file (--master-key-file), which also keys the page tokens, so that replicas
 * accept each other's NextPageToken.
 *
 * ClickHouse has no UPDATE and no unique constraint: a state change inserts a new row with a higher
 * Version into a ReplacingMergeTree(Version), and reads take argMax(…, Version), exact before any
 * merge. Creation checks for an existing id first; two operators creating the same account id at the
 * same instant could both succeed, which leaves one account (the ids are the key), not two.
 *
 * The ClickHouse plumbing (HTTP client, escaped literals) is the log store's: one way to talk to
 * ClickHouse in the code base.
 */
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
import { ClickHouseNode, type ClickHouseNodeOptions } from '../store/clickhouse/clickhouse-node.js';
import { stringLiteral } from '../store/clickhouse/literals.js';

export interface ClickHouseCredentialStoreOptions {
  /** The first node of the store (where its shared tables live). */
  node: ClickHouseNodeOptions;
  /** An identifier, as for the log store. */
  database: string;
  secretBox: SecretBox;
}

export class ClickHouseCredentialStore implements CredentialStore {
  readonly #node: ClickHouseNode;
  readonly #db: string;
  readonly #box: SecretBox;
  #ready: Promise<void> | undefined;

  constructor(options: ClickHouseCredentialStoreOptions) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(options.database)) throw new RangeError('the ClickHouse database name must be an identifier');
    this.#node = new ClickHouseNode(options.node);
    this.#db = options.database;
    this.#box = options.secretBox;
  }

  async createAccount(options: { accountId?: string; email?: string }): Promise<Account> {
    await this.#ensureSchema();
    const accountId = options.accountId ?? generateAccountId();
    if (!ACCOUNT_ID_PATTERN.test(accountId)) throw new IdentityError(`account id must be 12 digits, got ${JSON.stringify(accountId)}`);
    if (await this.#accountExists(accountId)) throw new IdentityError(`account ${accountId} already exists`);
    await this.#node.insert(`${this.#db}.accounts`, [{ AccountId: accountId, Email: options.email ?? '', CreatedAt: new Date().toISOString() }]);
    return options.email === undefined ? { AccountId: accountId } : { AccountId: accountId, Email: options.email };
  }

  async createUser(accountId: string, userName: string): Promise<User> {
    await this.#requireAccount(accountId);
    if (!USER_NAME_PATTERN.test(userName)) throw new IdentityError(`user name must be 1-64 characters of A-Z a-z 0-9 +=,.@_-, got ${JSON.stringify(userName)}`);
    if (await this.#userExists(accountId, userName)) throw new IdentityError(`user ${userName} already exists in account ${accountId}`);
    await this.#node.insert(`${this.#db}.users`, [{ AccountId: accountId, UserName: userName, CreatedAt: new Date().toISOString() }]);
    return { AccountId: accountId, UserName: userName };
  }

  async createAccessKey(accountId: string, userName?: string): Promise<NewAccessKey> {
    await this.#requireAccount(accountId);
    if (userName !== undefined && !(await this.#userExists(accountId, userName))) {
      throw new IdentityError(`no user ${JSON.stringify(userName)} in account ${accountId}`);
    }
    const accessKeyId = generateAccessKeyId();
    const secretKey = generateSecretKey();
    const sealed = this.#box.seal(Buffer.from(secretKey, 'utf8'), accessKeyId);
    await this.#node.insert(`${this.#db}.access_keys`, [
      {
        AccessKeyId: accessKeyId,
        AccountId: accountId,
        UserName: userName ?? '',
        HasUser: userName === undefined ? 0 : 1,
        State: 'ACTIVE',
        SealedSecret: sealed.toString('base64'),
        CreatedAt: new Date().toISOString(),
        Version: 1,
      },
    ]);
    const key: NewAccessKey = { AccessKeyId: accessKeyId, SecretKey: secretKey, AccountId: accountId };
    if (userName !== undefined) key.UserName = userName;
    return key;
  }

  async setAccessKeyState(accessKeyId: string, state: AccessKeyState): Promise<void> {
    await this.#ensureSchema();
    const row = ACCESS_KEY_ID_PATTERN.test(accessKeyId) ? await this.#latestKeyRow(accessKeyId) : undefined;
    if (row === undefined) throw new IdentityError(`no access key ${JSON.stringify(accessKeyId)}`);
    await this.#node.insert(`${this.#db}.access_keys`, [{ ...row, State: state, Version: row.Version + 1 }]);
  }

  async findAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined> {
    if (!ACCESS_KEY_ID_PATTERN.test(accessKeyId)) return undefined;
    await this.#ensureSchema();
    const row = await this.#latestKeyRow(accessKeyId);
    if (row === undefined) return undefined;
    const secret = this.#box.open(Buffer.from(row.SealedSecret, 'base64'), row.AccessKeyId);
    // A secret that cannot be unsealed (wrong master key, altered row) makes the key unusable, not readable.
    if (secret === undefined) return undefined;
    const record: AccessKeyRecord = {
      AccessKeyId: row.AccessKeyId,
      AccountId: row.AccountId,
      State: row.State === 'INACTIVE' ? 'INACTIVE' : 'ACTIVE',
      SecretKey: secret.toString('utf8'),
    };
    if (row.HasUser === 1) record.UserName = row.UserName;
    return record;
  }

  async countAccounts(): Promise<number> {
    await this.#ensureSchema();
    const rows = await this.#node.rows(`SELECT uniqExact(AccountId) FROM ${this.#db}.accounts`);
    return Number(rows[0]?.[0] ?? 0);
  }

  async close(): Promise<void> {
    await this.#node.close();
  }

  #ensureSchema(): Promise<void> {
    this.#ready ??= this.#createTables().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #createTables(): Promise<void> {
    const db = this.#db;
    await this.#node.command(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await Promise.all(
      [
        `CREATE TABLE IF NOT EXISTS ${db}.accounts (AccountId String, Email String, CreatedAt String) ENGINE = ReplacingMergeTree ORDER BY AccountId`,
        `CREATE TABLE IF NOT EXISTS ${db}.users (AccountId String, UserName String, CreatedAt String) ENGINE = ReplacingMergeTree ORDER BY (AccountId, UserName)`,
        // UserName '' with HasUser 0: a key of the account's root identity (no Nullable, to keep reads plain).
        `CREATE TABLE IF NOT EXISTS ${db}.access_keys (AccessKeyId String, AccountId String, UserName String, HasUser UInt8, ` +
          `State String, SealedSecret String, CreatedAt String, Version UInt64) ENGINE = ReplacingMergeTree(Version) ORDER BY AccessKeyId`,
      ].map((sql) => this.#node.command(sql)),
    );
  }

  async #latestKeyRow(accessKeyId: string): Promise<KeyRow | undefined> {
    const rows = await this.#node.rows(
      `SELECT AccessKeyId, argMax(AccountId, Version), argMax(UserName, Version), argMax(HasUser, Version), argMax(State, Version), ` +
        `argMax(SealedSecret, Version), argMax(CreatedAt, Version), max(Version) FROM ${this.#db}.access_keys ` +
        `WHERE AccessKeyId = ${stringLiteral(accessKeyId)} GROUP BY AccessKeyId`,
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      AccessKeyId: String(row[0]),
      AccountId: String(row[1]),
      UserName: String(row[2]),
      HasUser: Number(row[3]),
      State: String(row[4]),
      SealedSecret: String(row[5]),
      CreatedAt: String(row[6]),
      Version: Number(row[7]),
    };
  }

  async #accountExists(accountId: string): Promise<boolean> {
    const rows = await this.#node.rows(`SELECT count() FROM ${this.#db}.accounts WHERE AccountId = ${stringLiteral(accountId)}`);
    return Number(rows[0]?.[0] ?? 0) > 0;
  }

  async #userExists(accountId: string, userName: string): Promise<boolean> {
    const rows = await this.#node.rows(
      `SELECT count() FROM ${this.#db}.users WHERE AccountId = ${stringLiteral(accountId)} AND UserName = ${stringLiteral(userName)}`,
    );
    return Number(rows[0]?.[0] ?? 0) > 0;
  }

  async #requireAccount(accountId: string): Promise<void> {
    await this.#ensureSchema();
    if (!ACCOUNT_ID_PATTERN.test(accountId)) throw new IdentityError(`account id must be 12 digits, got ${JSON.stringify(accountId)}`);
    if (!(await this.#accountExists(accountId))) throw new IdentityError(`no account ${accountId}`);
  }
}

interface KeyRow {
  AccessKeyId: string;
  AccountId: string;
  UserName: string;
  HasUser: number;
  State: string;
  SealedSecret: string;
  CreatedAt: string;
  Version: number;
}
