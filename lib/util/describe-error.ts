/** What a log line says of a thrown value: its message, never its stack or fields (which may hold request data). */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
