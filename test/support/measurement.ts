/**
 * The one way a spec prints: a figure the issue asks to see measured (a delay, a size, a recovery time), as one line
 * on stdout that starts with `measured:`. Anything else a test causes the application to log goes to a
 * {@link CapturedLog} instead, so that `npm test` shows no ERROR or WARN lines from deliberate faults.
 *
 * Straight to stdout: Jest's `console.log` would add a stack trace to every line.
 */
export function reportMeasurement(line: string): void {
  process.stdout.write(`measured: ${line}\n`);
}
