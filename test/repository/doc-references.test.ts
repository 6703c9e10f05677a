/**
 * The repository's references stay inside it and stay true:
 * - no file outside docs/ (and test/vectors/README.md, which records where the vectors were copied from) cites
 *   anything outside the repository: a path into the shared material next to it (`..` + `/shared/`) or one of the
 *   research notes by name (what the code relies on of them is in docs/protocol.md, docs/symphony-apis.md,
 *   docs/performance.md and docs/architecture.md); docs/ itself cites no such path either;
 * - every citation of a section, `docs/<file>.md §N.M` or `docs/<file>.md "Heading"` (in docs/ also
 *   `[file.md](file.md) §N`), names an existing file and a heading of it;
 * - every relative Markdown link points to an existing file or folder, and its `#anchor` to a heading there.
 * Reads the files git knows (tracked, or new and not ignored); outside a git checkout it skips with a notice.
 */
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitFiles, readText as read, ROOT } from '../helpers/repository.js';

/** Files that may name sources outside the repository: the docs, and the provenance note of the copied vectors. */
const MAY_NAME_SOURCES = (file: string) => file.startsWith('docs/') || file === 'test/vectors/README.md';

// Built from parts so that this file does not match itself.
const SHARED = ['..', 'shared', ''].join('/');
const NOTES = ['allegro-protocol', 'bdk-and-obo', 'perf-baseline', 'e2ee-anchors', 'style-anchors', 'mindlink-agent-host', 'review-wave1']
  .map((name) => `${name}.md`);
const SHARED_FOLDERS = ['reference', 'vectors', 'symphony-api-spec', 'hooks'].map((folder) => `shared/${folder}/`);

const files = gitFiles({ untracked: true })?.filter((f) => existsSync(join(ROOT, f)));
if (files === undefined) console.warn('doc-references: not a git checkout (or no git); the reference tests are skipped');

/** The outside references in `text`: paths into the shared material, `shared/<folder>/` paths, the notes' names. */
function outsideReferences(text: string, { namesAllowed }: { namesAllowed: boolean }): string[] {
  const found = text.includes(SHARED) ? [SHARED] : [];
  if (!namesAllowed) found.push(...[...NOTES, ...SHARED_FOLDERS].filter((name) => text.includes(name)));
  return found;
}

/** Comment continuations joined, so that a citation broken across comment lines reads as one. */
const joinComments = (text: string) => text.replace(/\n[ \t]*(?:\*(?!\/)|\/\/)[ \t]*/g, ' ');

const SECTIONS = String.raw`((?:,?\s?§\s?\d+(?:\.\d+)*(?:[–-]\d+(?:\.\d+)*)?)+)`;

/** A citation: the cited file (relative to the root), and a section number or a quoted heading. */
interface Citation { target: string; section?: string; heading?: string }

/** The section and heading citations of `text`, a file at `file` (relative to the root). */
function citations(text: string, file: string): Citation[] {
  const flat = joinComments(text);
  const found: Citation[] = [];
  const inDocs = file.startsWith('docs/');
  const patterns = [new RegExp(String.raw`\bdocs/([\w-]+)\.md\b`, 'g'), ...(inDocs ? [/\]\(([\w-]+)\.md\)/g] : [])];
  for (const pattern of patterns) {
    for (const match of flat.matchAll(pattern)) {
      const target = `docs/${match[1]}.md`;
      const rest = flat.slice(match.index + match[0].length);
      const sections = new RegExp(`^${SECTIONS}`).exec(rest);
      if (sections !== null) {
        for (const number of sections[1]!.matchAll(/\d+(?:\.\d+)*/g)) found.push({ target, section: number[0] });
        continue;
      }
      const heading = /^\)?,?\s?\(?"([^"\n]+)"/.exec(rest);
      if (heading !== null) found.push({ target, heading: heading[1]! });
    }
  }
  return found;
}

/** The headings of a Markdown text (fenced code blocks skipped). */
function headings(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const match = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (match !== null) out.push(match[1]!);
  }
  return out;
}

/** Whether `heading` is section `number` (its first word, less a trailing dot) or reads `quoted` (number aside). */
function headingMatches(heading: string, cited: Citation): boolean {
  const [first = '', ...others] = heading.split(/\s+/);
  const numbered = /^\d+(\.\d+)*\.?$/.test(first);
  if (cited.section !== undefined) return numbered && first.replace(/\.$/, '') === cited.section;
  const title = numbered ? others.join(' ') : heading;
  return title === cited.heading || title.startsWith(`${cited.heading} (`);
}

