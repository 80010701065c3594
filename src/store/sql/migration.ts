/** One schema step. Its own module: the migrations and the runner both import it. */
export interface Migration {
  /** Consecutive from 1; never reused. */
  version: number;
  name: string;
  /** A script of statements; once released it never changes (its checksum is recorded). */
  sql: string;
}
