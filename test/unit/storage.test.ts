import { afterEach, describe, expect, it, vi } from "vitest";
import { PkceError } from "../../src/index.ts";
import { createTransactionStore, type Transaction } from "../../src/storage.ts";
import { thrown } from "./helpers/errors.ts";
import { CorruptingStorage, DroppingStorage, FullStorage, MemoryStorage, blockSessionStorage, throwingStorage } from "./helpers/storage.ts";

const PREFIX = "pkce-flow:";
const TTL = 600_000;
const T0 = 1_700_000_000_000;

function tx(state: string, overrides: Partial<Transaction> = {}): Transaction {
  return {
    state,
    codeVerifier: `verifier-${state}-${"v".repeat(40)}`,
    codeChallengeMethod: "S256",
    redirectUri: "https://app.example/callback",
    issuer: null,
    provider: "openrouter",
    createdAt: T0,
    returnTo: null,
    ...overrides,
  };
}

function store(storage: MemoryStorage | (() => never) | ReturnType<typeof throwingStorage>, now = () => T0, keyPrefix = PREFIX) {
  return createTransactionStore({ storage, keyPrefix, ttlMs: TTL, now });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("transaction store", () => {
  it("stores a transaction under keyPrefix + state as JSON and lists it back", () => {
    const storage = new MemoryStorage();
    const s = store(storage);
    s.put(tx("abc"));
    expect(storage.keys()).toEqual(["pkce-flow:abc"]);
    expect(JSON.parse(storage.getItem("pkce-flow:abc")!)).toEqual(tx("abc"));
    expect(s.list()).toEqual([{ tx: tx("abc"), expired: false }]);
  });

  it("honours a custom key prefix and lists only keys under it", () => {
    const storage = new MemoryStorage();
    storage.setItem("pkce-flow:other", JSON.stringify(tx("other")));
    const s = store(storage, () => T0, "myapp.auth.");
    s.put(tx("mine"));
    expect(storage.keys()).toEqual(["pkce-flow:other", "myapp.auth.mine"]);
    expect(s.list().map((e) => e.tx.state)).toEqual(["mine"]);
  });

  it("removes one transaction by state and nothing else", () => {
    const storage = new MemoryStorage();
    storage.setItem("abc", "an app's own value");
    const s = store(storage);
    s.put(tx("abc"));
    s.put(tx("def"));
    s.remove("abc");
    expect(storage.keys()).toEqual(["abc", "pkce-flow:def"]);
  });

  it.each([
    { when: "exactly ttlMs old", now: T0 + TTL, expired: false },
    { when: "one ms older than ttlMs", now: T0 + TTL + 1, expired: true },
    { when: "created in the future (clock moved back)", now: T0 - 1, expired: true },
    { when: "fresh", now: T0 + 1, expired: false },
  ])("lists a transaction $when with expired: $expired", ({ now, expired }) => {
    const storage = new MemoryStorage();
    store(storage).put(tx("abc"));
    expect(store(storage, () => now).list()).toEqual([{ tx: tx("abc"), expired }]);
  });

  it("reads the clock at each use, so a clock mocked after creation is honoured", () => {
    const storage = new MemoryStorage();
    const s = createTransactionStore({ storage, keyPrefix: PREFIX, ttlMs: TTL });
    const now = vi.spyOn(Date, "now").mockReturnValue(T0);
    s.put(tx("abc"));
    expect(s.list()[0]!.expired).toBe(false);
    now.mockReturnValue(T0 + TTL + 1);
    expect(s.list()[0]!.expired).toBe(true);
  });

  it.each([
    ["invalid JSON", "{not json"],
    ["JSON null", "null"],
    ["no verifier", JSON.stringify({ ...tx("x"), codeVerifier: undefined })],
    ["a createdAt that is no number", JSON.stringify({ ...tx("x"), createdAt: "yesterday" })],
  ])("leaves out an entry holding %s", (_, value) => {
    const storage = new MemoryStorage();
    storage.setItem("pkce-flow:bad", value);
    const s = store(storage);
    s.put(tx("good"));
    expect(s.list().map((e) => e.tx.state)).toEqual(["good"]);
  });

  it("sweeps expired and unreadable entries under the prefix and never touches other keys", () => {
    const storage = new MemoryStorage();
    const later = T0 + TTL + 1;
    storage.setItem("theme", "dark");
    storage.setItem("other-app:x", JSON.stringify(tx("x")));
    storage.setItem("pkce-flo", "almost the prefix");
    storage.setItem("pkce-flow:broken", "{");
    store(storage).put(tx("old"));
    store(storage, () => later).put(tx("new", { createdAt: later }));
    store(storage, () => later).sweep();
    expect(storage.keys()).toEqual(["theme", "other-app:x", "pkce-flo", "pkce-flow:new"]);
    expect(storage.getItem("other-app:x")).toBe(JSON.stringify(tx("x")));
  });

  it.each([
    { when: "past its stored expiry, though young by this flow's ttlMs", expiresAt: T0 + 1000, now: T0 + 1001, expired: true },
    { when: "at its stored expiry", expiresAt: T0 + 1000, now: T0 + 1000, expired: false },
    { when: "within its stored expiry, though older than this flow's ttlMs", expiresAt: T0 + 3_600_000, now: T0 + TTL + 1, expired: false },
    { when: "stored with a lifetime above 2^31 - 1 ms (no flow's), judged by this flow's ttlMs", expiresAt: T0 + 2 ** 31, now: T0 + TTL + 1, expired: true },
    { when: "stored with an expiry before its creation", expiresAt: T0 - 1, now: T0, expired: true },
  ])("lists a transaction $when with expired: $expired", ({ expiresAt, now, expired }) => {
    const storage = new MemoryStorage();
    store(storage).put(tx("abc", { expiresAt }));
    expect(store(storage, () => now).list()).toEqual([{ tx: tx("abc", { expiresAt }), expired }]);
  });

  it("sweeps by each entry's stored expiry, keeping another flow's longer-lived transaction", () => {
    const storage = new MemoryStorage();
    const later = T0 + TTL + 1;
    store(storage).put(tx("long", { expiresAt: T0 + 3_600_000 }));
    store(storage).put(tx("short", { expiresAt: T0 + 1000 }));
    store(storage).put(tx("legacy"));
    store(storage, () => later).sweep();
    expect(storage.keys()).toEqual(["pkce-flow:long"]);
  });

  it("takes its storage lazily, at each use, when given a function", () => {
    let calls = 0;
    const storage = new MemoryStorage();
    const s = createTransactionStore({ storage: () => (calls++, storage), keyPrefix: PREFIX, ttlMs: TTL, now: () => T0 });
    expect(calls).toBe(0);
    s.list();
    expect(calls).toBeGreaterThan(0);
  });

  it("uses window.sessionStorage through a getter function", () => {
    const s = createTransactionStore({ storage: () => sessionStorage, keyPrefix: "pkce-flow-store-test:", ttlMs: TTL, now: () => T0 });
    try {
      s.put(tx("abc"));
      expect(sessionStorage.getItem("pkce-flow-store-test:abc")).toBe(JSON.stringify(tx("abc")));
    } finally {
      s.remove("abc");
    }
    expect(sessionStorage.getItem("pkce-flow-store-test:abc")).toBeNull();
  });
});

describe("unusable storage", () => {
  it.each([
    ["every member throws SecurityError", () => throwingStorage()],
    ["setItem throws QuotaExceededError", () => new FullStorage()],
    ["writes are silently dropped", () => new DroppingStorage()],
    ["it keeps something else than what it was given", () => new CorruptingStorage()],
  ])("put fails with storage_unavailable when %s, and leaves no entry behind", (_, make) => {
    const storage = make();
    const transaction = tx("abc");
    const error = thrown(() => store(storage as MemoryStorage).put(transaction));
    expect(error).toBeInstanceOf(PkceError);
    expect(error.code).toBe("storage_unavailable");
    if (storage instanceof MemoryStorage) expect(storage.keys()).toEqual([]);
    expect(error.message + String(error.cause) + JSON.stringify(error)).not.toContain(transaction.codeVerifier);
  });

  it("keeps only the name of the storage's own error as the cause, never its message", () => {
    const storage = new FullStorage();
    const error = thrown(() => store(storage).put(tx("abc")));
    expect(storage.attempted[0]).toContain("verifier-abc");
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).message).toBe("QuotaExceededError");
    expect(String(error.cause)).not.toContain("verifier-abc");
  });

  it.each([
    ["the getter throws", () => store(() => {
      throw new DOMException("denied", "SecurityError");
    })],
    ["the getter gives nothing", () => store((() => null) as unknown as () => never)],
    ["length and key throw", () => store(throwingStorage())],
  ])("list and sweep fail with storage_unavailable when %s", (_, make) => {
    expect(thrown(() => make().list()).code).toBe("storage_unavailable");
    expect(thrown(() => make().sweep()).code).toBe("storage_unavailable");
  });

  it("fails with storage_unavailable when reading window.sessionStorage throws", () => {
    const restore = blockSessionStorage();
    try {
      const s = createTransactionStore({ storage: () => sessionStorage, keyPrefix: PREFIX, ttlMs: TTL });
      expect(thrown(() => s.put(tx("abc"))).code).toBe("storage_unavailable");
      expect(thrown(() => s.list()).code).toBe("storage_unavailable");
    } finally {
      restore();
    }
    expect(typeof sessionStorage.getItem).toBe("function");
  });

  it("drops an entry whose getItem throws instead of failing the whole list", () => {
    const storage = new MemoryStorage();
    store(storage).put(tx("good"));
    storage.setItem("pkce-flow:bad", JSON.stringify(tx("bad")));
    const original = storage.getItem.bind(storage);
    vi.spyOn(storage, "getItem").mockImplementation((key) => {
      if (key === "pkce-flow:bad") throw new DOMException("denied", "SecurityError");
      return original(key);
    });
    expect(store(storage).list().map((e) => e.tx.state)).toEqual(["good"]);
  });

  it("ignores a removeItem that throws", () => {
    const storage = new MemoryStorage();
    store(storage).put(tx("abc"));
    vi.spyOn(storage, "removeItem").mockImplementation(() => {
      throw new DOMException("denied", "SecurityError");
    });
    expect(() => store(storage).remove("abc")).not.toThrow();
    expect(storage.keys()).toEqual(["pkce-flow:abc"]);
  });

  it("take() removes the entry and checks that it is gone", () => {
    const storage = new MemoryStorage();
    store(storage).put(tx("abc"));
    store(storage).put(tx("other"));
    store(storage).take("abc");
    expect(storage.keys()).toEqual(["pkce-flow:other"]);
  });

  it.each([
    {
      what: "removeItem throws",
      storage: () =>
        Object.assign(new MemoryStorage(), {
          removeItem() {
            throw new DOMException("denied", "SecurityError");
          },
        }),
    },
    { what: "removeItem does nothing", storage: () => Object.assign(new MemoryStorage(), { removeItem() {} }) },
    {
      what: "getItem throws after the removal",
      storage: () => {
        const s = new MemoryStorage();
        const remove = s.removeItem.bind(s);
        return Object.assign(s, {
          removeItem(key: string) {
            remove(key);
            s.getItem = () => {
              throw new DOMException("denied", "SecurityError");
            };
          },
        });
      },
    },
  ])("take() fails with storage_unavailable, naming no key, when $what", ({ storage: make }) => {
    const storage = make();
    store(storage).put(tx("abc"));
    const error = thrown(() => store(storage).take("abc"));
    expect(error).toBeInstanceOf(PkceError);
    expect(error.code).toBe("storage_unavailable");
    expect(`${error.message} ${String(error.cause)}`).not.toContain("abc");
    expect(`${error.message} ${String(error.cause)}`).not.toContain("verifier");
  });
});