/** GitHub's anchor of a heading. */
function slug(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The relative links of a Markdown text: [text](target) outside code, URLs left out. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/i.test(t));
}

const CITING = (file: string) => /^(src|test|bench|docs|\.ci)\//.test(file) || file === 'README.md';

describe.skipIf(files === undefined)('references', () => {
  const known = files ?? [];

  it('never leave the repository', () => {
    const offenders = known
      .flatMap((file) => outsideReferences(read(file) ?? '', { namesAllowed: MAY_NAME_SOURCES(file) }).map((ref) => `${file}: ${ref}`));
    expect(offenders).toEqual([]);
  });

  it('cite sections and headings that exist', () => {
    const cited = known.filter((file) => CITING(file)).flatMap((file) => citations(read(file) ?? '', file).map((c) => ({ file, ...c })));
    expect(cited.length).toBeGreaterThan(40);
    const broken = cited.filter((c) => {
      const text = read(c.target);
      return text === undefined || !headings(text).some((h) => headingMatches(h, c));
    });
    expect(broken.map((c) => `${c.file}: ${c.target} ${c.section === undefined ? `"${c.heading}"` : `§${c.section}`}`)).toEqual([]);
  });

  it('link to files, folders and anchors that exist', () => {
    const broken = known.filter((file) => file.endsWith('.md')).flatMap((file) =>
      relativeLinks(read(file) ?? '').filter((link) => {
        const [path = '', anchor] = link.split('#');
        const target = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path)));
        if (!existsSync(join(ROOT, target))) return true;
        if (anchor === undefined || !target.endsWith('.md')) return false;
        return !headings(read(target) ?? '').some((h) => slug(h) === anchor);
      }).map((link) => `${file}: ${link}`));
    expect(broken).toEqual([]);
  });

  it('the detectors find what they are meant to find', () => {
    expect(outsideReferences(`see ${SHARED}reference/${NOTES[0]} §3`, { namesAllowed: false })).toEqual([SHARED, NOTES[0], SHARED_FOLDERS[0]]);
    expect(outsideReferences(`(${NOTES[2]} §1)`, { namesAllowed: false })).toEqual([NOTES[2]]);
    expect(outsideReferences(`from the ${NOTES[0]} research note`, { namesAllowed: true })).toEqual([]);
    expect(outsideReferences('docs/protocol.md §3.1', { namesAllowed: false })).toEqual([]);
    const source = [
      '/**', ' * Keys (docs/protocol.md §3.1, §5.1–5.2; docs/performance.md §2) and the map (docs/architecture.md', ' * "Module map").',
      ' * Also docs/errors.md, "Retries", docs/cli.md ("Vectors") and docs/cli.md alone.', ' */',
    ].join('\n');
    expect(citations(source, 'src/x.ts')).toEqual([
      { target: 'docs/protocol.md', section: '3.1' }, { target: 'docs/protocol.md', section: '5.1' },
      { target: 'docs/protocol.md', section: '5.2' }, { target: 'docs/performance.md', section: '2' },
      { target: 'docs/architecture.md', heading: 'Module map' }, { target: 'docs/errors.md', heading: 'Retries' },
      { target: 'docs/cli.md', heading: 'Vectors' },
    ]);
    expect(citations('see [protocol.md](protocol.md) §2.5', 'docs/a.md')).toEqual([{ target: 'docs/protocol.md', section: '2.5' }]);
    expect(headingMatches('3.1 Keys', { target: '', section: '3.1' })).toBe(true);
    expect(headingMatches('3.1 Keys', { target: '', section: '3' })).toBe(false);
    expect(headingMatches('1. AES-256-GCM throughput', { target: '', section: '1' })).toBe(true);
    expect(headingMatches('4.7 Control API (sandbox-specific)', { target: '', heading: 'Control API' })).toBe(true);
    expect(headingMatches('The report', { target: '', heading: 'The report' })).toBe(true);
    expect(headingMatches('Reports', { target: '', heading: 'Report' })).toBe(false);
    expect(slug('The limit: OpenSSL\'s own speed')).toBe('the-limit-openssls-own-speed');
  });
});
