export { PkceError, AuthorizationError, TokenError, isPkceError } from "./errors.js";
export type { PkceErrorCode, PkceErrorName } from "./errors.js";
export { generateCodeVerifier, generateState } from "./random.js";
export { createCodeChallenge, createPkcePair } from "./pkce.js";
export type { CodeChallengeMethod, PkcePair, PkcePairOptions } from "./pkce.js";
export { parseCallback } from "./callback.js";
export type { CallbackExpectations, CallbackResult } from "./callback.js";
