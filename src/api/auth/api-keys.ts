// API keys: the verifier transports call per request, the scope check, and the keys-file
// operations behind `gotaskq keys create|list|revoke`. One import path for the CLI and both
// transports.

export {
  ApiKeyVerifier,
  type ApiKeyVerifierOptions,
  extractApiKey,
} from "./api-key-verifier.js";
export {
  type ApiKeyInfo,
  type ApiKeyRecord,
  createApiKey,
  KEY_PREFIX,
  listApiKeys,
  revokeApiKey,
} from "./keys-file.js";
export {
  isScope,
  OPERATION_SCOPES,
  type Operation,
  type Principal,
  parseScopes,
  requireScope,
  SCOPES,
  type Scope,
} from "./scopes.js";
