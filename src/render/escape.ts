/**
 * Making untrusted text inert. Everything a pull request controls (scenario names, file paths, function names,
 * source lines, exception messages, tails, type names, refs) passes through here before it reaches a comment, a
 * job summary or a terminal, so that it can neither change the document's structure nor ping, link or hide.
 */

/** Bidirectional controls that can reorder what a reviewer reads (Trojan Source). */
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;
/** C0 and C1 controls, DEL, line/paragraph separators and the BOM. Tab and newlines become spaces first. */
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u2028\u2029\uFEFF]/gu;
const WORD_JOINER = '\u2060';

/** Default length limits, in code points, per kind of untrusted text. */
export const LIMITS = {
  name: 80,
  path: 120,
  function: 80,
  code: 120,
  message: 300,
  tailLine: 200,
  type: 60,
} as const;

/**
 * Shortens `text` to at most `max` code points by replacing its middle with an ellipsis, so both the start (the
 * package) and the end (the file or the detail) stay readable. Works on code points: a surrogate pair is never split.
 */
export function truncateMiddle(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  if (max <= 1) return '…'.slice(0, Math.max(0, max));
  const keep = max - 1;
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return chars.slice(0, head).join('') + '…' + (tail > 0 ? chars.slice(chars.length - tail).join('') : '');
}

/**
 * The base cleaning every untrusted string gets, whatever the output: lone surrogates are replaced, line breaks
 * and tabs become spaces, control and bidirectional-override characters are removed, HTML comment delimiters are
 * broken with a word joiner (so `<!-- marker -->` can never become a live marker or close a comment), and the
 * result is shortened in the middle to `max` code points.
 */
export function cleanText(text: string, max: number = LIMITS.message): string {
  const cleaned = String(text)
    .toWellFormed()
    .replace(/[\t\r\n\v\f]/gu, ' ')
    .replace(CONTROL, '')
    .replace(BIDI, '');
  return breakCommentDelimiters(truncateMiddle(cleaned, max));
}

/** Cleaning for text shown in a terminal: as {@link cleanText}, without touching comment delimiters. */
export function cleanTerminal(text: string, max: number = LIMITS.message): string {
  return truncateMiddle(
    String(text)
      .toWellFormed()
      .replace(/[\t\r\n\v\f]/gu, ' ')
      .replace(CONTROL, '')
      .replace(BIDI, ''),
    max,
  );
}

function breakCommentDelimiters(text: string): string {
  return text.replace(/<!/gu, `<${WORD_JOINER}!`).replace(/--(?=!?>)/gu, `--${WORD_JOINER}`);
}

/**
 * Inserts a word joiner into everything GitHub or a GFM renderer would turn into a link or a notification:
 * `@user`, `@org/team`, `#123`, `owner/repo#1`, `GH-1`, `https://…`, `www.…` and e-mail addresses. The text reads
 * the same; it just no longer links.
 */
