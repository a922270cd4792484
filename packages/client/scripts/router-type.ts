/**
 * Writes src/app-router.ts: the server's `AppRouter` as a client sees it, spelled out in
 * plain types (each procedure's kind, input and output; the error shape), so the package's
 * declarations carry it without the server's own types (its context holds the database,
 * the logger, the metrics: drizzle-orm, postgres, pino, prom-client).
 *
 *   tsx scripts/router-type.ts          # write it (part of `npm run build`)
 *   tsx scripts/router-type.ts --check  # exit 1 if it is not what the server's router gives
 *
 * The types are read with TypeScript's own checker from server/routers/app.ts: nothing is
 * written by hand, so the file cannot drift from the server without this check saying so.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const packageRoot = path.resolve(import.meta.dirname, '..');
const repoRoot = path.resolve(packageRoot, '../..');
const target = path.join(packageRoot, 'src/app-router.ts');
const probe = path.join(packageRoot, 'src/__router-probe.ts');

const probeText = `import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../../server/routers/app.ts';
export type Record_ = AppRouter['_def']['record'];
export type Inputs = inferRouterInputs<AppRouter>;
export type Outputs = inferRouterOutputs<AppRouter>;
export type ErrorShape = AppRouter['_def']['_config']['$types']['errorShape'];
`;

export function generate(): string {
  const host = ts.createCompilerHost({});
  const readFile = host.readFile.bind(host);
  host.readFile = (file) => (path.resolve(file) === probe ? probeText : readFile(file));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => path.resolve(file) === probe || fileExists(file);
  const program = ts.createProgram(
    [probe],
    {
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      skipLibCheck: true,
      types: ['node'],
    },
    host,
  );
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(probe)!;
  const aliases = new Map<string, ts.Type>();
  ts.forEachChild(source, (node) => {
    if (ts.isTypeAliasDeclaration(node)) aliases.set(node.name.text, checker.getTypeAtLocation(node.name));
  });
  const propertyType = (type: ts.Type, name: string): ts.Type | undefined => {
    const property = checker.getPropertyOfType(type, name);
    return property && checker.getTypeOfSymbol(property);
  };
  const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.InTypeAlias;
  const sharedTypes = new Map<string, Set<string>>();
  const trpcTypes = new Set<string>(['TRPCBuiltRouter']);

  /** A type as text, with the repository's shared types imported by name and nothing else imported. */
  const print = (type: ts.Type): string => {
    let text = checker.typeToString(type, source, flags);
    text = text.replace(/import\("[^"]*\/shared\/([\w-]+)"\)\.(\w+)/g, (_, file: string, name: string) => {
      if (!sharedTypes.has(file)) sharedTypes.set(file, new Set());
      sharedTypes.get(file)!.add(name);
      return name;
    });
    // tRPC's error codes, by the names tRPC exports them under.
    text = text.replace(/code: import\("[^"]*@trpc\/server\/[^"]*"\)\.\w+; httpStatus/g, () => (trpcTypes.add('TRPC_ERROR_CODE_KEY'), 'code: TRPC_ERROR_CODE_KEY; httpStatus'));
    text = text.replace(/; code: import\("[^"]*@trpc\/server\/[^"]*"\)\.\w+; \}$/, () => (trpcTypes.add('TRPC_ERROR_CODE_NUMBER'), '; code: TRPC_ERROR_CODE_NUMBER; }'));
    if (text.includes('import(')) throw new Error(`cannot spell out without the server's types: ${text}`);
    return text;
  };

  const kinds = { query: 'TRPCQueryProcedure', mutation: 'TRPCMutationProcedure', subscription: 'TRPCSubscriptionProcedure' } as const;
  const record = (recordType: ts.Type, inputs: ts.Type, outputs: ts.Type, indent: string): string => {
    const lines = checker.getPropertiesOfType(recordType).map((property) => {
      const name = property.name;
      const value = checker.getTypeOfSymbol(property);
      const input = propertyType(inputs, name)!;
      const output = propertyType(outputs, name)!;
      const def = propertyType(value, '_def');
      const kindType = def && propertyType(def, 'type');
      const kind = kindType?.isStringLiteral() ? (kindType.value as keyof typeof kinds) : undefined;
      if (kind && kind in kinds) {
        trpcTypes.add(kinds[kind]);
        // inferRouterInputs adds `void` to optional inputs; the procedure's own input has none.
        const inputText = print(input).replace(/^void \| /, '');
        return `${indent}${name}: ${kinds[kind]}<{ input: ${inputText}; output: ${print(output)}; meta: object }>;`;
      }
      return `${indent}${name}: {\n${record(value, input, output, indent + '  ')}\n${indent}};`;
    });
    return lines.join('\n');
  };

  const body = record(aliases.get('Record_')!, aliases.get('Inputs')!, aliases.get('Outputs')!, '    ');
  const errorShape = print(aliases.get('ErrorShape')!);
  return `// Generated by scripts/router-type.ts from server/routers/app.ts (\`npm run build\`): do not edit.
// The server's AppRouter as a client sees it, in plain types: see that script for why.
import type { ${[...trpcTypes].sort().join(', ')} } from '@trpc/server';
${[...sharedTypes.keys()].sort().map((file) => `import type { ${[...sharedTypes.get(file)!].sort().join(', ')} } from '../../../shared/${file}.ts';\n`).join('')}
type ErrorShape = ${errorShape};

/** The live-orders server's tRPC router, for \`createTRPCClient<AppRouter>\` and the like. */
export type AppRouter = TRPCBuiltRouter<
  { ctx: object; meta: object; errorShape: ErrorShape; transformer: false },
  {
${body}
  }
>;
`;
}

const text = generate();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // reported below
  }
  if (current !== text) {
    process.stderr.write(`${path.relative(repoRoot, target)} is not what server/routers/app.ts gives: run \`npm run build -w live-orders-client\`\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
}
