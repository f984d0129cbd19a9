// biome-ignore-all lint/suspicious/noExplicitAny: synthesized CloudFormation templates are untyped JSON
/**
 * The SSM documents are built from the script files at synth: the diagnosis byte for byte after the
 * export prelude, one document per node remediation carrying exactly the program the local runner
 * executes (`fixProgram`: the script with the shared preamble inlined), parameters with their
 * allowedPattern, and a clear synth failure for a missing script or preamble.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { REMEDIATION_LIST } from '../../functions/core/remediations/index.js';
import {
  SCRIPT_PARAMETERS,
  SCRIPT_TAG,
  type ScriptParameterName,
} from '../../functions/core/script-params.js';
import { fixProgram, PREAMBLE_INCLUDE } from '../../functions/scripts/program.js';
import {
  assertPatternsAreQuoteSafe,
  commandDocumentContent,
  DIAGNOSE_SCRIPT,
  exportPrelude,
  NodemedicDocuments,
  SHEBANG,
} from '../../infra/documents.js';
import { synthNodeMedic } from './support.js';

const SCRIPTS = join(import.meta.dirname, '..', '..', 'functions', 'scripts');
const NODE_FIXES = REMEDIATION_LIST.filter((r) => r.runsOn === 'node');
const { nodemedic, stack, template } = synthNodeMedic();

/** The document's content as CloudFormation receives it. */
function contentOf(id: string): any {
  const doc = nodemedic.documents[id];
  if (!doc) throw new Error(`no document for ${id}`);
  return stack.resolve(doc.content);
}

