// The declarations (.d.ts) of the package's entry points, emitted in memory from src/ with the build's compiler
// options, so that the tests in test/package/ see exactly what a consumer's compiler sees, without a stale dist/.
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');

/** The package's entry points (package.json `exports`) and their source modules. */
export const ENTRY_POINTS = {
  '.': 'src/index.ts',
  './crypto': 'src/crypto/index.ts',
  './errors': 'src/errors.ts',
  './obo': 'src/obo/index.ts',
  './sandbox': 'src/sandbox/index.ts',
} as const;

export type EntryPoint = keyof typeof ENTRY_POINTS;

/** A program over the emitted declarations, with the paths of the entry points' .d.ts files. */
export interface DeclarationProgram {
  program: ts.Program;
  checker: ts.TypeChecker;
  entryFile(entry: EntryPoint): ts.SourceFile;
  /** Whether `file` is one of the package's own declarations (not the standard library or a dependency). */
  isOwn(file: ts.SourceFile): boolean;
}

function buildOptions(): ts.CompilerOptions {
  const configPath = join(ROOT, 'tsconfig.build.json');
  const config = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  return ts.parseJsonConfigFileContent(config.config, ts.sys, dirname(configPath)).options;
}

/** Emit the declarations of src/ in memory and open them as a program of their own. */
export function declarationProgram(): DeclarationProgram {
  const options = buildOptions();
  const outDir = options.outDir!;
  const emitted = new Map<string, string>();
  const source = ts.createProgram(Object.values(ENTRY_POINTS).map((f) => join(ROOT, f)), options);
  const result = source.emit(undefined, (fileName, text) => {
    if (fileName.endsWith('.d.ts')) emitted.set(resolve(fileName), text);
  }, undefined, true);
  const errors = result.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, ts.createCompilerHost(options)));
  // The generated protobuf module ships a hand-written declaration that the build copies next to it.
  emitted.set(join(outDir, 'store/proto/envelope.d.ts'), ts.sys.readFile(join(ROOT, 'src/store/proto/envelope.d.ts'))!);

  const consumerOptions: ts.CompilerOptions = { ...options, noEmit: true, declaration: false, paths: {} };
  const host = ts.createCompilerHost(consumerOptions);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (fileName) => emitted.get(resolve(fileName)) ?? readFile(fileName);
  host.fileExists = (fileName) => emitted.has(resolve(fileName)) || fileExists(fileName);
  const dtsOf = (entry: EntryPoint) => join(outDir, ENTRY_POINTS[entry].replace(/^src\//, '').replace(/\.ts$/, '.d.ts'));
  const program = ts.createProgram(Object.keys(ENTRY_POINTS).map((e) => dtsOf(e as EntryPoint)), consumerOptions, host);
  return {
    program,
    checker: program.getTypeChecker(),
    entryFile: (entry) => program.getSourceFile(dtsOf(entry))!,
    isOwn: (file) => emitted.has(resolve(file.fileName)),
  };
}
