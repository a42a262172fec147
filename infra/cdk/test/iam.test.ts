// No drift between SAM and CDK in IAM: for every function, the set of (effect, action, resource,
// condition) grants of its role, each under the conditions (`Fn::If`) it holds in, is the same in
// infra/template.yaml and in the CDK stack: the managed policies it attaches and its inline
// policies, and any AWS::IAM::Policy naming it (which CDK would add on its own with grants).
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Json, clone, functionRoleId, loadSam, roleGrants } from './sam';
import { synth } from './synth';

const sam = loadSam();
const { json: cdk } = synth({ nag: false });
const samFunctions = Object.keys(sam.Resources).filter((id) => sam.Resources[id].Type === 'AWS::Serverless::Function');

function compare(samGrants: string[], cdkGrants: string[]) {
  const onlySam = samGrants.filter((g) => !cdkGrants.includes(g));
  const onlyCdk = cdkGrants.filter((g) => !samGrants.includes(g));
  return { onlySam, onlyCdk };
}

describe('each function\'s role grants what SAM\'s grants, nothing more', () => {
  for (const fn of samFunctions) {
    it(fn, () => {
      const samRole = functionRoleId(sam.Resources, fn);
      const cdkRole = functionRoleId(cdk.Resources, fn);
      assert.equal(cdkRole, samRole, `${fn}'s role`);
      const samGrants = roleGrants(sam.Resources, samRole);
      const cdkGrants = roleGrants(cdk.Resources, cdkRole);
      assert.deepEqual(compare(samGrants, cdkGrants), { onlySam: [], onlyCdk: [] });
      // Not vacuous: the shared policy's table grant and the role's own log group are in it.
      assert.ok(samGrants.some((g) => g === 'always | Allow dynamodb:PutItem on ${StateTable.Arn}'), samGrants.join('\n'));
      assert.ok(samGrants.some((g) => g.includes(`logs:PutLogEvents on \${${fn.replace(/Function$/, '')}LogGroup.Arn}`)));
    });
  }

  it('targets in other accounts: each function may assume exactly TargetRoleArns, only when it is set', () => {
    for (const fn of samFunctions) {
      const assume = roleGrants(cdk.Resources, functionRoleId(cdk.Resources, fn)).filter((g) => g.includes('sts:AssumeRole'));
      assert.deepEqual(assume, ['HasTargetRoles | Allow sts:AssumeRole on ${TargetRoleArns}'], fn);
    }
    assert.deepEqual(cdk.Parameters.TargetRoleArns.Type, 'CommaDelimitedList');
    assert.deepEqual(cdk.Parameters.TargetRoleArns.Default, '');
  });

  it('the roles trust lambda.amazonaws.com only, as in SAM', () => {
    for (const fn of samFunctions) {
      const role = functionRoleId(sam.Resources, fn);
      assert.deepEqual(
        cdk.Resources[role].Properties.AssumeRolePolicyDocument,
        sam.Resources[role].Properties.AssumeRolePolicyDocument,
      );
    }
  });

  it('CDK adds no IAM of its own (no AWS::IAM::Policy, no other role or managed policy)', () => {
    const iam = Object.entries<Json>(cdk.Resources)
      .filter(([, r]) => r.Type.startsWith('AWS::IAM::'))
      .map(([id, r]) => `${id} ${r.Type}`)
      .sort();
    const samIam = Object.entries<Json>(sam.Resources)
      .filter(([, r]) => r.Type.startsWith('AWS::IAM::'))
      .map(([id, r]) => `${id} ${r.Type}`);
    // SAM's own: the schedule's role (ScheduleV2 without RoleArn).
    const scheduleRoles = samFunctions.flatMap((fn) =>
      Object.entries<Json>(sam.Resources[fn].Properties.Events ?? {})
        .filter(([, ev]) => ev.Type === 'ScheduleV2' && !ev.Properties.RoleArn)
        .map(([event]) => `${fn}${event}Role AWS::IAM::Role`),
    );
    assert.deepEqual(iam, [...samIam, ...scheduleRoles].sort());
  });

  it('the schedule\'s role: invoke its function, send to its dead-letter queue, the key through SQS only', () => {
    for (const fn of samFunctions) {
      for (const [, ev] of Object.entries<Json>(sam.Resources[fn].Properties.Events ?? {})) {
        if (ev.Type !== 'ScheduleV2') continue;
        const role = ev.Properties.RoleArn['Fn::GetAtt'][0];
        const queue = ev.Properties.DeadLetterConfig.Arn['Fn::GetAtt'].join('.');
        const via = ' when {StringEquals: {kms:ViaService: sqs.${AWS::Region}.${AWS::URLSuffix}}}';
        const expected = [
          `always | Allow lambda:InvokeFunction on \${${fn}.Arn}`,
          `always | Allow sqs:SendMessage on \${${queue}}`,
          `HasKmsKey | Allow kms:Decrypt on \${KmsKeyArn}${via}`,
          `HasKmsKey | Allow kms:GenerateDataKey on \${KmsKeyArn}${via}`,
        ].sort();
        assert.deepEqual(roleGrants(sam.Resources, role), expected);
        assert.deepEqual(roleGrants(cdk.Resources, role), expected);
        assert.deepEqual(
          cdk.Resources[role].Properties.AssumeRolePolicyDocument,
          sam.Resources[role].Properties.AssumeRolePolicyDocument,
        );
        assert.deepEqual(cdk.Resources[role].Properties.AssumeRolePolicyDocument.Statement[0].Principal, {
          Service: ['scheduler.amazonaws.com'],
        });
      }
    }
  });
});

