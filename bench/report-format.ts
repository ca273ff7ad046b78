/** Formatting shared by the report's parts: numbers, markdown tables, flags. */
import type { LoadResult } from './support/load.js';
import type { CellName, VariantResult } from './support/results.js';

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
export const fixed = (n: number | undefined, digits = 2) => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '–');
export const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
export const gb = (bytes: number) => `${(bytes / 1_073_741_824).toFixed(1)} GiB`;

export function cellTitle(name: CellName, sessions: number): string {
  const [op, count] = name.split('-') as [string, string];
  return `${op}, ${count === '1' ? '1 session' : `${int(sessions)} sessions`}`;
}

export function flagged(result: LoadResult): boolean {
  return result.non2xx > 0 || result.errors > 0 || result.timeouts > 0;
}

export function variantFlag(variant: VariantResult): string {
  if (variant.status === 'pending') return `pending: ${variant.reason ?? ''}`;
  if (variant.status === 'failed') return `FAILED: ${(variant.reason ?? '').split('\n')[0]}`;
  if (variant.problems.length > 0) return `CHECK FAILED: ${variant.problems.join('; ')}`;
  return '';
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A markdown table; `align` has one letter per column, `l` or `r` (default: the first left, the others right). */
export function table(header: string[], rows: string[][], align?: string): string {
  const side = (i: number) => (align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r';
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (side(i) ? '---:' : '---')).join('|')}|`];
  for (const row of rows) lines.push(`| ${row.map(escapeCell).join(' | ')} |`);
  return lines.join('\n');
}
