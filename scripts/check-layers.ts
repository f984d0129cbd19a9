/**
 * The layer rules, checked over TypeScript's own parse of every source file:
 *
 *   core ← app ← adapters, handlers, slack, local, cli, infra
 *   core ← app ← manifests ← handlers, infra
 *
 * - `functions/core` imports only core: no package, no `node:` built-in, no `process` (so no
 *   environment, no I/O), except type-only imports of Slack's Block Kit types.
 * - `functions/app` imports only core and app, under the same package rule.
 * - Nothing imports a layer to its left or a sibling edge: no adapter imports a handler, no handler
 *   imports the local mode, infra imports core/app contracts, the scripts' registry and the handler
 *   manifests only. The one named exception: the local mode builds the deployed definition from
 *   infra/workflow.ts.
 * - `functions/handlers/manifest/` (each handler's ports, environment, grants and sizing) is
 *   data that both the handlers and the construct read: a layer of its own, pure like core and
 *   app, so the CDK app reaches no AWS SDK, Slack or Powertools code through it.
 *
 * A short script instead of dependency-cruiser: dependency-cruiser 18 needs Node 22 (this repo runs
 * on Node 20 too), it cannot see a `process.env` read, and the whole rule set is a table of
 * directory prefixes. `checkLayers` is pure so a test can feed it a wrong import.
 *
 *   npx tsx scripts/check-layers.ts [ROOT]   # prints each violation, exits 1 if any
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** A layer is a directory; files outside every listed one (tests, bench) are not checked. */
type Layer =
  | 'core'
  | 'app'
  | 'adapters'
  | 'scripts'
  | 'manifests'
  | 'handlers'
  | 'slack'
  | 'local'
  | 'cli'
  | 'infra';

const LAYER_DIRS: readonly (readonly [string, Layer])[] = [
  ['functions/core/', 'core'],
  ['functions/app/', 'app'],
  ['functions/adapters/', 'adapters'],
  ['functions/scripts/', 'scripts'],
  // Before its parent directory: the first prefix that matches decides.
  ['functions/handlers/manifest/', 'manifests'],
  ['functions/handlers/', 'handlers'],
  ['functions/slack/', 'slack'],
  ['functions/local/', 'local'],
  ['functions/cli/', 'cli'],
  ['infra/', 'infra'],
];

/**
 * Which layers each layer may import (itself included). `scripts` is the registry of the shell
 * scripts (file names, not logic): the runners and the SSM documents read it.
 */
const MAY_IMPORT: Readonly<Record<Layer, readonly Layer[]>> = {
  core: ['core'],
  app: ['core', 'app'],
  scripts: ['scripts'],
  adapters: ['core', 'app', 'scripts', 'adapters'],
  manifests: ['core', 'app', 'manifests'],
  // The Slack app reaches Slack through the Chat port only: its composition roots hand it one.
  slack: ['core', 'app', 'slack'],
  handlers: ['core', 'app', 'adapters', 'slack', 'manifests', 'handlers'],
  local: ['core', 'app', 'adapters', 'scripts', 'slack', 'local'],
  cli: ['core', 'app', 'adapters', 'scripts', 'cli'],
  infra: ['core', 'app', 'scripts', 'manifests', 'infra'],
};

/**
 * Single files a layer may import beside its layers: the local mode runs the state machine
 * definition the stack deploys, so it builds it from the one construct that defines it.
 */
const MAY_IMPORT_FILES: Readonly<Partial<Record<Layer, readonly string[]>>> = {
  local: ['infra/workflow.ts'],
};

/** Layers that must stay pure: no package at run time, no `process`. */
const PURE: ReadonlySet<Layer> = new Set(['core', 'app', 'manifests']);

/** Packages a pure layer may import for types only (erased at build: no code, no I/O). */
const PURE_TYPE_ONLY_PACKAGES: ReadonlySet<string> = new Set(['@slack/types']);

