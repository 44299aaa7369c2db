import { PkceError, fail } from "./errors.js";
import type { CodeChallengeMethod } from "./pkce.js";
import { MAX_TIMER } from "./request.js";

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
  /**
   * When it expires: `createdAt` plus the creating flow's `ttlMs`, so a flow with another `ttlMs`
   * judges it alike. Entries written before it existed fall back to the reading flow's `ttlMs`.
   */
  expiresAt?: number;
  returnTo: string | null;
  /** The OpenID Connect nonce sent with this transaction, when the provider uses one. */
  nonce?: string;
  /** The provider accepts a callback without `state` (OpenRouter). */
  stateless?: boolean;
}

/** @internal The transaction store over a Web Storage object. */
export interface TransactionStore {
  /** Writes and reads back. @throws {PkceError} `storage_unavailable`. */
  put(tx: Transaction): void;
  /**
   * Every transaction stored under exactly `keyPrefix + state`, expired ones flagged. Unreadable
   * entries, and entries under a longer prefix (another flow's), are left out.
   */
  list(): Array<{ tx: Transaction; expired: boolean }>;
  remove(state: string): void;
  /**
   * Removes and checks that the entry is gone: replay protection must not fail open on a storage
   * whose `removeItem` throws or does nothing.
   * @throws {PkceError} `storage_unavailable`.
   */
  take(state: string): void;
  /**
   * Removes this prefix's expired entries and unreadable ones (including an entry whose key does
   * not end in its own state); keys without the prefix, and other flows' entries under a longer
   * prefix, are never touched.
   */
  sweep(): void;
}

/** @internal Options of {@link createTransactionStore}. */
export interface StoreOptions {
  storage: StorageLike | (() => StorageLike);
  keyPrefix: string;
  ttlMs: number;
  now?: () => number;
}

// The storage's own error is kept only by name.
const unavailable = (cause?: unknown, message = "storage unavailable (disabled, full or sandboxed)"): never =>
  fail("storage_unavailable", message, cause instanceof Error ? { cause: new Error(cause.name) } : undefined);

/**
 * @internal A transaction store keyed by `keyPrefix + state`.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 */
export function createTransactionStore(options: StoreOptions): TransactionStore {
  const { keyPrefix, ttlMs } = options;
  // Read at each use (not captured here), as the flow stamps createdAt with Date.now() at each use.
  const now = options.now ?? (() => Date.now());
  // Resolved at each operation: a getter function is only called when the storage is needed.
  const storage = (): StorageLike => {
    try {
      const s = typeof options.storage === "function" ? options.storage() : options.storage;
      if (typeof s?.getItem === "function") return s;
    } catch (error) {
      unavailable(error);
    }
    return unavailable();
  };
  // The transaction under `key`, or null when it is missing or unreadable.
  const read = (key: string): Transaction | null => {
    const s = storage();
    try {
      // JSON.parse(null) is null, like a missing entry should be.
      const tx = JSON.parse(s.getItem(key)!) as Transaction | null;
      return typeof tx?.codeVerifier === "string" && typeof tx.state === "string" && typeof tx.createdAt === "number" ? tx : null;
    } catch {
      return null;
    }
  };
  // Every key under the prefix.
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
  // Unreadable entries count as expired, so a sweep drops them too. A stored expiry wins over this
  // flow's ttlMs, so a flow never sweeps another flow's longer-lived transaction; a lifetime above
  // the largest ttlMs (2^31 - 1) is no flow's and falls back to ours.
  const expired = (tx: Transaction | null): boolean => {
    const age = tx ? now() - tx.createdAt : Infinity;
    const life = tx && typeof tx.expiresAt === "number" && tx.expiresAt - tx.createdAt <= MAX_TIMER ? tx.expiresAt - tx.createdAt : ttlMs;
    return age > life || age < 0;
  };
  const removeKey = (key: string) => {
    try {
      storage().removeItem(key);
    } catch {
      // Nothing more can be done; the entry will expire.
    }
  };

  return {
    put(tx) {
      const key = keyPrefix + tx.state;
      const value = JSON.stringify(tx);
      let cause: unknown;
      try {
        const s = storage();
        s.setItem(key, value);
        if (s.getItem(key) === value) return;
      } catch (error) {
        cause = error;
      }
      removeKey(key);
      // A PkceError from resolving the storage is already the answer.
      if (cause instanceof PkceError) throw cause;
      unavailable(cause);
    },
    list: () =>
      keys().flatMap((key) => {
        const tx = read(key);
        // Only the exact key counts: an entry read here is removed by the same key, and a flow
        // whose prefix merely starts like this one keeps its entries to itself.
        return tx && key === keyPrefix + tx.state ? [{ tx, expired: expired(tx) }] : [];
      }),
    remove: (state) => removeKey(keyPrefix + state),
    take(state) {
      const key = keyPrefix + state;
      removeKey(key);
      let cause: unknown;
      try {
        // `== null`: a storage of the app's own may answer undefined for a key it does not hold.
        if (storage().getItem(key) == null) return;
      } catch (error) {
        cause = error;
      }
      unavailable(cause, "storage cannot remove the transaction (its code could be replayed)");
    },
    sweep() {
      for (const key of keys()) {
        const tx = read(key);
        // A readable entry that ends in its own state under a longer prefix is another flow's.
        const own = !tx || key === keyPrefix + tx.state || !key.endsWith(tx.state);
        if (own && expired(tx && key === keyPrefix + tx.state ? tx : null)) removeKey(key);
      }
    },
  };
}
