// checkov's skips: the same checks skipped on the same resources with the same reasons in the
// CDK stack as in infra/template.yaml, and every skip with a reason.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHECKOV_SKIPS } from '../lib/checkov';
import { Json, loadSam } from './sam';
import { synth } from './synth';

const sam = loadSam();
const { json: cdk } = synth({ nag: false });

const skips = (resources: Json) =>
  Object.fromEntries(
    Object.entries<Json>(resources)
      .filter(([, r]) => r.Metadata?.checkov)
      .map(([id, r]) => [id, r.Metadata.checkov]),
  );

describe('checkov skips', () => {
  it('are those of template.yaml, resource by resource', () => {
    assert.deepEqual(skips(cdk.Resources), skips(sam.Resources));
    assert.ok(Object.keys(skips(sam.Resources)).length >= 5);
  });

  it('each says why', () => {
    for (const [id, list] of Object.entries(CHECKOV_SKIPS)) {
      for (const s of list) {
        assert.match(s.id, /^CKV_AWS_\d+$/, id);
        assert.ok(s.comment.length > 40, `${id} ${s.id} has a reason`);
      }
    }
  });
});
