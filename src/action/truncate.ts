/**
 * Fits a Markdown comment under GitHub's size limit without breaking what renders: the cut never splits a
 * surrogate pair, an HTML tag, an HTML comment or an entity, prefers a line boundary, and closes what it leaves
 * open (a code fence, `<details>` and similar blocks). Pure: no I/O, no toolkit.
 */

/** GitHub rejects issue and pull request comments longer than this. */
export const GITHUB_COMMENT_LIMIT = 65536;

/** Said at the end of a truncated report. */
export const DEFAULT_TRUNCATION_NOTE =
  '> [!NOTE]\n> This report was cut to fit GitHub\u2019s comment size limit. The full report is in the job summary and in the workflow run\u2019s artifact.';

/** Block and inline elements a report may leave open at the cut; void elements need no closing. */
const CLOSABLE = new Set([
  'details',
  'summary',
  'table',
  'thead',
  'tbody',
  'tr',
  'td',
  'th',
  'ul',
  'ol',
  'li',
  'div',
  'p',
  'pre',
  'code',
  'blockquote',
  'b',
  'strong',
  'i',
  'em',
  'sub',
  'sup',
  'span',
  'a',
]);

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** End of the leading HTML comments (the sticky-comment marker lines): the cut must not go below it. */
function leadingCommentsEnd(body: string): number {
  let at = 0;
  for (;;) {
    const m = /^\s*<!--[\s\S]*?-->/.exec(body.slice(at));
    if (!m) return at;
    at += m[0].length;
  }
}

/** Moves `cut` back until body[0, cut) ends outside any tag, comment, entity or surrogate pair. */
function safeCut(body: string, limit: number, floor: number): number {
  let cut = Math.min(limit, body.length);
  // A line boundary in the last half of the budget reads better than a cut mid-line.
  const newline = body.lastIndexOf('\n', cut);
  if (newline >= floor && newline > cut / 2) cut = newline;
  for (let guard = 0; guard < 64; guard++) {
    const before = cut;
    if (cut > 0 && isHighSurrogate(body.charCodeAt(cut - 1))) cut -= 1;
    const head = body.slice(0, cut);
    const open = head.lastIndexOf('<!--');
    if (open >= 0 && head.indexOf('-->', open + 4) === -1) cut = open;
    // Only a `<` that starts a tag counts; an unescaped `a < b` in text is left alone.
    const tail = body.slice(Math.max(0, cut - 4096), cut);
    const tag = /<(?:[A-Za-z/!][^<>]*)?$/.exec(tail);
    if (tag) cut -= tail.length - tag.index;
    const entity = /&#?[A-Za-z0-9]{0,31}$/.exec(body.slice(Math.max(0, cut - 33), cut));
    if (entity) cut -= entity[0].length;
    if (cut === before) break;
  }
  return cut;
}

interface OpenState {
  fence: string | undefined;
  tags: string[];
}

/** What `head` leaves open: a fenced code block and a stack of HTML elements outside code and comments. */
function openState(head: string): OpenState {
  let fence: string | undefined;
  const tags: string[] = [];
  const withoutComments = head.replace(/<!--[\s\S]*?-->/g, (m) => ' '.repeat(m.length));
  for (const line of withoutComments.split('\n')) {
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence !== undefined) {
      if (m?.[1] && m[1][0] === fence[0] && m[1].length >= fence.length && m[2]?.trim() === '')
        fence = undefined;
      continue;
    }
    if (m?.[1] && !(m[1][0] === '`' && m[2]?.includes('`'))) {
      fence = m[1];
      continue;
    }
    for (const t of line.matchAll(/<(\/?)([A-Za-z][A-Za-z0-9]*)\b[^>]*?(\/?)>/g)) {
      const name = (t[2] ?? '').toLowerCase();
      if (!CLOSABLE.has(name) || t[3] === '/') continue;
      if (t[1] === '/') {
        const at = tags.lastIndexOf(name);
        if (at >= 0) tags.length = at;
      } else {
        tags.push(name);
      }
    }
  }
  return { fence, tags };
}

function closers(state: OpenState): string {
  let out = '';
  if (state.fence !== undefined) out += `\n${state.fence}`;
  if (state.tags.length > 0) {
    // A blank line ends a Markdown table or paragraph so the closing tags parse as HTML.
    out += `\n\n${[...state.tags]
      .reverse()
      .map((t) => `</${t}>`)
      .join('\n')}`;
  }
  return out;
}

/**
 * Returns `body` unchanged when it fits in `max` UTF-16 code units (GitHub counts characters; code units are never
 * fewer), otherwise a prefix cut at a safe boundary, with open blocks closed and `note` appended, that fits.
 * Leading HTML comments (the sticky-comment marker) are always kept.
 *
 * @throws RangeError when `max` cannot hold the leading comments and the note.
 */
export function truncateBody(
  body: string,
  max: number = GITHUB_COMMENT_LIMIT,
  note: string = DEFAULT_TRUNCATION_NOTE,
): string {
  if (!Number.isInteger(max) || max <= 0) throw new RangeError(`max must be a positive integer, got ${max}`);
  if (body.length <= max) return body;
  const floor = leadingCommentsEnd(body);
  const suffix = `\n\n${note}\n`;
  let limit = max - suffix.length;
  for (let attempt = 0; attempt < 16 && limit >= floor; attempt++) {
    const cut = safeCut(body, limit, floor);
    if (cut < floor) break;
    const head = body.slice(0, cut).trimEnd();
    const out = `${head}${closers(openState(head))}${suffix}`;
    if (out.length <= max) return out;
    limit -= out.length - max;
  }
  throw new RangeError(`cannot truncate to ${max} characters and keep the leading marker and the note`);
}
