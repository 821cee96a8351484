const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses a delay like `90s`, `15m`, `2h`, `1d` (templates, settings) into milliseconds; null when it is not one. */
export function parseDelay(text: string): number | null {
  const m = /^(\d+)\s*([smhd])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : null;
}
