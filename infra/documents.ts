/**
 * nodemedic's SSM Command documents, built at synth time from the scripts themselves: the
 * diagnosis (`functions/scripts/diagnose.sh`) and one document per remediation that runs on the
 * node (`functions/scripts/fixes/<id>.sh` with the shared `fixes/_preamble.sh` inlined). The script
 * files stay the single source of truth: `scriptProgram` (functions/scripts/program.ts) builds the
 * program once, and the CLI and the local shell runner run the same bytes.
 *
 * Each document's parameters are the script's `SCRIPT_PARAMETERS` (functions/core/script-params.ts)
 * with their `allowedPattern`, and the command is a prelude of `export NODEMEDIC_X='{{ x }}'` lines
 * followed by the program verbatim. The single quotes are safe only because no pattern admits a
 * quote, `$`, a backtick, `;` or a newline; `assertPatternsAreQuoteSafe` proves that at synth.
 */
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import {
  DIAGNOSE_PARAMETERS,
  DIAGNOSE_TIMEOUT_SECONDS,
  SCRIPT_PARAMETERS,
  SCRIPT_TAG,
  type ScriptParameterName,
} from '../functions/core/script-params.js';
import { scriptFile, scriptProgram } from '../functions/scripts/program.js';

/** What a document needs to know about one script (a subset of a remediation catalog entry). */
export interface ScriptSpec {
  /** `diagnose`, or a remediation id whose script lives at `fixes/<id>.sh`. */
  readonly id: string;
  /** Parameters the script reads (each becomes a document parameter and an exported variable). */
  readonly parameters: readonly ScriptParameterName[];
  /** Execution timeout on the node, seconds (the runShellScript step's `timeoutSeconds`). */
  readonly timeoutSeconds: number;
}

/** The diagnosis runs with the path overrides only; it takes no fix-specific input. */
export const DIAGNOSE_SCRIPT: ScriptSpec = {
  id: 'diagnose',
  parameters: DIAGNOSE_PARAMETERS,
  timeoutSeconds: DIAGNOSE_TIMEOUT_SECONDS,
};

/** SSM's limit on a Command document's content. */
const MAX_DOCUMENT_BYTES = 64 * 1024;

/**
 * The first runCommand line. SSM's runShellScript runs the joined lines as a file through `sh -c`,
 * so without a shebang Ubuntu's dash would run our bash scripts.
 */
export const SHEBANG = '#!/bin/bash';

/** Characters that would end or escape the single-quoted `export X='…'` line. */
const UNSAFE_IN_SINGLE_QUOTES = ["'", '$', '`', ';', '\n', '\r', '\\'];

/**
 * Fail when any parameter's `allowedPattern` admits a character that could break out of the
 * single-quoted export line. Checked by probing each pattern with each unsafe character embedded in
 * otherwise valid values, so it holds for the real regexes, not a re-reading of them.
 */
export function assertPatternsAreQuoteSafe(): void {
  for (const [name, spec] of Object.entries(SCRIPT_PARAMETERS)) {
    const pattern = new RegExp(spec.allowedPattern);
    const samples = [spec.default, '/a', 'a', '1', 'apply'];
    for (const bad of UNSAFE_IN_SINGLE_QUOTES) {
      for (const sample of samples) {
        for (const probe of [bad, `${sample}${bad}`, `${bad}${sample}`, `${sample}${bad}${sample}`]) {
          if (pattern.test(probe)) {
            throw new Error(
              `script parameter "${name}": allowedPattern ${spec.allowedPattern} admits ${JSON.stringify(probe)}, ` +
                "which is unsafe inside the SSM document's single-quoted export line",
            );
          }
        }
      }
    }
  }
}

/** Where a script's bytes live, relative to the scripts directory. */
function scriptPath(scriptsDir: string, id: string): string {
  return scriptFile(id, scriptsDir);
}

/**
 * The program a document carries (`scriptProgram`: a fix with its preamble inlined), failing synth
 * with a message naming a missing file (never inventing content), an empty script, or `{{ … }}`.
 */
