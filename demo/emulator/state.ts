import { createHash, randomBytes, randomInt } from "node:crypto";
import type { ChallengeMethod, Grant, KeySettings, UsageLimitType } from "./rules.ts";

/** One request to `GET /auth`, valid or not, and what the user decided on its consent page. */
export interface AuthRequestEntry {
  at: string;
  /** The query as received (first value of each name). */
  params: Record<string, string>;
  status: number;
  error: string | null;
  /** The method the code is bound to: `plain` when a challenge came without one, `null` without a challenge. */
  codeChallengeMethod: ChallengeMethod | null;
  decision: "allow" | "deny" | null;
}

/** One `POST /api/v1/auth/keys`. */
export interface ExchangeEntry {
  at: string;
  origin: string | null;
  contentType: string | null;
  /** Whether an Authorization header was sent (OpenRouter does not need one here). */
  authorization: boolean;
  /** The parsed JSON body, or the raw text when it was not JSON. Codes are single use, so it is kept as sent. */
  body: unknown;
  status: number;
  error: string | null;
}

/** One `POST /api/v1/auth/keys/code`. */
export interface CodeRequestEntry {
  at: string;
  body: unknown;
  status: number;
  error: string | null;
  /** The code created, on success. */
  code: string | null;
}

/** A key minted by a successful exchange. */
export interface KeyEntry {
  at: string;
  key: string;
  userId: string;
  source: "auth" | "keys/code";
  keyLabel: string | null;
  limit: number | null;
  usageLimitType: UsageLimitType | null;
  expiresAt: string | null;
  workspaceId: string | null;
}

/** One `GET /api/v1/key`. */
export interface KeyRequestEntry {
  at: string;
  origin: string | null;
  status: number;
  /** The key's SHA-256 (hex) when a Bearer key was sent; never the key. */
  keyHash: string | null;
}

/** Everything the emulator saw, for tests; `GET {basePath}/__emulator/log` serves the same object. */
export interface EmulatorLog {
  authRequests: AuthRequestEntry[];
  exchanges: ExchangeEntry[];
  codeRequests: CodeRequestEntry[];
  keys: KeyEntry[];
  keyRequests: KeyRequestEntry[];
}

/** A key the emulator minted, with what `GET /api/v1/key` reports about it. */
export interface IssuedKey {
  hash: string;
  label: string;
  settings: KeySettings;
  userId: string;
  /** Credits spent (`POST /__emulator/spend`). */
  usage: number;
  revoked: boolean;
}

/** Switches tests and the popup demo flip at run time (`POST /__emulator/config`). */
export interface EmulatorConfig {
  /** Serve `/auth`'s pages and redirects with `Cross-Origin-Opener-Policy: same-origin`. */
  coop: boolean;
}

export interface StoredCode {
  grant: Grant;
  createdAt: number;
  source: KeyEntry["source"];
}

export interface PendingConsent {
  grant: Grant;
  createdAt: number;
  entry: AuthRequestEntry;
}

/** What the handlers share. */
export interface Context {
  readonly basePath: string;
  readonly codeTtlMs: number;
  readonly apiKeys: ReadonlySet<string>;
  readonly userId: string;
  now(): number;
  readonly log: EmulatorLog;
  readonly codes: Map<string, StoredCode>;
  readonly pending: Map<string, PendingConsent>;
  /** Minted keys by key. */
  readonly keys: Map<string, IssuedKey>;
  readonly appIds: Map<string, number>;
  readonly config: EmulatorConfig;
}

/** Lowercase hex SHA-256, as OpenRouter's key links use. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The minted key whose SHA-256 is `hash`, if any. */
export function keyByHash(ctx: Context, hash: string): [string, IssuedKey] | undefined {
  for (const entry of ctx.keys) if (entry[1].hash === hash) return entry;
  return undefined;
}

export function randomToken(): string {
  return randomBytes(32).toString("base64url");
}

export function newApiKey(): string {
  return `sk-or-v1-${randomBytes(32).toString("hex")}`;
}

const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Shaped like OpenRouter's ids (`user_2yOPcMpKoQhcd4bVgSMlELRaIah`). */
export function newUserId(): string {
  let id = "user_";
  for (let i = 0; i < 27; i++) id += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return id;
}

/** ISO 8601 with seconds, like OpenRouter's examples. */
export function isoSeconds(time: number): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function isExpired(ctx: Context, createdAt: number): boolean {
  return ctx.now() - createdAt >= ctx.codeTtlMs;
}
