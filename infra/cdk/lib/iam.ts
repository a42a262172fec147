// What Capstan's functions may call: the same statements as infra/template.yaml's FunctionPolicy,
// its conditional policies and the functions' roles, statement for statement (test/iam.test.ts
// compares the (action, resource) pairs of every function's role with SAM's). Written as plain
// policy documents rather than PolicyStatement objects because resources and conditions are
// `Fn::If`s of the stack's conditions, which CDK's PolicyStatement cannot express.
// Why each statement is here: infra/README.md, "IAM".
import { Aws, CfnCondition, Fn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Conditions, Parameters } from './parameters';

const sub = (s: string) => Fn.sub(s);

/** UpdateAutoScalingGroup may change counts and bounds only (as template.yaml's Deny statements). */
const autoScalingNoLaunchChanges = [
  ['AutoScalingNoLaunchChanges', 'autoscaling:LaunchConfigurationName'],
  ['AutoScalingNoLaunchTemplateChanges', 'ec2:LaunchTemplate'],
  ['AutoScalingNoSubnetChanges', 'autoscaling:VPCZoneIdentifiers'],
].map(([Sid, key]) => ({
  Sid,
  Effect: 'Deny',
  Action: 'autoscaling:UpdateAutoScalingGroup',
  Resource: '*',
  Condition: { Null: { [key]: 'false' } },
}));

/** `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` of this stack's account and region, as an Fn::Join. */
export function scalingWildcard(service: string, resource: string): string {
  return Fn.join('', ['arn:', Aws.PARTITION, `:${service}:`, Aws.REGION, ':', Aws.ACCOUNT_ID, `:${resource}`]);
}

/** The managed policy every function's role attaches (FunctionPolicy in template.yaml). */
export function functionPolicy(
  stack: Stack,
  p: Parameters,
  c: Conditions,
  refs: { stateTableArn: string; notificationTopicArn: string; deadLetterQueueArn: string },
): iam.CfnManagedPolicy {
  const ifTag = (key: string) =>
    Fn.conditionIf(
      c.hasManagedTag.logicalId,
      { StringEquals: { [key]: p.managedTagValue.valueAsString } },
      Aws.NO_VALUE,
    );
  // ScalingResourceArns, when given, names the services and groups exactly (both lists in one
  // parameter: an ARN of the other service in Resource never matches the action). The wildcard is
  // an Fn::Join, not an Fn::Sub: cdk-nag's finding for it is the intrinsic as JSON, and its
  // acknowledgement (lib/nag.ts) then holds no "${...}" that CloudFormation's validation would
  // take for a misplaced parameter.
  const named = (service: string, resource: string) =>
    Fn.conditionIf(c.hasScalingResourceArns.logicalId, p.scalingResourceArns.value, scalingWildcard(service, resource));
  return new iam.CfnManagedPolicy(stack, 'FunctionPolicy', {
    description: sub('Capstan functions of stack ${AWS::StackName} - scale by the policy, record, announce'),
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'EcsList', Effect: 'Allow', Action: 'ecs:ListServices', Resource: '*' },
        {
          Sid: 'EcsRead',
          Effect: 'Allow',
          Action: ['ecs:DescribeServices', 'ecs:ListTagsForResource'],
          Resource: sub('arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/*'),
        },
        {
          Sid: 'EcsScale',
          Effect: 'Allow',
          Action: 'ecs:UpdateService',
          Resource: named('ecs', 'service/*'),
          Condition: ifTag('aws:ResourceTag/capstan:managed'),
        },
        {
          Sid: 'AutoScalingRead',
          Effect: 'Allow',
          Action: [
            'autoscaling:DescribeAutoScalingGroups',
            'autoscaling:DescribePolicies',
            'application-autoscaling:DescribeScalableTargets',
          ],
          Resource: '*',
        },
        {
          Sid: 'AutoScalingScale',
          Effect: 'Allow',
          Action: ['autoscaling:SetDesiredCapacity', 'autoscaling:UpdateAutoScalingGroup'],
          Resource: named('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*'),
          Condition: ifTag('autoscaling:ResourceTag/capstan:managed'),
        },
        // Counts and bounds only: never the group's launch configuration, launch template or subnets.
        ...autoScalingNoLaunchChanges,
        {
          Sid: 'EcsScalableTargets',
          Effect: 'Allow',
          Action: 'application-autoscaling:RegisterScalableTarget',
          Resource: sub(
            'arn:${AWS::Partition}:application-autoscaling:${AWS::Region}:${AWS::AccountId}:scalable-target/*',
          ),
          Condition: ifTag('aws:ResourceTag/capstan:managed'),
        },
        {
          // TransactWriteItems has no IAM action of its own: IAM authorizes each item action.
          Sid: 'State',
          Effect: 'Allow',
          Action: [
            'dynamodb:GetItem',
            'dynamodb:BatchGetItem',
            'dynamodb:Query',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
            'dynamodb:DeleteItem',
            'dynamodb:ConditionCheckItem',
          ],
          Resource: refs.stateTableArn,
        },
        { Sid: 'Notify', Effect: 'Allow', Action: 'sns:Publish', Resource: refs.notificationTopicArn },
        // Lambda's on-failure destination sends with the function's role.
        { Sid: 'DeadLetters', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: refs.deadLetterQueueArn },
      ],
    },
  });
}

