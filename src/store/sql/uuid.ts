const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Guards uuid columns: a malformed id finds nothing instead of raising a SQL error. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