export function neutraliseReferences(text: string): string {
  return text
    .replace(/@(?=[\p{L}\p{N}_-])/gu, `@${WORD_JOINER}`)
    .replace(/#(?=\p{N})/gu, `#${WORD_JOINER}`)
    .replace(/\b(GH)-(?=\p{N})/giu, `$1-${WORD_JOINER}`)
    .replace(/:\/\//gu, `:${WORD_JOINER}//`)
    .replace(/\b(www)\./giu, `$1${WORD_JOINER}.`);
}

/** Escapes the five HTML-significant characters. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/gu, '&amp;')
    .replace(/</gu, '&lt;')
    .replace(/>/gu, '&gt;')
    .replace(/"/gu, '&quot;')
    .replace(/'/gu, '&#39;');
}

/**
 * Untrusted text for an HTML context the renderer wrote itself (e.g. inside `<summary>`, where markdown is not
 * parsed): cleaned, HTML-escaped and with references neutralised.
 */
export function htmlText(text: string, max: number = LIMITS.name): string {
  return escapeHtml(neutraliseReferences(cleanText(text, max)));
}

/**
 * Untrusted text as markdown prose: cleaned, every markdown- and HTML-significant ASCII punctuation character
 * backslash-escaped (so nothing becomes emphasis, a link, a table cell or an element) and references neutralised.
 * Prefer {@link codeSpan} for identifiers; this is for words inside sentences.
 */
export function markdownText(text: string, max: number = LIMITS.message): string {
  return neutraliseReferences(cleanText(text, max)).replace(/[\\`*_{}[\]()<>#+\-.!|~&"'=:]/gu, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : `\\${c}`,
  );
}

/** Where a code span is placed: inside a GFM table cell a pipe must be escaped even within code. */
export interface CodeSpanOptions {
  /** Maximum length in code points before shortening in the middle. */
  max?: number;
  /** True when the span sits in a GFM table cell. */
  inTable?: boolean;
}

/**
 * Untrusted text as an inline code span: inert by construction (no HTML, links, mentions or emphasis inside
 * code), fenced with a backtick run longer than any inside, padded when it starts or ends with a backtick or a
 * space. In a table cell every `|` is escaped, and a backslash before it is separated by a word joiner so that
 * `\|` in the input cannot un-escape the pipe.
 */
export function codeSpan(text: string, options: CodeSpanOptions = {}): string {
  let body = cleanText(text, options.max ?? LIMITS.name);
  if (body.length === 0) return '_(empty)_';
  if (options.inTable) body = body.replace(/\\(?=\|)/gu, `\\${WORD_JOINER}`).replace(/\|/gu, '\\|');
  const longest = Math.max(0, ...Array.from(body.matchAll(/`+/gu), (m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = /^[` ]|[` ]$/u.test(body) ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

/**
 * Untrusted lines as a fenced code block that cannot be broken out of: the fence is a backtick run longer than any
 * in the content (at least three), every line is cleaned and shortened.
 */
export function codeBlock(
  lines: readonly string[],
  language = '',
  maxLine: number = LIMITS.tailLine,
): string {
  const body = lines.map((l) => cleanText(l, maxLine));
  const longest = Math.max(0, ...body.flatMap((l) => Array.from(l.matchAll(/`+/gu), (m) => m[0].length)));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${language}`, ...body, fence].join('\n');
}

/**
 * A label for a Mermaid diagram, reduced to a safe character set (letters, digits, space and `_.:/+-`) so it
 * cannot end a quoted string, start an entity or inject a directive.
 */
export function mermaidLabel(text: string, max = 24): string {
  const safe = Array.from(cleanTerminal(text, 1000))
    .map((c) => (/^[A-Za-z0-9 _.:/+-]$/u.test(c) ? c : '_'))
    .join('');
  return truncateMiddle(safe, max);
}

/** True for a repo-relative project file; false for `site-packages/...`, `<stdlib>/...`, `<...>` and odd paths. */
export function isProjectFile(file: string): boolean {
  if (file.length === 0 || file.startsWith('<') || file.startsWith('/') || file.startsWith('site-packages/'))
    return false;
  if (/[\\\u0000-\u001F\u007F]/u.test(file) || /^[a-z][a-z0-9+.-]*:/iu.test(file)) return false;
  // A lone surrogate (a non-UTF-8 name, surrogate-escaped by Python) has no URL form: encodeURIComponent throws.
  if (!file.isWellFormed()) return false;
  return !file.split('/').some((s) => s === '..' || s === '.' || s === '');
}

/** The repository's web address if it is a plain http(s) URL, without a trailing slash; else undefined. */
export function safeRepositoryUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  if (parsed.username || parsed.password || parsed.search || parsed.hash) return undefined;
  return parsed.href
    .replace(/\/+$/u, '')
    .replace(/[()]/gu, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Paths longer than this are not linked. */
const MAX_LINKED_PATH = 512;

/** True for a commit SHA (7 to 64 hex digits): only those are put into URLs. */
export function isSha(sha: string): boolean {
  return /^[0-9a-f]{7,64}$/iu.test(sha);
}

/** Percent-encodes a repo-relative path segment by segment, keeping the slashes. */
export function encodePath(path: string): string {
  return path
    .split('/')
    .map((s) =>
      encodeURIComponent(s).replace(/[()'!*]/gu, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join('/');
}

/**
 * A link to a line of a project file at a commit, or undefined when it cannot be built safely (unknown repository,
 * a non-project file, an invalid SHA or line).
 */
export function blobUrl(
  repositoryUrl: string | undefined,
  sha: string,
  file: string,
  line: number,
): string | undefined {
  const repo = safeRepositoryUrl(repositoryUrl);
  // An absurdly long path would bloat the comment; it is still shown, shortened, just not linked.
  if (!repo || !isSha(sha) || !isProjectFile(file) || file.length > MAX_LINKED_PATH) return undefined;
  const anchor = Number.isSafeInteger(line) && line > 0 ? `#L${line}` : '';
  return `${repo}/blob/${sha.toLowerCase()}/${encodePath(file)}${anchor}`;
}

/** A link to a commit, or undefined when it cannot be built safely. */
export function commitUrl(repositoryUrl: string | undefined, sha: string): string | undefined {
  const repo = safeRepositoryUrl(repositoryUrl);
  if (!repo || !isSha(sha)) return undefined;
  return `${repo}/commit/${sha.toLowerCase()}`;
}

/** Removes ANSI escape sequences, in case coloured text is measured or stripped. */
export function stripAnsi(text: string): string {
  return text.replace(/\u001B\[[0-9;]*m/gu, '');
}