/**
 * What only some stacks grant, each a managed policy of its own under its condition (as
 * template.yaml's): not an Fn::If around a statement, which checkov cannot read. Returns the
 * entries of a role's ManagedPolicyArns, each under its condition.
 */
export function conditionalPolicies(stack: Stack, p: Parameters, c: Conditions): string[] {
  const policy = (id: string, cond: CfnCondition, what: string, statement: object): string => {
    const managed = new iam.CfnManagedPolicy(stack, id, {
      description: sub(`Capstan functions of stack \${AWS::StackName} - ${what}`),
      policyDocument: { Version: '2012-10-17', Statement: [statement] },
    });
    managed.cfnOptions.condition = cond;
    return Fn.conditionIf(cond.logicalId, managed.ref, Aws.NO_VALUE).toString();
  };
  return [
    // Targets in other accounts: exactly the roles the stack is given, never `*`. What each may
    // do there is that role's own policy (infra/spoke.yaml).
    policy('TargetAccountsPolicy', c.hasTargetRoles, "assume the target accounts' roles", {
      Sid: 'TargetAccounts',
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Resource: p.targetRoleArns.value,
    }),
    // The stack's key (KmsKeyArn), only through the services whose data it encrypts.
    policy('EncryptionKeyPolicy', c.hasKmsKey, "the stack's key, through DynamoDB, SNS and SQS", {
      Sid: 'Encrypted',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      Resource: p.kmsKeyArn.valueAsString,
      Condition: {
        StringEquals: {
          'kms:ViaService': [
            sub('dynamodb.${AWS::Region}.${AWS::URLSuffix}'),
            sub('sns.${AWS::Region}.${AWS::URLSuffix}'),
            sub('sqs.${AWS::Region}.${AWS::URLSuffix}'),
          ],
        },
      },
    }),
    // The policy, when it is an SSM parameter (PolicyParameterName): that one parameter.
    policy('PolicyParameterPolicy', c.usePolicyParameter, 'read the policy parameter', {
      Sid: 'PolicyParameter',
      Effect: 'Allow',
      Action: 'ssm:GetParameter',
      Resource: sub('arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${PolicyParameterName}'),
    }),
  ];
}

/** A function's own role: FunctionPolicy, the `conditional` policies, writing to its own log group, and `extra` inline policies. */
export function functionRole(
  stack: Stack,
  id: string,
  binary: string,
  managedPolicy: iam.CfnManagedPolicy,
  conditional: string[],
  logGroupArn: string,
  extra: iam.CfnRole.PolicyProperty[] = [],
): iam.CfnRole {
  return new iam.CfnRole(stack, id, {
    description: Fn.sub(`Capstan ${binary} of stack \${AWS::StackName}`),
    assumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    },
    managedPolicyArns: [managedPolicy.ref, ...conditional],
    policies: [
      {
        policyName: 'logs',
        policyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: logGroupArn },
          ],
        },
      },
      ...extra,
    ],
  });
}