describe('the comparison catches drift', () => {
  const role = functionRoleId(sam.Resources, 'AlarmHandlerFunction');
  const base = roleGrants(sam.Resources, role);

  it('an action added to the shared policy', () => {
    const changed = clone(sam.Resources);
    changed.FunctionPolicy.Properties.PolicyDocument.Statement[0].Action = ['ecs:ListServices', 'ecs:ListClusters'];
    assert.deepEqual(compare(base, roleGrants(changed, role)).onlyCdk, ['always | Allow ecs:ListClusters on *']);
  });

  it('a conditional policy attached unconditionally', () => {
    const changed = clone(sam.Resources);
    // The key's policy, made and attached whatever KmsKeyArn says.
    delete changed.EncryptionKeyPolicy.Condition;
    const arns: Json[] = changed[role].Properties.ManagedPolicyArns;
    const kms = arns.findIndex((a) => a['Fn::If']?.[0] === 'HasKmsKey');
    assert.ok(kms >= 0);
    arns[kms] = arns[kms]['Fn::If'][1];
    const { onlySam, onlyCdk } = compare(base, roleGrants(changed, role));
    const via = ' when {StringEquals: {kms:ViaService: [dynamodb.${AWS::Region}.${AWS::URLSuffix}, sns.${AWS::Region}.${AWS::URLSuffix}, sqs.${AWS::Region}.${AWS::URLSuffix}]}}';
    assert.deepEqual(onlySam, [
      `HasKmsKey | Allow kms:Decrypt on \${KmsKeyArn}${via}`,
      `HasKmsKey | Allow kms:GenerateDataKey* on \${KmsKeyArn}${via}`,
    ]);
    assert.deepEqual(onlyCdk, [
      `always | Allow kms:Decrypt on \${KmsKeyArn}${via}`,
      `always | Allow kms:GenerateDataKey* on \${KmsKeyArn}${via}`,
    ]);
  });

  it('the condition of a policy dropped where the role attaches it', () => {
    const changed = clone(sam.Resources);
    const arns: Json[] = changed[role].Properties.ManagedPolicyArns;
    const assume = arns.findIndex((a) => a['Fn::If']?.[0] === 'HasTargetRoles');
    arns[assume] = arns[assume]['Fn::If'][1];
    // The policy itself keeps its Condition: the grant still holds under HasTargetRoles only.
    assert.deepEqual(compare(base, roleGrants(changed, role)), { onlySam: [], onlyCdk: [] });
    delete changed.TargetAccountsPolicy.Condition;
    assert.deepEqual(compare(base, roleGrants(changed, role)).onlyCdk, ['always | Allow sts:AssumeRole on ${TargetRoleArns}']);
  });

  it('a tag condition dropped', () => {
    const changed = clone(sam.Resources);
    const scale = changed.FunctionPolicy.Properties.PolicyDocument.Statement.find((s: Json) => s.Sid === 'EcsScale');
    delete scale.Condition;
    const { onlySam, onlyCdk } = compare(base, roleGrants(changed, role));
    // With the tag (HasManagedTag) and without (!HasManagedTag), each on the named resources and on the wildcard.
    assert.equal(onlySam.length, 4, onlySam.join('\n'));
    assert.deepEqual(onlyCdk, [
      '!HasScalingResourceArns | Allow ecs:UpdateService on arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/*',
      'HasScalingResourceArns | Allow ecs:UpdateService on ${ScalingResourceArns}',
    ]);
  });

  it('the named resources (ScalingResourceArns) dropped', () => {
    const changed = clone(sam.Resources);
    const scale = changed.FunctionPolicy.Properties.PolicyDocument.Statement.find((s: Json) => s.Sid === 'AutoScalingScale');
    scale.Resource = scale.Resource['Fn::If'][2];
    const { onlySam, onlyCdk } = compare(base, roleGrants(changed, role));
    const tagged = ' when {StringEquals: {autoscaling:ResourceTag/capstan:managed: ${ManagedTagValue}}}';
    // SAM's two actions now hold on the wildcard whatever ScalingResourceArns says, under either tag branch
    // (4 grants with guards the base has not); the base's 8 (2 actions, 2 tag branches, named or wildcard)
    // are gone, the named ones among them.
    assert.equal(onlyCdk.length, 4, onlyCdk.join('\n'));
    assert.ok(onlyCdk.every((g) => g.includes('autoScalingGroupName/*') && !g.includes('ScalingResourceArns |')), onlyCdk.join('\n'));
    assert.equal(onlySam.length, 8, onlySam.join('\n'));
    assert.deepEqual(onlySam.filter((g) => g.includes('on ${ScalingResourceArns}')), [
      '!HasManagedTag & HasScalingResourceArns | Allow autoscaling:SetDesiredCapacity on ${ScalingResourceArns}',
      '!HasManagedTag & HasScalingResourceArns | Allow autoscaling:UpdateAutoScalingGroup on ${ScalingResourceArns}',
      `HasManagedTag & HasScalingResourceArns | Allow autoscaling:SetDesiredCapacity on \${ScalingResourceArns}${tagged}`,
      `HasManagedTag & HasScalingResourceArns | Allow autoscaling:UpdateAutoScalingGroup on \${ScalingResourceArns}${tagged}`,
    ]);
  });

  it('a grant CDK would add by itself (an AWS::IAM::Policy on the role)', () => {
    const changed = clone(sam.Resources);
    changed.ExtraPolicy = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        Roles: [{ Ref: role }],
        PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:GetQueueUrl', Resource: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] } }] },
      },
    };
    assert.deepEqual(compare(base, roleGrants(changed, role)).onlyCdk, [
      'always | Allow sqs:GetQueueUrl on ${DeadLetterQueue.Arn}',
    ]);
  });
});
