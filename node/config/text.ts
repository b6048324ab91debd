/** Plain-text helpers for what people read: help lines and counts. */

/** Terminal width help text is wrapped to. */
export const HELP_WIDTH = 80;

/**
 * Wrap `text` at word boundaries so that no line (indent included) passes
 * `width`; the first line starts after `firstIndent`, the others after
 * `indent`. A single word longer than the width stays whole.
 */
export function wrapText(text: string, indent: string, width = HELP_WIDTH, firstIndent = indent): string {
  const lines: string[] = [];
  let line = firstIndent;
  let empty = true;
  // Plain spaces only: a no-break space (U+00A0) holds two words together.
  for (const word of text.split(/[ \t\n]+/).filter((w) => w !== "")) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent;
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines.join("\n");
}

/** `1 commitment`, `2 commitments`, `0 commitments`: a count with its noun agreeing. */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}