/** Packages that belong to the Lambda runtime, never to the CDK app that deploys it. */
const NOT_IN_INFRA = /^(@aws-sdk\/|@slack\/|@aws-lambda-powertools\/)/;

/** One broken rule, with where and why. */
export interface LayerViolation {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

function layerOf(path: string): Layer | undefined {
  return LAYER_DIRS.find(([dir]) => path.startsWith(dir))?.[1];
}

interface ImportRef {
  readonly specifier: string;
  readonly typeOnly: boolean;
  readonly node: ts.Node;
}

/** Every module reference in a file: imports, re-exports, `import()`, `require()`. */
function importsOf(source: ts.SourceFile): ImportRef[] {
  const refs: ImportRef[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      refs.push({ specifier: node.moduleSpecifier.text, typeOnly, node });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      refs.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, node });
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      refs.push({ specifier: node.arguments[0].text, typeOnly: false, node });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const literal = node.argument.literal;
      if (ts.isStringLiteral(literal)) refs.push({ specifier: literal.text, typeOnly: true, node });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}

/** References to the global `process` (environment, argv, exit...): none allowed in a pure layer. */
function processUses(source: ts.SourceFile): ts.Node[] {
  const uses: ts.Node[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && node.text === 'process') {
      const parent = node.parent;
      // `x.process` or `{ process: … }` is a property name, not the global.
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        (ts.isPropertySignature(parent) && parent.name === node) ||
        (ts.isMethodDeclaration(parent) && parent.name === node);
      if (!isPropertyName) uses.push(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return uses;
}

/**
 * Check files against the layer rules.
 * @param files repository-relative path (with `/`) → source text
 */
export function checkLayers(files: Readonly<Record<string, string>>): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const [file, text] of Object.entries(files)) {
    const layer = layerOf(file);
    if (!layer) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const at = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    for (const ref of importsOf(source)) {
      const fail = (message: string) =>
        violations.push({ file, line: at(ref.node), message: `${layer} ${message}` });
      if (ref.specifier.startsWith('.')) {
        const target = relative('.', resolve(dirname(file), ref.specifier))
          .split(sep)
          .join('/');
        const targetLayer = layerOf(target) ?? layerOf(`${target}/`);
        const allowedFile = MAY_IMPORT_FILES[layer]?.includes(target.replace(/\.js$/, '.ts'));
        if (!targetLayer) fail(`imports ${ref.specifier}, which is in no layer`);
        else if (!MAY_IMPORT[layer].includes(targetLayer) && !allowedFile)
          fail(
            `imports ${targetLayer} (${ref.specifier}); ${layer} may import only ${MAY_IMPORT[layer].join(', ')}`,
          );
      } else if (PURE.has(layer)) {
        const allowed = ref.typeOnly && PURE_TYPE_ONLY_PACKAGES.has(ref.specifier);
        if (!allowed) fail(`imports the package ${ref.specifier}; ${layer} is pure (no packages, no I/O)`);
      } else if (layer === 'infra' && NOT_IN_INFRA.test(ref.specifier)) {
        fail(`imports the runtime package ${ref.specifier}; the CDK app only deploys the functions`);
      }
    }
    if (PURE.has(layer)) {
      for (const use of processUses(source)) {
        violations.push({
          file,
          line: at(use),
          message: `${layer} reads the global process; configuration enters through the deps`,
        });
      }
    }
  }
  return violations;
}

function sourcesUnder(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter(
      (entry) => entry.isFile() && /\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts'),
    )
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
  const files: Record<string, string> = {};
  for (const path of [...sourcesUnder(root, 'functions'), ...sourcesUnder(root, 'infra')]) {
    files[path] = readFileSync(join(root, path), 'utf8');
  }
  const violations = checkLayers(files);
  for (const v of violations) console.error(`${v.file}:${v.line}: ${v.message}`);
  if (violations.length) {
    console.error(`layers: ${violations.length} violation(s)`);
    process.exit(1);
  }
}
