// The CDK app as the tests synthesize it: offline, bundling skipped (CDK's standard context
// `aws:cdk:bundling-stacks: []`, which cargo-lambda-cdk's assets honour: no cargo, no Docker),
// into a temporary cloud assembly.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { INagLogger } from 'cdk-nag';
import { buildApp, CapstanApp } from '../lib/app';
import { Json } from './sam';

// aws-cdk-lib's built-in CloudFormation Validate step costs ~9 s a synthesis (and assertions
// synthesize again): off for the tests but the one of its findings (test/nag.test.ts).
process.env.CDK_VALIDATION = 'false';

export interface Synth extends CapstanApp {
  template: Template;
  json: Json;
  outdir: string;
}

export function synth(
  options: { context?: Record<string, unknown>; nag?: boolean; nagLoggers?: INagLogger[]; validation?: boolean } = {},
): Synth {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'capstan-cdk-test-'));
  const before = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = options.validation ? 'true' : 'false';
  try {
    const built = buildApp(
      { outdir, context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-asset-metadata': true, ...options.context } },
      { nag: options.nag, nagLoggers: options.nagLoggers },
    );
    const template = Template.fromStack(built.stack);
    return { ...built, template, json: template.toJSON(), outdir };
  } finally {
    process.env.CDK_VALIDATION = before;
  }
}
