/**
 * Accounts, EIM users and access keys. Kept apart from the log store: a different file for SQLite,
 * and replaceable on its own (a shared store when several `oms serve` replicas run).
 */
export type AccessKeyState = 'ACTIVE' | 'INACTIVE';

export interface Account {
  AccountId: string;
  Email?: string;
}

export interface User {
  AccountId: string;
  UserName: string;
}

/** A new access key, as `oms admin create-access-key` prints it: the only time the secret is shown. */
export interface NewAccessKey {
  AccessKeyId: string;
  SecretKey: string;
  AccountId: string;
  UserName?: string;
}

/** What authentication needs to know about a key. */
export interface AccessKeyRecord {
  AccessKeyId: string;
  AccountId: string;
  UserName?: string;
  State: AccessKeyState;
  SecretKey: string;
}

export interface CredentialStore {
  createAccount(options: { accountId?: string; email?: string }): Promise<Account>;
  createUser(accountId: string, userName: string): Promise<User>;
  createAccessKey(accountId: string, userName?: string): Promise<NewAccessKey>;
  setAccessKeyState(accessKeyId: string, state: AccessKeyState): Promise<void>;
  /** The key with its secret unsealed, or undefined when no such key exists. */
  findAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  countAccounts(): Promise<number>;
  close(): Promise<void>;
}

/** Identity mistakes made by an operator (`oms admin`): shown as one line. */
export class IdentityError extends Error {
  override name = 'IdentityError';
}
