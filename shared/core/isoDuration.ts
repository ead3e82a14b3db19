/**
 * ISO 8601 durations of days and time (`P7D`, `PT2S`, `P1DT12H`, `P2W`), in milliseconds; undefined
 * when the text is not one. Years and months are refused: their length depends on the calendar,
 * and "P1M" read as minutes or months is exactly the mistake a setting should not allow.
 */
const DURATION = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const UNIT_MS = [7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000];

export function isoDurationMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim().toUpperCase());
  if (!match || text.trim().toUpperCase().endsWith('T') || match.slice(1).every((part) => part === undefined)) return undefined;
  return match.slice(1).reduce((sum, part, i) => sum + (part === undefined ? 0 : Number(part) * UNIT_MS[i]!), 0);
}
