export type { CredentialStore, Account, User, NewAccessKey, AccessKeyRecord, AccessKeyState } from './credential-store.js';
export { IdentityError } from './credential-store.js';
export { Authenticator, type Caller, type AuthenticatorOptions } from './authenticate.js';
export { LockoutTracker } from './lockout.js';
export { SecretBox, loadOrCreateMasterKey, deriveKey } from './secret-box.js';
