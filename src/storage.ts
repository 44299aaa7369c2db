import { PkceError } from "./errors.js";
import type { CodeChallengeMethod } from "./pkce.js";

/** The part of the Web Storage API this library uses; `sessionStorage` is one. */
export interface StorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** One pending authorization: what the callback page needs to finish it. */
export interface Transaction {
  state: string;
  codeVerifier: string;
  codeChallengeMethod: CodeChallengeMethod;
  redirectUri: string;
  issuer: string | null;
  provider: string;
  createdAt: number;
  returnTo: string | null;
}

/** @internal The transaction store over a Web Storage object. */
export interface TransactionStore {
  /** Writes and reads back. @throws {PkceError} `storage_unavailable`. */
  put(tx: Transaction): void;
  /** Every transaction under the prefix, expired ones flagged. Unreadable entries are dropped. */
  list(): Array<{ tx: Transaction; expired: boolean }>;
  remove(state: string): void;
  /** Removes expired and unreadable entries under the prefix; other keys are never touched. */
  sweep(): void;
}

/** @internal Options of {@link createTransactionStore}. */
export interface StoreOptions {
  storage: StorageLike | (() => StorageLike);
  keyPrefix: string;
  ttlMs: number;
  now?: () => number;
}

const unavailable = (cause?: unknown): never => {
  throw new PkceError(
    "storage_unavailable",
    "Session storage is unavailable (disabled, full, or a sandboxed frame); the sign-in cannot start.",
    cause instanceof Error ? { cause: new Error(cause.name) } : undefined,
  );
};

/**
 * @internal A transaction store keyed by `keyPrefix + state`.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 */
export function createTransactionStore(options: StoreOptions): TransactionStore {
  const { keyPrefix, ttlMs } = options;
  // Read at each use (not captured here), as the flow stamps createdAt with Date.now() at each use.
  const now = options.now ?? (() => Date.now());
  const storage = (): StorageLike => {
    try {
      const s = typeof options.storage === "function" ? options.storage() : options.storage;
      if (s && typeof s.getItem === "function") return s;
    } catch (error) {
      return unavailable(error);
    }
    return unavailable();
  };
  const read = (key: string): Transaction | null => {
    try {
      const tx = JSON.parse(storage().getItem(key) ?? "null") as Transaction | null;
      return tx && typeof tx.codeVerifier === "string" && typeof tx.createdAt === "number" ? tx : null;
    } catch (error) {
      if (error instanceof PkceError) throw error;
      return null;
    }
  };
  const keys = (): string[] => {
    const s = storage();
    const found: string[] = [];
    try {
      for (let i = 0; i < s.length; i++) {
        const key = s.key(i);
        if (key?.startsWith(keyPrefix)) found.push(key);
      }
    } catch (error) {
      unavailable(error);
    }
    return found;
  };
  const removeKey = (key: string) => {
    try {
      storage().removeItem(key);
    } catch {
      // Nothing more can be done; the entry will expire.
    }
  };
  const list = () =>
    keys().flatMap((key) => {
      const tx = read(key);
      if (!tx) return [];
      const age = now() - tx.createdAt;
      return [{ tx, expired: age > ttlMs || age < 0 }];
    });

  return {
    put(tx) {
      const key = keyPrefix + tx.state;
      const value = JSON.stringify(tx);
      try {
        storage().setItem(key, value);
        if (storage().getItem(key) !== value) unavailable();
      } catch (error) {
        removeKey(key);
        if (error instanceof PkceError) throw error;
        unavailable(error);
      }
    },
    list,
    remove: (state) => removeKey(keyPrefix + state),
    sweep() {
      for (const key of keys()) {
        const tx = read(key);
        const age = tx ? now() - tx.createdAt : Infinity;
        if (age > ttlMs || age < 0) removeKey(key);
      }
    },
  };
}
