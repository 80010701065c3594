/** An allow or deny rule by CIDR, as stored (the range in canonical spelling). */
export interface IpRule {
  id: string;
  action: 'allow' | 'deny';
  /** Canonical spelling (ip-address.ts `formatRange`): `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`. */
  cidr: string;
  note: string | null;
  /** Null: until deleted. */
  expiresAt: Date | null;
  createdAt: Date;
  /** The admin's user id. */
  createdBy: string;
}

/** Storage of IP rules; every change bumps one version number so instances reload cheaply. */
export interface IpRuleStore {
  /**
   * Adds a rule and bumps the version. False, and nothing changed, when a rule of the same
   * action and range exists (the unique index decides between concurrent callers: one wins).
   */
  insert(rule: IpRule): Promise<boolean>;
  /** Deletes a rule and bumps the version; the deleted rule, or undefined when there was none (of concurrent callers exactly one gets it). */
  delete(id: string): Promise<IpRule | undefined>;
  /** Every stored rule, expired ones included, oldest first. */
  list(): Promise<IpRule[]>;
  /** A number that changes whenever a rule is added or deleted (one row read). */
  version(): Promise<number>;
}
