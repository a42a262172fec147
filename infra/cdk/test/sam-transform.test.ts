// The tests' model of SAM's transform (test/sam.ts: samExpansion) against SAM's translator
// itself, when its output is at hand: scripts/check-cdk.sh sets CAPSTAN_SAM_TRANSFORMED to the
// translator's output for infra/template.yaml whenever the SAM CLI's virtualenv exists (as after
// scripts/check-infra.sh, in the README's test command). Without it, this is skipped.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { Json, countByType, loadSam, samExpansion } from './sam';
import { synth } from './synth';

const file = process.env.CAPSTAN_SAM_TRANSFORMED;
const skip = file ? false : 'CAPSTAN_SAM_TRANSFORMED not set (scripts/check-cdk.sh sets it when the SAM CLI is installed)';

describe("SAM's translator", { skip }, () => {
  it('makes the resources the model says, and the CDK stack has them all', () => {
    const transformed: Json = JSON.parse(fs.readFileSync(file!, 'utf8'));
    // The translator appends a content hash to a layer's logical ID; the model and CDK do not.
    const real = new Map<string, string>(
      Object.entries<Json>(transformed.Resources).map(([id, r]) => [
        r.Type === 'AWS::Lambda::LayerVersion' ? id.replace(/[0-9a-f]{10}$/, '') : id,
        r.Type,
      ]),
    );
    assert.deepEqual(new Map([...samExpansion(loadSam())].sort()), new Map([...real].sort()));
    const cdk: Json = synth({ nag: false }).json.Resources;
    assert.deepEqual(countByType(Object.values<Json>(cdk).map((r) => r.Type)), countByType(real.values()));
    console.log(`SAM's transform: ${real.size} resources; CDK: ${Object.keys(cdk).length}`);
  });
});
