export { PkceError, AuthorizationError, TokenError, isPkceError } from "./errors.js";
export type { AnyPkceError, PkceErrorCode, PkceErrorName, PkceErrorOf } from "./errors.js";
export { generateCodeVerifier, generateState } from "./random.js";
export { createCodeChallenge, createPkcePair } from "./pkce.js";
export type { CodeChallengeMethod, PkcePair, PkcePairOptions } from "./pkce.js";
export { parseCallback } from "./callback.js";
export type { CallbackExpectations, CallbackResult } from "./callback.js";
export { createFlow } from "./flow.js";
export type { Flow, FlowOptions, FlowSnapshot, FlowStatus, PopupOptions, StartOptions } from "./flow.js";
export type { StorageLike } from "./storage.js";
export type { Provider, AuthorizationParams, TokenParams, ParamValue, ResultContext } from "./provider.js";
export { openRouter, buildCreateAuthCodeRequest, readCreateAuthCodeResponse } from "./providers/openrouter.js";
export type {
  OpenRouterOptions,
  OpenRouterHeadlessOptions,
  OpenRouterKeySettings,
  OpenRouterResult,
  UsageLimitType,
  CreateAuthKeysCodeRequest,
  CreatedAuthCode,
} from "./providers/openrouter.js";
export { oauth2, discover } from "./providers/oauth2.js";
export type { OAuth2Options, OAuth2Result, OAuth2Provider, DiscoverOptions } from "./providers/oauth2.js";
export type { IdTokenClaims } from "./idtoken.js";
export { refresh, revoke, userinfo, logoutUrl } from "./tokens.js";
export type { RefreshOptions, RefreshTokenSource, RevokeOptions, UserinfoOptions, LogoutOptions } from "./tokens.js";
export { getOpenRouterKey, openRouterKeyLinks } from "./providers/openrouter-key.js";
export type { GetOpenRouterKeyOptions, OpenRouterKeyInfo, OpenRouterKeyLinks } from "./providers/openrouter-key.js";
