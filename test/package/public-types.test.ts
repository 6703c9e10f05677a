/**
 * Every named type that a public member refers to is exported by the entry point the member is exported from:
 * a consumer can name (import) the type of every parameter, return value, property and base class it meets. Walks
 * the declarations the build emits (test/helpers/declarations.ts), member by member, skipping private members.
 */
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { declarationProgram, ENTRY_POINTS, type DeclarationProgram, type EntryPoint } from '../helpers/declarations.js';

let declarations: DeclarationProgram;

beforeAll(() => {
  declarations = declarationProgram();
}, 120_000);

function isPrivate(node: ts.Node): boolean {
  if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) return true;
  const name = (node as { name?: ts.Node }).name;
  return name !== undefined && ts.isPrivateIdentifier(name);
}

/** The entity a type reference names, if the reference names one. */
function referencedName(node: ts.Node): ts.Node | undefined {
  if (ts.isTypeReferenceNode(node)) return node.typeName;
  if (ts.isExpressionWithTypeArguments(node)) return node.expression;
  if (ts.isImportTypeNode(node)) return node.qualifier;
  if (ts.isTypeQueryNode(node)) return node.exprName;
  return undefined;
}

/** `Type (via path)` for every named type of the package reachable from `entry`'s exports but not exported by it. */
function unexportedTypes(entry: EntryPoint): string[] {
  const { checker, isOwn } = declarations;
  const resolveAlias = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const moduleSymbol = checker.getSymbolAtLocation(declarations.entryFile(entry))!;
  const exported = new Set(checker.getExportsOfModule(moduleSymbol).map(resolveAlias));
  const missing = new Map<string, string>();
  const visited = new Set<ts.Symbol>();

  const visitSymbol = (symbol: ts.Symbol, via: string): void => {
    if (visited.has(symbol)) return;
    visited.add(symbol);
    for (const declaration of symbol.declarations ?? []) {
      if (isOwn(declaration.getSourceFile())) visitNode(declaration, via);
    }
  };
  const visitNode = (node: ts.Node, via: string): void => {
    if (isPrivate(node)) return;
    const name = referencedName(node);
    const found = name === undefined ? undefined : checker.getSymbolAtLocation(name);
    if (found !== undefined) {
      const symbol = resolveAlias(found);
      const own = (symbol.declarations ?? []).filter((d) => isOwn(d.getSourceFile()) && !ts.isTypeParameterDeclaration(d));
      if (own.length > 0) {
        if (!exported.has(symbol) && !missing.has(symbol.name)) missing.set(symbol.name, via);
        visitSymbol(symbol, `${via} → ${symbol.name}`);
      }
    }
    ts.forEachChild(node, (child) => visitNode(child, via));
  };
  for (const symbol of exported) visitSymbol(symbol, symbol.name);
  return [...missing].map(([type, via]) => `${type} (via ${via})`).sort();
}

describe('public types', () => {
  for (const entry of Object.keys(ENTRY_POINTS) as EntryPoint[]) {
    it(`${entry} exports every named type its public members refer to`, () => {
      expect(unexportedTypes(entry)).toEqual([]);
    });
  }

  it('reaches types through members, parameters, return types and base classes (the walk is not empty)', () => {
    const { checker } = declarations;
    const root = checker.getSymbolAtLocation(declarations.entryFile('.'))!;
    const names = checker.getExportsOfModule(root).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['AllegroClient', 'AesKey', 'AllegroError']));
  });
});
