/**
 * Parsing of a benchmark target: `path/to/script.py [args]`, `-m package.module [args]` or
 * `package.module:function`. Targets name code inside the repository, so paths that leave it are refused.
 */
import type { Target } from './types.js';

/** Raised for a target that cannot be run; the message says why. */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

const MODULE_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * Splits a command-line-like string into words, honouring single and double quotes and backslash escapes,
 * without any shell expansion (nothing is ever passed to a shell).
 */
export function splitWords(input: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < input.length) cur += input[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < input.length) {
      cur += input[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new TargetError(`unterminated ${quote} quote in ${JSON.stringify(input.slice(0, 80))}`);
  if (inWord) words.push(cur);
  return words;
}

function checkPath(p: string): void {
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) {
    throw new TargetError(`script ${JSON.stringify(p)} must be a path inside the repository, not absolute`);
  }
  if (p.split(/[\\/]/).includes('..')) {
    throw new TargetError(`script ${JSON.stringify(p)} must not leave the repository ("..")`);
  }
  if (/[\u0000-\u001f\u007f]/.test(p)) throw new TargetError(`script path has control characters`);
}

/**
 * Parses a target given as words (argv) or as one string.
 * @throws TargetError for an empty, option-like, escaping or malformed target
 */
export function parseTarget(input: string | readonly string[], extraArgs: readonly string[] = []): Target {
  const words = typeof input === 'string' ? splitWords(input) : [...input];
  const first = words[0];
  if (first === undefined || first.trim() === '') throw new TargetError('the target is empty');
  if (first === '-m') {
    const mod = words[1];
    if (!mod || !MODULE_RE.test(mod)) {
      throw new TargetError(
        `"-m" must be followed by a module name like package.module, not ${JSON.stringify(mod ?? '')}`,
      );
    }
    return { kind: 'module', spec: mod, args: [...words.slice(2), ...extraArgs] };
  }
  if (first.startsWith('-'))
    throw new TargetError(`the target ${JSON.stringify(first)} looks like an option`);
  const callable = /^([^:]+):([A-Za-z_][A-Za-z0-9_.]*)$/.exec(first);
  if (callable && MODULE_RE.test(callable[1] ?? '') && !first.endsWith('.py')) {
    if (words.length > 1 || extraArgs.length > 0) {
      throw new TargetError(
        `a callable target (${first}) takes no arguments; use a setup callable or a script`,
      );
    }
    return { kind: 'callable', spec: first, args: [] };
  }
  if (!first.endsWith('.py')) {
    throw new TargetError(
      `the target ${JSON.stringify(first)} is not a script (path/to/script.py), a module (-m package.module) or a callable (package.module:function)`,
    );
  }
  checkPath(first);
  return { kind: 'script', spec: first, args: [...words.slice(1), ...extraArgs] };
}

/** pytest options memdelta sets itself, or that would stop each test being measured in this process. */
const RESERVED_PYTEST =
  /^(--memdelta|--rootdir|--co$|--collect-only$|--help$|-h$|--version$|-V$|-n$|-n\d|--numprocesses|--dist\b|--looponfail|-f$|--pdb)/;

/**
 * Parses a pytest selection (`tests/memory -k "not slow"`): the words pytest gets after memdelta's own options.
 * Paths stay inside the repository; options that would turn the plugin off, move its report, change the root that
 * test ids are relative to, run tests in other processes (xdist) or not run them at all are refused.
 * @throws TargetError naming the refused word
 */
export function parsePytestTarget(input: string | readonly string[]): Target {
  const words = typeof input === 'string' ? splitWords(input) : [...input];
  const refuse = (w: string, why: string): never => {
    throw new TargetError(`the pytest argument ${JSON.stringify(w.slice(0, 80))} ${why}`);
  };
  words.forEach((w, i) => {
    if (/[\u0000-\u001f\u007f]/.test(w))
      throw new TargetError('the pytest arguments have control characters');
    if (RESERVED_PYTEST.test(w))
      refuse(w, 'cannot be used: memdelta sets it, or it stops tests being measured');
    const plugin =
      w === '-p' ? words[i + 1] : w.startsWith('-p') && !w.startsWith('--') ? w.slice(2) : undefined;
    if (plugin !== undefined && /^(no:)?(memdelta|xdist)/.test(plugin.trim())) {
      refuse(`-p ${plugin}`, 'cannot be used: memdelta loads its own plugin and measures in one process');
    }
    const path = w.split('::')[0] ?? '';
    if (
      !w.startsWith('-') &&
      (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path) || path.split(/[\\/]/).includes('..'))
    ) {
      refuse(w, 'must be a path inside the repository');
    }
  });
  const spec = typeof input === 'string' ? input.trim() : words.join(' ');
  if (spec === '') throw new TargetError('the pytest selection is empty (write "." for the whole suite)');
  return { kind: 'pytest', spec, args: words };
}

/** Writes a target back as the words a user would type. */
export function targetWords(t: Target): string[] {
  if (t.kind === 'pytest') return [...t.args];
  if (t.kind === 'module') return ['-m', t.spec, ...t.args];
  return [t.spec, ...t.args];
}
