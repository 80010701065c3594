const units: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const pattern = /^(\d{1,9})(ms|s|m|h|d|w)$/;

/**
 * Parses a duration such as `500ms`, `10s`, `15m`, `12h`, `7d` or `2w` into milliseconds.
 * A bare number is read as seconds. Returns undefined for anything else.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d{1,9}$/.test(trimmed)) return Number(trimmed) * 1000;
  const match = pattern.exec(trimmed);
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Number(amount) * units[unit as string]!;
}

/** Formats milliseconds back into the largest exact unit, for messages and docs. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = units[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
