// How cargo-lambda-cdk builds the functions, offline: a stand-in `cargo` on PATH records what it
// is asked. With CDK's `aws:cdk:bundling-stacks: []` (what the tests use) nothing is built and
// no cargo is needed at all (cargo-lambda-cdk only asks `cargo lambda --version`, to choose
// between a local build and Docker, and without it picks Docker, which skipped bundling never
// runs). With bundling on, each function is `cargo lambda build --release --arm64 --bin NAME`
// in functions/NAME of the workspace: the binary `sam build` builds (BuildProperties.Binary).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Json, REPO, loadSam } from './sam';

const FAKE_CARGO = `#!/usr/bin/env bash
echo "$PWD|$*" >> "$CARGO_LOG"
if [ "$1 $2" = "lambda --version" ]; then echo "cargo-lambda 1.9.2 (stand-in)"; exit 0; fi
if [ "$1 $2" = "lambda build" ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = "--lambda-dir" ]; then mkdir -p "$2"; printf 'stand-in bootstrap\\n' > "$2/bootstrap"; fi
    shift
  done
  exit 0
fi
exit 1
`;

/** Synthesize in a child process (its own PATH, and cargo-lambda-cdk's cache of `cargo lambda --version`). */
function synthWith(opts: { bundle: boolean; cargo: boolean }): { calls: string[]; template: Json; outdir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capstan-cdk-bundling-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  if (opts.cargo) fs.writeFileSync(path.join(bin, 'cargo'), FAKE_CARGO, { mode: 0o755 });
  const log = path.join(dir, 'cargo.log');
  const script = `
    const { synth } = require(${JSON.stringify(path.join(__dirname, 'synth.js'))});
    const s = synth({ nag: false, context: ${opts.bundle ? `{ 'aws:cdk:bundling-stacks': ['**'] }` : '{}'} });
    require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'out.json'))}, JSON.stringify({ template: s.json, outdir: s.outdir }));
  `;
  // PATH: the stand-in (or nothing) and node itself; no cargo, no docker of the machine's.
  const env = { ...process.env, PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`, CARGO_LOG: log };
  for (const p of ['/usr/bin', '/bin']) {
    assert.ok(!fs.existsSync(path.join(p, 'cargo')), `a cargo in ${p} would be found`);
  }
  execFileSync(process.execPath, ['-e', script], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const out = JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8'));
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  return { calls, ...out };
}

const sam = loadSam();
const binaries = Object.values<Json>(sam.Resources)
  .filter((r) => r.Type === 'AWS::Serverless::Function')
  .map((r) => r.Metadata.BuildProperties.Binary as string)
  .sort();

describe('bundling skipped (aws:cdk:bundling-stacks: [])', () => {
  it('builds nothing, and needs no cargo-lambda', () => {
    const withCargo = synthWith({ bundle: false, cargo: true });
    assert.deepEqual(withCargo.calls.filter((c) => c.includes('lambda build')), []);
    const noCargo = synthWith({ bundle: false, cargo: false });
    assert.deepEqual(noCargo.calls, []);
    const fns = Object.values<Json>(noCargo.template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    assert.equal(fns.length, binaries.length);
    for (const fn of fns) {
      // The asset is left as its source, unbuilt.
      assert.match(fn.Metadata['aws:asset:path'], /functions\/[a-z-]+-handler$/);
    }
  });
});

describe('bundling on (cdk synth, cdk deploy)', () => {
  it('runs cargo lambda build --release --arm64 --bin NAME in functions/NAME, once per function', () => {
    const { calls, template, outdir } = synthWith({ bundle: true, cargo: true });
    const builds = calls
      .filter((c) => c.includes('|lambda build'))
      .map((c) => {
        const [cwd, args] = c.split('|');
        return { cwd, args: args.replace(/--lambda-dir \S+/, '--lambda-dir DIR') };
      })
      .sort((a, b) => a.cwd.localeCompare(b.cwd));
    assert.deepEqual(
      builds,
      binaries.map((b) => ({
        cwd: path.join(REPO, 'functions', b),
        args: `lambda build --lambda-dir DIR --release --arm64 --bin ${b} --flatten ${b}`,
      })),
    );
    // Each function's asset is what the build left: the bootstrap.
    for (const fn of Object.values<Json>(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function')) {
      const asset = path.join(outdir, fn.Metadata['aws:asset:path']);
      assert.deepEqual(fs.readdirSync(asset), ['bootstrap']);
    }
  });
});
