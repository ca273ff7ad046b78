export { SessionModule } from './session.module.js';
export type { SessionPolicyFactory } from './session.module-definition.js';
export { SessionService } from './session.service.js';
export type { DisconnectAllOptions } from './session/session-disconnect-all.js';
export { SESSION_STORE } from './session.tokens.js';
export { SessionPolicyError } from './session-policy.js';
export type { SessionCheckRequest, SessionCookieOptions, SessionPolicy } from './session-policy.js';
export type { CsrfOptions } from './csrf-policy.js';
export type { ImpersonationOptions } from './impersonation-policy.js';

export { SessionKey } from './stores/session-key.js';
export type { SessionKeyOptions, SessionScope, SessionValueCodec } from './stores/session-key.js';
export type { SessionInfo } from './stores/session-info.js';
export type { SessionRecord } from './stores/session-record.js';

export { Connected } from './decorators/connected.decorator.js';
export type { ConnectedOptions } from './decorators/connected.decorator.js';
export { CsrfExempt } from './decorators/csrf-exempt.decorator.js';
export { CurrentUser } from './decorators/current-user.decorator.js';
export { SessionData } from './decorators/session-data.decorator.js';
export { OnSessionEvent } from './events/on-session-event.decorator.js';
export { ofEventType } from './events/of-event-type.js';
export { SESSION_EVENT_TYPES } from './events/session-event.js';
export type { SessionEvent, SessionEventOf, SessionEventReason, SessionEventType } from './events/session-event.js';

export { CsrfRejectedException } from './exceptions/csrf-rejected.exception.js';
export { NotConnectedException } from './exceptions/not-connected.exception.js';
export { PermissionDeniedException } from './exceptions/permission-denied.exception.js';
export { ReauthenticationRequiredException } from './exceptions/reauthentication-required.exception.js';
export { SessionDeniedException } from './exceptions/session-denied.exception.js';
export { SessionStoreUnavailableException } from './exceptions/session-store-unavailable.exception.js';
export { SessionValueTooLargeException } from './exceptions/session-value-too-large.exception.js';

export { MemoryStore } from './stores/memory/memory.store.js';
export type { MemoryStoreOptions } from './stores/memory/memory.store.js';
export type { SessionStore, StoreLimits, StoreRemoval, StoreRemovalReason } from './stores/session-store.js';
