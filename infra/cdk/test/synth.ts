// The CDK app as the tests synthesize it: offline, bundling skipped (CDK's standard context
// `aws:cdk:bundling-stacks: []`, which cargo-lambda-cdk's assets honour: no cargo, no Docker),
// into a temporary cloud assembly.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, CapstanApp } from '../lib/app';
import { Json } from './sam';

export interface Synth extends CapstanApp {
  template: Template;
  json: Json;
  outdir: string;
}

export function synth(
  options: { context?: Record<string, unknown>; nag?: boolean; validation?: boolean } = {},
): Synth {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'capstan-cdk-test-'));
  // aws-cdk-lib's built-in CloudFormation Validate step costs ~9 s a synth: only the test of
  // its findings runs it.
  const before = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = options.validation ? 'true' : 'false';
  try {
    const built = buildApp(
      { outdir, context: { 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-asset-metadata': true, ...options.context } },
      { nag: options.nag },
    );
    const template = Template.fromStack(built.stack);
    return { ...built, template, json: template.toJSON(), outdir };
  } finally {
    if (before === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = before;
  }
}
