/**
 * Durations as clients write them: whole milliseconds (`1500`) or a whole number with a unit
 * (`500ms`, `30s`, `5m`, `1h`). Fractions, signs, spaces and other units are refused rather than
 * guessed at. The number has at most 9 digits, so every value converts to an exact integer.
 */

const unitMs: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

const durationPattern = /^([0-9]{1,9})(ms|s|m|h)?$/;

/** The duration `text` stands for in milliseconds, or undefined when it is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const match = durationPattern.exec(text);
  if (match === null) return undefined;
  const [, digits = '', unit = 'ms'] = match;
  const multiplier = unitMs[unit];
  if (multiplier === undefined) return undefined;
  const durationMs = Number(digits) * multiplier;
  // 999 999 999 hours is about 3.6e15 ms, below 2^53: the product is exact.
  return Number.isSafeInteger(durationMs) ? durationMs : undefined;
}