describe('SSM documents', () => {
  it('publishes the diagnosis and exactly the remediations that run on the node', () => {
    expect(Object.keys(nodemedic.documents).sort()).toEqual(
      ['diagnose', ...NODE_FIXES.map((r) => r.id)].sort(),
    );
    expect(NODE_FIXES.length).toBeGreaterThan(0);
    for (const id of ['reboot-instance', 'replace-node', 'fix-config-manually']) {
      expect(nodemedic.documents[id], id).toBeUndefined();
    }
  });

  it('tags each document with its script id, which the CLI on a laptop looks it up by', () => {
    for (const [id, doc] of Object.entries(nodemedic.documents)) {
      const resource = template.toJSON().Resources[stack.getLogicalId(doc)];
      expect(resource.Properties.Tags, id).toEqual([{ Key: SCRIPT_TAG, Value: id }]);
    }
  });

  it('embeds diagnose.sh byte for byte after the export prelude', () => {
    const content = contentOf('diagnose');
    const lines: string[] = content.mainSteps[0].inputs.runCommand;
    const prelude = exportPrelude(DIAGNOSE_SCRIPT.parameters);
    expect(lines.slice(0, prelude.length)).toEqual(prelude);
    expect(lines.slice(prelude.length).join('\n')).toBe(readFileSync(join(SCRIPTS, 'diagnose.sh'), 'utf8'));
  });

  it.each(NODE_FIXES.map((r) => [r.id, r] as const))(
    'carries the export prelude, then fixProgram("%s") byte for byte, with its parameters',
    (id, r) => {
      const content = contentOf(id);
      const step = content.mainSteps[0];
      const program = fixProgram(id);
      expect(step.action).toBe('aws:runShellScript');
      expect(step.inputs.timeoutSeconds).toBe(String(r.timeoutSeconds));
      expect(step.inputs.runCommand.join('\n')).toBe([...exportPrelude(r.parameters), program].join('\n'));
      // The preamble is inlined: the node never needs a file next to the document.
      expect(program).not.toContain(PREAMBLE_INCLUDE);
      expect(program).toContain(readFileSync(join(SCRIPTS, 'fixes', '_preamble.sh'), 'utf8'));
      expect(Object.keys(content.parameters).sort()).toEqual([...r.parameters].sort());
    },
  );

  it('starts every command with a bash shebang, then exports each parameter in single quotes', () => {
    for (const id of Object.keys(nodemedic.documents)) {
      const content = contentOf(id);
      const lines: string[] = content.mainSteps[0].inputs.runCommand;
      expect(lines[0], id).toBe(SHEBANG);
      for (const [name, spec] of Object.entries(content.parameters) as [ScriptParameterName, any][]) {
        expect(lines, `${id}.${name}`).toContain(`export ${SCRIPT_PARAMETERS[name].env}='{{ ${name} }}'`);
        expect(spec.allowedPattern, `${id}.${name}`).toBe(SCRIPT_PARAMETERS[name].allowedPattern);
        expect(spec.default, `${id}.${name}`).toBe(SCRIPT_PARAMETERS[name].default);
        expect(spec.type).toBe('String');
      }
      expect(content.schemaVersion).toBe('2.2');
    }
  });

  it('gives every parameter of every document an allowedPattern that admits its default', () => {
    for (const id of Object.keys(nodemedic.documents)) {
      for (const [name, spec] of Object.entries(contentOf(id).parameters) as [string, any][]) {
        expect(spec.allowedPattern, `${id}.${name}`).toMatch(/^\^/);
        expect(new RegExp(spec.allowedPattern).test(spec.default), `${id}.${name} default`).toBe(true);
      }
    }
  });

  describe('quote safety of the export line', () => {
    const unsafe = ["'", '$', '`', ';', '\n', '$(id)', "'; rm -rf / #"];
    const cases = Object.entries(SCRIPT_PARAMETERS).flatMap(([name, spec]) =>
      unsafe.flatMap((bad) =>
        [`${spec.default}${bad}`, `${bad}${spec.default}`, `/a${bad}b`, `1${bad}`].map(
          (v) => [name, v] as const,
        ),
      ),
    );
    it.each(cases)('%s refuses %j', (name, value) => {
      const pattern = new RegExp(SCRIPT_PARAMETERS[name as ScriptParameterName].allowedPattern);
      expect(pattern.test(value)).toBe(false);
    });

    it('holds for the real patterns (the synth-time check passes)', () => {
      expect(() => assertPatternsAreQuoteSafe()).not.toThrow();
    });
  });

  describe('synth failures name the problem', () => {
    function scriptsDir(files: Record<string, string>): string {
      const dir = mkdtempSync(join(tmpdir(), 'nodemedic-docs-'));
      mkdirSync(join(dir, 'fixes'));
      for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
      return dir;
    }
    const build = (dir: string, ids: string[]) =>
      new NodemedicDocuments(new Stack(new App(), 'S'), 'Docs', {
        scriptsDir: dir,
        scripts: ids.map((id) => ({ id, parameters: ['address'], timeoutSeconds: 30 })),
      });

    it('a missing fix script fails synth naming the file', () => {
      const dir = scriptsDir({ 'diagnose.sh': '#!/bin/bash\necho {}\n' });
      expect(() => build(dir, ['diagnose', 'restart-containerd'])).toThrow(
        `the script for "restart-containerd" is missing: ${join(dir, 'fixes', 'restart-containerd.sh')}`,
      );
    });

    it('a fix that includes a missing preamble fails synth naming the preamble', () => {
      const dir = scriptsDir({
        'diagnose.sh': '#!/bin/bash\necho {}\n',
        'fixes/restart-containerd.sh': `#!/bin/bash\nFIX=restart-containerd\n${PREAMBLE_INCLUDE}\nresult true true ok\n`,
      });
      expect(() => build(dir, ['diagnose', 'restart-containerd'])).toThrow(
        `the preamble for "restart-containerd" is missing: ${join(dir, 'fixes', '_preamble.sh')}`,
      );
    });

    it('a fix that includes the preamble twice fails synth', () => {
      const dir = scriptsDir({
        'diagnose.sh': '#!/bin/bash\necho {}\n',
        'fixes/_preamble.sh': 'say() { :; }\n',
        'fixes/restart-containerd.sh': `${PREAMBLE_INCLUDE}\n${PREAMBLE_INCLUDE}\n`,
      });
      expect(() => build(dir, ['diagnose', 'restart-containerd'])).toThrow(
        /includes the preamble more than once/,
      );
    });

    it('{{ … }} in the preamble fails synth too, naming the fix whose program carries it', () => {
      const dir = scriptsDir({
        'diagnose.sh': '#!/bin/bash\necho {}\n',
        'fixes/_preamble.sh': 'echo "{{ root }}"\n',
        'fixes/restart-containerd.sh': `FIX=restart-containerd\n${PREAMBLE_INCLUDE}\n`,
      });
      expect(() => build(dir, ['diagnose', 'restart-containerd'])).toThrow(
        /"restart-containerd" program .* contains "\{\{ root \}\}"/,
      );
    });

    it('a script with {{ … }} fails synth, since SSM would substitute it', () => {
      const dir = scriptsDir({ 'diagnose.sh': '#!/bin/bash\necho "{{ address }}"\n' });
      expect(() => build(dir, ['diagnose'])).toThrow(/contains "\{\{ address \}\}"/);
    });

    it('an empty script fails synth', () => {
      const dir = scriptsDir({ 'diagnose.sh': '\n' });
      expect(() => build(dir, ['diagnose'])).toThrow(/is empty/);
    });

    it('an unknown parameter or a bad timeout is refused', () => {
      expect(() =>
        commandDocumentContent(
          { id: 'x', parameters: ['nope' as ScriptParameterName], timeoutSeconds: 5 },
          'true\n',
        ),
      ).toThrow(/unknown script parameters: nope/);
      expect(() => commandDocumentContent({ id: 'x', parameters: [], timeoutSeconds: 0 }, 'true\n')).toThrow(
        /timeoutSeconds between 1 and 172800, got 0/,
      );
    });

    it('a document over 64 KiB is refused', () => {
      expect(() =>
        commandDocumentContent(
          { id: 'big', parameters: [], timeoutSeconds: 5 },
          `${'# pad\n'.repeat(12_000)}`,
        ),
      ).toThrow(/over SSM's 65536/);
    });
  });
});