export function readScript(scriptsDir: string, id: string): string {
  const path = scriptPath(scriptsDir, id);
  const text = scriptProgram(id, scriptsDir);
  if (text.trim() === '') throw new Error(`nodemedic: the script for "${id}" is empty: ${path}`);
  // SSM would read `{{ name }}` inside the program as a parameter reference and rewrite it.
  const templated = /\{\{.*?\}\}/.exec(text);
  if (templated) {
    throw new Error(
      `nodemedic: the "${id}" program (from ${path}) contains "${templated[0]}", which SSM would substitute as a parameter`,
    );
  }
  return text;
}

/** The export prelude: the shebang, then one `export NODEMEDIC_X='{{ x }}'` per parameter. */
export function exportPrelude(parameters: readonly ScriptParameterName[]): string[] {
  return [SHEBANG, ...parameters.map((name) => `export ${SCRIPT_PARAMETERS[name].env}='{{ ${name} }}'`)];
}

/** The Command document (schema 2.2) that runs `script` with `spec`'s parameters. */
export function commandDocumentContent(spec: ScriptSpec, script: string): Record<string, unknown> {
  const unknown = spec.parameters.filter((name) => !(name in SCRIPT_PARAMETERS));
  if (unknown.length > 0)
    throw new Error(`nodemedic: "${spec.id}" names unknown script parameters: ${unknown.join(', ')}`);
  if (!Number.isInteger(spec.timeoutSeconds) || spec.timeoutSeconds < 1 || spec.timeoutSeconds > 172_800) {
    throw new Error(
      `nodemedic: "${spec.id}" needs a timeoutSeconds between 1 and 172800, got ${spec.timeoutSeconds}`,
    );
  }
  const parameters = Object.fromEntries(
    spec.parameters.map((name) => {
      const p = SCRIPT_PARAMETERS[name];
      return [
        name,
        { type: 'String', description: p.description, default: p.default, allowedPattern: p.allowedPattern },
      ];
    }),
  );
  const content = {
    schemaVersion: '2.2',
    description: `nodemedic ${spec.id} (built from ${spec.id === 'diagnose' ? 'diagnose.sh' : `fixes/${spec.id}.sh`})`,
    parameters,
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'nodemedic',
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: {
          timeoutSeconds: String(spec.timeoutSeconds),
          // The agent joins the lines with "\n": splitting on "\n" keeps the program byte for byte.
          runCommand: [...exportPrelude(spec.parameters), ...script.split('\n')],
        },
      },
    ],
  };
  const bytes = Buffer.byteLength(JSON.stringify(content));
  if (bytes > MAX_DOCUMENT_BYTES) {
    throw new Error(
      `nodemedic: the "${spec.id}" document is ${bytes} bytes, over SSM's ${MAX_DOCUMENT_BYTES}`,
    );
  }
  return content;
}

/** Props of {@link NodemedicDocuments}. */
export interface NodemedicDocumentsProps {
  /** Directory holding `diagnose.sh` and `fixes/<id>.sh`. */
  readonly scriptsDir: string;
  /** The scripts to publish: the diagnosis first, then each node remediation. */
  readonly scripts: readonly ScriptSpec[];
}

/** One SSM Command document per script. Names are generated by CloudFormation (stack-unique). */
export class NodemedicDocuments extends Construct {
  /** The documents by script id (`diagnose` or a remediation id). */
  public readonly documents: Readonly<Record<string, CfnDocument>>;

  constructor(scope: Construct, id: string, props: NodemedicDocumentsProps) {
    super(scope, id);
    assertPatternsAreQuoteSafe();
    const documents: Record<string, CfnDocument> = {};
    for (const spec of props.scripts) {
      if (documents[spec.id]) throw new Error(`nodemedic: script "${spec.id}" is listed twice`);
      const content = commandDocumentContent(spec, readScript(props.scriptsDir, spec.id));
      documents[spec.id] = new CfnDocument(this, logicalName(spec.id), {
        documentType: 'Command',
        documentFormat: 'JSON',
        content,
        // Replace: CloudFormation creates a fresh document when the script changes, so a command in
        // flight keeps the version it started with and the new one is the default at once.
        updateMethod: 'Replace',
        // How the CLI on a laptop finds the deployed document for a script (functions/cli/remote.ts).
        tags: [{ key: SCRIPT_TAG, value: spec.id }],
      });
    }
    this.documents = documents;
  }
}

/** `raise-nofile` → `RaiseNofile`, for readable logical ids. */
function logicalName(id: string): string {
  return id
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}
