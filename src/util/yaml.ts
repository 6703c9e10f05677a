/**
 * The `yaml` package's adapter, its only importer: reads a configuration document as both Symphony BDKs do (JSON
 * first, else YAML 1.1, the YAML of the Java BDK's SnakeYAML and the Python BDK's PyYAML) and writes one that they
 * read back unchanged. docs/config.md "File format".
 */
import { Document, parseAllDocuments, type ScalarTag, type Tags } from 'yaml';

/** Why a text is neither JSON nor YAML: where, and the parser's error code, never the text itself. */
export class DocumentSyntaxError extends Error {
  /** 1-based line and column of the first error. */
  readonly line: number;
  readonly column: number;
  constructor(line: number, column: number, reason: string) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = 'DocumentSyntaxError';
    this.line = line;
    this.column = column;
  }
}

/**
 * YAML 1.1 as SnakeYAML and PyYAML have it: their booleans are yes/no, true/false and on/off (in three cases each),
 * not the single letters y/n that the `yaml` package's 1.1 schema adds.
 */
const SNAKEYAML_BOOLEANS: Record<string, RegExp> = { true: /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/, false: /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/ };

const YAML_OPTIONS = {
  version: '1.1', uniqueKeys: true, prettyErrors: false, logLevel: 'silent',
  customTags: (tags: Tags): Tags => tags.map((tag) => {
    if (typeof tag !== 'object' || tag.tag !== 'tag:yaml.org,2002:bool') return tag;
    const bool = tag as ScalarTag;
    return { ...bool, test: SNAKEYAML_BOOLEANS[String(bool.identify?.(true))]! };
  }),
} as const;

/**
 * The value of a JSON or YAML document. JSON is tried first, as both BDKs do, so a JSON file reads exactly as
 * JSON.parse reads it; anything else is YAML 1.1 (`yes`/`no` are booleans, `0644` is octal; duplicate keys and a
 * second document are refused; an empty text is `undefined`). The error names a position and a reason, never a line of the text: a configuration holds secrets.
 * @throws DocumentSyntaxError
 */
export function parseDocumentText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON: read it as YAML below.
  }
  const docs = parseAllDocuments(text, YAML_OPTIONS);
  const all = Array.isArray(docs) ? docs : [];
  const error = all.flatMap((doc) => doc.errors)[0];
  if (error !== undefined) throw syntaxError(text, error.pos[0], error.code.toLowerCase().replace(/_/g, ' '));
  if (all.length > 1) throw syntaxError(text, all[1]!.range[0], 'more than one document');
  return all[0]?.toJS({ maxAliasCount: 100 }) as unknown;
}

function syntaxError(text: string, position: number, reason: string): DocumentSyntaxError {
  const before = text.slice(0, Math.min(position, text.length));
  return new DocumentSyntaxError(before.split('\n').length, before.length - before.lastIndexOf('\n'), reason);
}

/**
 * YAML 1.1 text for `value` (plain data: objects, arrays, strings, numbers, booleans), quoting every string a
 * YAML 1.1 reader would take for something else (`yes`, `0644`, `~`), with `comment` as `#` lines on top.
 */
export function toYamlText(value: unknown, comment?: string): string {
  const doc = new Document(value, YAML_OPTIONS);
  if (comment !== undefined) doc.commentBefore = comment.split('\n').map((line) => ` ${line}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}
