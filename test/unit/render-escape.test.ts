import { describe, expect, it } from 'vitest';
import {
  blobUrl,
  cleanText,
  codeBlock,
  codeSpan,
  htmlText,
  isProjectFile,
  mermaidLabel,
  truncateMiddle,
} from '../../src/render/escape.js';
import { FORBIDDEN_CHARS, HOSTILE_NAMES } from '../support/hostile-names.js';

describe('cleanText', () => {
  it('removes controls, bidi overrides and line breaks from every hostile name', () => {
    for (const { label, text } of HOSTILE_NAMES) {
      const out = cleanText(text);
      expect(out, label).not.toMatch(FORBIDDEN_CHARS);
      expect(out, label).not.toMatch(/[\r\n]/u);
      expect(out.isWellFormed(), label).toBe(true);
      expect(out, label).not.toContain('<!--');
      expect(out, label).not.toContain('-->');
    }
  });
});

describe('truncateMiddle', () => {
  it('keeps both ends and never splits a surrogate pair', () => {
    expect(truncateMiddle('abcdefghij', 5)).toBe('ab…ij');
    const astral = '😀'.repeat(50);
    const out = truncateMiddle(astral, 9);
    expect(out.isWellFormed()).toBe(true);
    expect(Array.from(out)).toHaveLength(9);
    expect(out).toBe('😀😀😀😀…😀😀😀😀');
  });
});

describe('codeSpan', () => {
  it('fences with a backtick run longer than any inside', () => {
    expect(codeSpan('x`y')).toBe('``x`y``');
    expect(codeSpan('`edge')).toBe('`` `edge ``');
    expect(codeSpan('a```b')).toBe('````a```b````');
  });
  it('escapes pipes in table cells, even after a backslash', () => {
    expect(codeSpan('a|b', { inTable: true })).toBe('`a\\|b`');
    expect(codeSpan('a\\|b', { inTable: true })).toBe('`a\\\u2060\\|b`');
    expect(codeSpan('a|b')).toBe('`a|b`');
  });
});

describe('codeBlock', () => {
  it('uses a fence longer than any backtick run in the content', () => {
    const block = codeBlock(['````', 'x']);
    expect(block.startsWith('`````\n')).toBe(true);
    expect(block.endsWith('\n`````')).toBe(true);
  });
});

describe('htmlText', () => {
  it('escapes HTML and breaks mentions, references and URLs', () => {
    expect(htmlText('<b>&"\'')).toBe('&lt;b&gt;&amp;&quot;&#39;');
    for (const t of ['@octocat', '#1', 'GH-1', 'o/r#2', 'https://evil.example', 'www.evil.example']) {
      expect(htmlText(t)).not.toBe(t);
      expect(htmlText(t)).toContain('\u2060');
    }
  });
});

describe('links', () => {
  it('links project files only, percent-encoding the path', () => {
    const sha = 'a'.repeat(40);
    expect(blobUrl('https://github.com/o/r', sha, 'src/a b#c.py', 3)).toBe(
      `https://github.com/o/r/blob/${sha}/src/a%20b%23c.py#L3`,
    );
    expect(blobUrl('https://github.com/o/r', sha, 'site-packages/x/y.py', 3)).toBeUndefined();
    expect(blobUrl('https://github.com/o/r', sha, '<stdlib>/json/decoder.py', 3)).toBeUndefined();
    expect(blobUrl(undefined, sha, 'src/a.py', 3)).toBeUndefined();
    expect(blobUrl('javascript:alert(1)', sha, 'src/a.py', 3)).toBeUndefined();
    expect(blobUrl('https://github.com/o/r', 'not-a-sha', 'src/a.py', 3)).toBeUndefined();
    expect(isProjectFile('../etc/passwd')).toBe(false);
    expect(isProjectFile('<unknown>')).toBe(false);
    expect(isProjectFile('src/app.py')).toBe(true);
  });
});

describe('mermaidLabel', () => {
  it('reduces labels to a safe charset', () => {
    for (const { label, text } of HOSTILE_NAMES) {
      expect(mermaidLabel(text), label).toMatch(/^[A-Za-z0-9 _.:/+…-]*$/u);
    }
  });
});
