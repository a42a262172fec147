// cdk-nag's AwsSolutionsChecks on the stack: no finding left unacknowledged; each
// acknowledgement of lib/nag.ts on one resource, for one finding (appliesTo where the rule is
// granular), with a reason, and matching a finding that is really there (none stale). Also
// aws-cdk-lib's own CloudFormation Validate step: nothing left but what lib/nag.ts acknowledges.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { INagLogger, NagLoggerNonComplianceData, NagLoggerSuppressedData } from 'cdk-nag';
import { ACKNOWLEDGEMENTS, CFN_VALIDATE } from '../lib/nag';
import { Json } from './sam';
import { synth } from './synth';

class Recorder implements INagLogger {
  readonly suppressed: string[] = [];
  readonly nonCompliant: string[] = [];
  readonly errors: string[] = [];
  onCompliance(): void {}
  onNotApplicable(): void {}
  onNonCompliance(d: NagLoggerNonComplianceData): void {
    this.nonCompliant.push(`${d.resource.node.path} ${d.findingId || d.ruleId}`);
  }
  onSuppressed(d: NagLoggerSuppressedData): void {
    this.suppressed.push(`${d.resource.node.path} ${d.findingId || d.ruleId}`);
  }
  onError(d: { resource: { node: { path: string } }; ruleId: string; errorMessage: string }): void {
    this.errors.push(`${d.resource.node.path} ${d.ruleId}: ${d.errorMessage}`);
  }
  onSuppressedError(d: { resource: { node: { path: string } }; ruleId: string }): void {
    this.errors.push(`${d.resource.node.path} ${d.ruleId} (suppressed)`);
  }
}

/** The findings each acknowledgement of lib/nag.ts names, as "<resource path> <finding>". */
function acknowledged(): string[] {
  return ACKNOWLEDGEMENTS.flatMap((ack) =>
    ack.suppressions.flatMap((s) =>
      (s.appliesTo ?? [s.id]).map((finding) => {
        assert.equal(typeof finding, 'string', 'appliesTo by exact finding, not by pattern');
        const resource = ack.path === 'SlackSigningSecret' ? `${ack.path}/Resource` : ack.path;
        return `Capstan/${resource} ${finding}`;
      }),
    ),
  ).sort();
}

const withAcks = new Recorder();
const { stack } = synth({ nagLoggers: [withAcks] });
const withoutAcks = new Recorder();
const { stack: bare } = synth({ nagLoggers: [withoutAcks], context: { 'capstan:acknowledgeFindings': 'false' } });

describe('cdk-nag AwsSolutionsChecks', () => {
  it('leaves no error and no warning unacknowledged', () => {
    const annotations = Annotations.fromStack(stack);
    const messages = [
      ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-|CdkNagValidationFailure')),
      ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-|CdkNagValidationFailure')),
    ].map((m) => `${m.id}: ${String(m.entry.data).split(':')[0]}`);
    assert.deepEqual(messages, []);
    assert.deepEqual(withAcks.nonCompliant, []);
    assert.deepEqual(withAcks.errors, [], 'no rule failed to evaluate');
  });

  it('acknowledges exactly the findings that are there, each once (none stale)', () => {
    // (Each synthesis runs the checks again: one finding may be reported more than once.)
    assert.deepEqual([...new Set(withAcks.suppressed)].sort(), acknowledged());
  });

  it('without the acknowledgements, exactly those findings are errors (the checks run)', () => {
    const errors = Annotations.fromStack(bare)
      .findError('*', Match.stringLikeRegexp('AwsSolutions-'))
      .map((m) => {
        const finding = /^(AwsSolutions-[A-Za-z0-9]+)(?:\[(.*?)\])?:/.exec(String(m.entry.data));
        assert.ok(finding, String(m.entry.data));
        return `Capstan/${m.id.replace(/^\/Capstan\//, '')} ${finding[2] ?? finding[1]}`;
      })
      .sort();
    assert.deepEqual([...new Set(errors)], acknowledged());
    assert.deepEqual([...new Set(withoutAcks.nonCompliant)].sort(), acknowledged());
    assert.ok(errors.length >= 5);
  });

  it('every acknowledgement is narrow and says why', () => {
    for (const ack of ACKNOWLEDGEMENTS) {
      assert.notEqual(ack.path, '', 'on a resource, never the stack');
      assert.ok(stack.node.tryFindChild(ack.path), `${ack.path} is a resource of the stack`);
      for (const s of ack.suppressions) {
        if (s.id === 'AwsSolutions-IAM5') assert.ok(s.appliesTo?.length, `${ack.path} ${s.id}: appliesTo`);
        assert.ok(s.reason.length >= 80, `${ack.path} ${s.id}: a concrete reason, not "${s.reason}"`);
      }
    }
  });
});

describe("aws-cdk-lib's CloudFormation Validate", () => {
  it('leaves no finding but the acknowledged ones, and each acknowledgement matches one', () => {
    const { outdir } = synth({ nag: false, validation: true });
    const report: Json = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    const cfn = report.pluginReports.find((r: Json) => r.pluginName === 'CloudFormation Validate');
    assert.ok(cfn, 'the step ran');
    assert.deepEqual(
      cfn.violations.map((v: Json) => `${v.ruleName}: ${v.description}`),
      [],
    );
    const acknowledgedIds = [...new Set<string>(cfn.suppressedViolations.map((v: Json) => v.acknowledgedId))].sort();
    assert.deepEqual(acknowledgedIds, CFN_VALIDATE.map((a) => a.id).sort());
  });
});
