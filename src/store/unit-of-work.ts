/*
 * The transaction type features depend on, over just the stores each one touches
 * (`Transactional<{ users: UserStore; sessions: SessionStore }>`). It imports nothing: the
 * aggregates in store/stores.ts satisfy it structurally, so no feature imports them.
 */

/** Work in progress: what is done through it commits or rolls back together. */
export interface UnitOfWork {
  /**
   * Runs `hook` once the surrounding transaction has committed (at once outside a transaction):
   * what others may only hear about a change that happened, such as live event delivery.
   */
  afterCommit(hook: () => void): void;
}

/**
 * The stores `S`, read and written on their own, plus a transaction over the same stores:
 * everything done through `tx` commits or rolls back together; a rejected `fn` rolls back.
 */
export type Transactional<S> = S &
  UnitOfWork & {
    transaction<T>(fn: (tx: S & UnitOfWork) => Promise<T>): Promise<T>;
  };
