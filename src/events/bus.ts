/**
 * The typed catalogue of security events, named `<entity>.<verb>`. Features emit; audit,
 * metrics, detection and streams subscribe. Payloads never carry a token, password or secret.
 */
export interface SecurityEventPayloads {
  'login.succeeded': { userId: string; sessionId: string };
  'login.failed': { reason: string; userId?: string };
  'session.created': { userId: string; sessionId: string };
  'session.revoked': { userId: string; sessionId: string; reason: string };
  'session.context_changed': { userId: string; sessionId: string; ipChanged: boolean; userAgentChanged: boolean; ended: boolean };
  'refresh_token.rotated': { userId: string; sessionId: string };
  'refresh_token.reused': { userId: string; sessionId: string };
  'token.revoked': { userId: string; sessionId?: string; tokenType: 'access_token' | 'refresh_token' };
  'user.tokens_revoked': { userId: string; sessions: number };
  /** An account name reached the failure threshold; `userId` when it names an account. */
  'user.locked': { userId?: string; lockedUntil: number; locks: number };
  'user.unlocked': { userId: string };
  'rate_limited': { limiter: string };
  'password.changed': { userId: string; sessionsEnded: number };
  'password.reset_requested': { userId: string };
  'password.reset': { userId: string; sessionsEnded: number };
}

export type SecurityEventType = keyof SecurityEventPayloads;

/** Who caused an event: taken from the request by the HTTP layer. */
export interface EventContext {
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string;
}

/** One event; a union discriminated by `type`, so `payload` narrows with it. */
export type SecurityEvent = {
  [T in SecurityEventType]: { type: T; at: number; payload: SecurityEventPayloads[T]; context: EventContext };
}[SecurityEventType];

type Listener = (event: SecurityEvent) => void;

export interface EventBus {
  emit<T extends SecurityEventType>(type: T, payload: SecurityEventPayloads[T], context?: EventContext): void;
  /** Subscribes to every event; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void;
}

export function createEventBus(now: () => number, onListenerError?: (error: unknown) => void): EventBus {
  const listeners = new Set<Listener>();
  return {
    emit(type, payload, context = {}) {
      const event = { type, at: now(), payload, context } as SecurityEvent;
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (error) {
          // A failing subscriber never fails the request that emitted.
          onListenerError?.(error);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
