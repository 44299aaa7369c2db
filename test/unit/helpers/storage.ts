import type { StorageLike } from "../../../src/index.ts";

/** A Web Storage stand-in over a Map, with the same key order rules as a real one for these tests. */
export class MemoryStorage implements StorageLike {
  readonly data = new Map<string, string>();
  get length(): number {
    return this.data.size;
  }
  key(index: number): string | null {
    return [...this.data.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.data.set(key, String(value));
  }
  removeItem(key: string): void {
    this.data.delete(key);
  }
  clear(): void {
    this.data.clear();
  }
  /** Every key, in insertion order. */
  keys(): string[] {
    return [...this.data.keys()];
  }
}

/** Storage whose every member throws, as in a sandboxed frame or with cookies blocked. */
export function throwingStorage(): StorageLike {
  const deny = (): never => {
    throw new DOMException("The operation is insecure.", "SecurityError");
  };
  return {
    get length(): number {
      return deny();
    },
    key: deny,
    getItem: deny,
    setItem: deny,
    removeItem: deny,
  };
}

/** Storage that is full: reads work, `setItem` throws QuotaExceededError (with the value in its message). */
export class FullStorage extends MemoryStorage {
  /** Values `setItem` was asked to store. */
  readonly attempted: string[] = [];
  override setItem(_key: string, value: string): void {
    this.attempted.push(value);
    throw new DOMException(`Cannot store ${value}: quota exceeded`, "QuotaExceededError");
  }
}

/** Storage that accepts writes and silently forgets them (some private modes). */
export class DroppingStorage extends MemoryStorage {
  override setItem(): void {}
}

/** Storage that keeps something other than what it was given. */
export class CorruptingStorage extends MemoryStorage {
  override setItem(key: string, value: string): void {
    super.setItem(key, value.slice(0, -1));
  }
}

/** Keys of `storage` that start with `prefix`. */
export function keysWithPrefix(storage: StorageLike, prefix: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i);
    if (key !== null && key.startsWith(prefix)) found.push(key);
  }
  return found;
}

/**
 * Makes reading `window.sessionStorage` throw a SecurityError (as with storage disabled) until the
 * returned function is called, which restores the original property.
 */
export function blockSessionStorage(): () => void {
  const own = Object.getOwnPropertyDescriptor(globalThis, "sessionStorage");
  Object.defineProperty(globalThis, "sessionStorage", {
    configurable: true,
    get(): never {
      throw new DOMException("Access is denied for this document.", "SecurityError");
    },
  });
  return () => {
    if (own) Object.defineProperty(globalThis, "sessionStorage", own);
    else delete (globalThis as { sessionStorage?: unknown }).sessionStorage;
  };
}
