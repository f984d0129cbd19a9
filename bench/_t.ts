import { analyze, parseFacts } from '../functions/core/analyze.js';
import { readFileSync } from 'node:fs';
for (const n of process.argv.slice(2)) {
  const r = analyze(parseFacts(readFileSync(`/work/wt/causes/test/fixtures/facts/recorded/${n}.json`, 'utf8')), { versionPolicy: { minimum: '1.6.0' } });
  console.log('==', n, r.healthy); for (const f of r.findings) console.log(JSON.stringify({ ...f }, null, 0)); for (const x of r.notes) console.log('  note:', x);
}
