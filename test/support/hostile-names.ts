/**
 * Untrusted names that try to break out of where a report puts them: table structure, HTML, links, mentions,
 * references, comment markers, control and bidirectional characters, sheer length and astral characters.
 * Used as scenario names, file paths, function names, source lines, error output and gc type names.
 */

/** One hostile input and what it attacks. */
export interface HostileName {
  label: string;
  text: string;
}

/** The corpus. */
export const HOSTILE_NAMES: readonly HostileName[] = [
  { label: 'table pipe', text: 'a|b' },
  { label: 'backslash pipe', text: 'a\\|b' },
  { label: 'backtick', text: 'x`y' },
  { label: 'backtick run', text: '``` fence' },
  { label: 'mention', text: '@octocat' },
  { label: 'team mention', text: '@org/team' },
  { label: 'issue reference', text: '#1' },
  { label: 'GH reference', text: 'GH-1' },
  { label: 'cross-repo reference', text: 'o/r#2' },
  { label: 'bare URL', text: 'https://evil.example' },
  { label: 'www URL', text: 'www.evil.example' },
  { label: 'email', text: 'mallory@evil.example' },
  { label: 'img onerror', text: '<img src=x onerror=alert(1)>' },
  { label: 'details open', text: '<details open>' },
  { label: 'javascript link', text: '[x](javascript:alert(1))' },
  { label: 'marker comment', text: '<!-- memdelta -->' },
  { label: 'comment end', text: '-->' },
  { label: 'fake table row', text: 'name\n| fake | row |' },
  { label: 'CRLF', text: 'a\r\nb' },
  { label: 'RTL override', text: 'abc\u202Eexe.txt' },
  { label: 'bidi isolate', text: '\u2066isolated\u2069' },
  { label: 'NUL', text: 'nul\u0000byte' },
  { label: 'ANSI escape', text: 'red\u001B[31mtext\u001B[0m' },
  { label: 'C1 control', text: 'c1\u009Bcontrol' },
  { label: 'long', text: 'n'.repeat(10_000) },
  { label: 'emoji and astral', text: '🚀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧 ' + '😀'.repeat(200) },
  { label: 'html entity', text: '&lt;script&gt;' },
  // Python writes a non-UTF-8 file name (surrogateescape) into JSON as a lone surrogate.
  { label: 'lone surrogate', text: 'bad\udce9name.py' },
  { label: 'emphasis', text: '**bold** _x_' },
  { label: 'heading', text: '# heading' },
];

/** Characters that must never reach output from untrusted text: controls (but LF) and bidirectional overrides. */
export const FORBIDDEN_CHARS =
  /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
