import type { TransportKind } from '../context/session-transport.js';
/** Every event type (for the order in which a request or a login produces them, see the README, "Events"). */
export const SESSION_EVENT_TYPES = [
  'request',
  'connected-request',
  'unconnected-request',
  'denied-request',
  'start-process',
  'start-connected-process',
  'start-unconnected-process',
  'open-session',
  'pre-close-session',
  'post-close-session',
  'client-connected',
  'client-disconnected',
  'session-expired',
  'reauthenticated',
] as const;

export type SessionEventType = (typeof SESSION_EVENT_TYPES)[number];

/** Why a session closed or a request was refused. */
export type SessionEventReason =
  | 'logout'
  | 'login'
  | 'disconnect-all'
  | 'revoked'
  | 'max-sessions'
  | 'failed-check'
  | 'expired'
  | 'evicted'
  | 'not-connected'
  | 'forbidden'
  | 'stale-authentication'
  | 'csrf'
  | 'impersonation-ended';

interface SessionEventBase<K extends SessionEventType> {
  readonly type: K;
  readonly at: Date;
  readonly transport: TransportKind;
  /** The connected user, when there is one. */
  readonly userId?: string;
  /**
   * The real user behind an impersonated session (`SessionService.impersonate()`), on every event of that session;
   * `userId` is then the user being acted as. Absent otherwise.
   */
  readonly actorId?: string;
  /** The opaque handle of the session (as in `listSessions()`), never its id. */
  readonly session?: string;
  /** The client process (tab) id, when the request carried one. */
  readonly process?: string;
}

/** Events that say why they happened. */
interface ReasonedEvent<K extends SessionEventType> extends SessionEventBase<K> {
  readonly reason: SessionEventReason;
}

export type RequestEvent = SessionEventBase<'request'>;
export type ConnectedRequestEvent = SessionEventBase<'connected-request'> & { readonly userId: string };
export type UnconnectedRequestEvent = SessionEventBase<'unconnected-request'>;
export type DeniedRequestEvent = ReasonedEvent<'denied-request'>;
export type StartProcessEvent = SessionEventBase<'start-process'> & { readonly process: string };
export type StartConnectedProcessEvent = SessionEventBase<'start-connected-process'> & { readonly userId: string };
export type StartUnconnectedProcessEvent = SessionEventBase<'start-unconnected-process'> & { readonly process: string };
export type OpenSessionEvent = SessionEventBase<'open-session'> & { readonly userId: string; readonly session: string };
export type PreCloseSessionEvent = ReasonedEvent<'pre-close-session'> & { readonly session: string };
export type PostCloseSessionEvent = ReasonedEvent<'post-close-session'> & { readonly session: string };
export type ClientConnectedEvent = SessionEventBase<'client-connected'> & { readonly session: string };
export type ClientDisconnectedEvent = SessionEventBase<'client-disconnected'> & { readonly session: string };
export type SessionExpiredEvent = ReasonedEvent<'session-expired'> & { readonly session: string };
/** `reauthenticate()`: the user proved who they are again; the session goes on under a new id (and handle). */
export type ReauthenticatedEvent = SessionEventBase<'reauthenticated'> & {
  readonly userId: string;
  /** The session's new handle. */
  readonly session: string;
  /** Its handle until now, which no longer opens anything. */
  readonly previousSession: string;
};

/** One lifecycle event; narrow it on `type` (or with `ofEventType`). */
export type SessionEvent =
  | RequestEvent
  | ConnectedRequestEvent
  | UnconnectedRequestEvent
  | DeniedRequestEvent
  | StartProcessEvent
  | StartConnectedProcessEvent
  | StartUnconnectedProcessEvent
  | OpenSessionEvent
  | PreCloseSessionEvent
  | PostCloseSessionEvent
  | ClientConnectedEvent
  | ClientDisconnectedEvent
  | SessionExpiredEvent
  | ReauthenticatedEvent;

/** The payload of one event type. */
export type SessionEventOf<K extends SessionEventType> = Extract<SessionEvent, { type: K }>;

/** An event as the library builds it, before `at` is stamped. */
export type SessionEventInit = SessionEvent extends infer E ? (E extends SessionEvent ? Omit<E, 'at'> : never) : never;
