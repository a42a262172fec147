// Every cdk-nag (AwsSolutions) finding this stack leaves standing, acknowledged on the one
// resource it is about, for the one wildcard it names (appliesTo), with the reason. Nothing is
// acknowledged stack-wide. test/nag.test.ts checks that each acknowledgement below matches a real
// finding (none is stale) and that no finding is left unacknowledged.
//
// Also the built-in "CloudFormation Validate" check of aws-cdk-lib (cfn-lint-like rules at synth):
// its findings here are all branches of `Fn::If` it cannot see are never taken together.
import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { NagPackSuppression, NagSuppressions } from 'cdk-nag';

export interface Acknowledgement {
  /** The construct path under the stack (e.g. "FunctionPolicy"). */
  readonly path: string;
  readonly suppressions: NagPackSuppression[];
}

const TAG_SCOPED =
  'by default (ScaleUntaggedResources=false) the writes carry an IAM condition on the capstan:managed tag (aws:ResourceTag / autoscaling:ResourceTag, = ManagedTagValue, default true), so only tagged resources can be changed';

const NAMED =
  'with ScalingResourceArns set (the ARNs `capstan iam-resources` prints from the policy), the grant is exactly those resources instead';

/**
 * cdk-nag's finding for a statement whose Resource is `Fn::If [HasScalingResourceArns,
 * ScalingResourceArns, <wildcard>]` (lib/iam.ts): the resolved intrinsic, as JSON. It flags the
 * wildcard branch; the named branch holds no wildcard.
 */
function scalingResource(service: string, resource: string): string {
  const wildcard = {
    'Fn::Join': [
      '',
      ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`],
    ],
  };
  return `Resource::${JSON.stringify({ 'Fn::If': ['HasScalingResourceArns', { Ref: 'ScalingResourceArns' }, wildcard] })}`;
}

export const ACKNOWLEDGEMENTS: Acknowledgement[] = [
  {
    path: 'FunctionPolicy',
    suppressions: [
      {
        id: 'AwsSolutions-IAM5',
        appliesTo: ['Resource::*'],
        reason:
          'Only the listing and describe calls ecs:ListServices, autoscaling:DescribeAutoScalingGroups, autoscaling:DescribePolicies and application-autoscaling:DescribeScalableTargets are on "*": IAM authorizes them on no resource type, so "*" is the only resource they accept (infra/lint-transformed.py enforces that no other action is allowed there). The Deny statements on "*" (UpdateAutoScalingGroup naming a launch configuration, launch template or subnets) narrow, never grant.',
      },
      {
        id: 'AwsSolutions-IAM5',
        appliesTo: ['Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/*'],
        reason:
          'Reading only (DescribeServices, ListTagsForResource): the services Capstan reads are named in the policy file, which changes without a deploy, and its tag selectors find services by their tags; limited to ECS services of this account and region.',
      },
      {
        id: 'AwsSolutions-IAM5',
        appliesTo: [scalingResource('ecs', 'service/*')],
        reason:
          `UpdateService on the services the policy file names, which changes without a deploy: by default limited to ECS services of this account and region and ${TAG_SCOPED}; ${NAMED}.`,
      },
      {
        id: 'AwsSolutions-IAM5',
        appliesTo: [scalingResource('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*')],
        reason:
          `SetDesiredCapacity and UpdateAutoScalingGroup on the groups the policy file names, which changes without a deploy, and a group's ARN carries a generated UUID (hence autoScalingGroup:* even in a named ARN): by default limited to groups of this account and region and ${TAG_SCOPED}; ${NAMED}.`,
      },
      {
        id: 'AwsSolutions-IAM5',
        appliesTo: [
          'Resource::arn:<AWS::Partition>:application-autoscaling:<AWS::Region>:<AWS::AccountId>:scalable-target/*',
        ],
        reason:
          `A scalable target's ARN ends in an ID Application Auto Scaling generates when the service is registered, unknown at deploy time; RegisterScalableTarget (moving min/max of ECS services under Application Auto Scaling) is limited to scalable targets of this account and region, and ${TAG_SCOPED} (the scalable target's own tag).`,
      },
    ],
  },
  {
    path: 'EncryptionKeyPolicy',
    suppressions: [
      {
        id: 'AwsSolutions-IAM5',
        appliesTo: ['Action::kms:GenerateDataKey*'],
        reason:
          'SNS and SQS document kms:GenerateDataKey* (GenerateDataKey and GenerateDataKeyWithoutPlaintext) for sending to an encrypted topic or queue; the grant is on the one key KmsKeyArn, only for calls made through DynamoDB, SNS and SQS of this region (kms:ViaService), and exists only when KmsKeyArn is set.',
      },
    ],
  },
  {
    path: 'SlackSigningSecret',
    suppressions: [
      {
        id: 'AwsSolutions-SMG4',
        reason:
          "The value is the Slack app's signing secret, which only Slack issues: a rotation function has no way to make Slack use a new value. It is rotated by regenerating it in the Slack app and putting it in the secret (infra/README.md, Slack).",
      },
    ],
  },
];

/** aws-cdk-lib's own CloudFormation Validate findings, each a false positive of an `Fn::If`. */
export const CFN_VALIDATE: { path: string; id: string; reason: string }[] = [
  {
    // Reported on the stack: it is about the parameters ReservedConcurrency, ScheduleReservedConcurrency
    // and SlackReservedConcurrency (-1 below 0) and BudgetTopicArn ('' is no ARN).
    path: '',
    id: 'CloudFormation-Validate::W1030',
    reason:
      'The value -1 of the *ReservedConcurrency parameters and the empty BudgetTopicArn only reach their property through the Fn::If branch their condition (HasReservedConcurrency, HasScheduleReservedConcurrency, HasSlackReservedConcurrency, CreateBudgetTopic) never takes for them.',
  },
  {
    path: '',
    id: 'CloudFormation-Validate::W1001',
    reason:
      'The outputs BudgetAlertsTopicArn and SlackSigningSecretArn name the conditional BudgetAlertsTopic and SlackSigningSecret only in the Fn::If branch of the very condition that creates them.',
  },
  {
    path: '',
    id: 'CloudFormation-Validate::W2509',
    reason:
      'SlackSigningSecretArn is the ARN of the secret (shown as the stack output SlackSigningSecretArn), not the secret: nothing to hide with NoEcho.',
  },
];

function at(stack: Stack, path: string): IConstruct {
  return path === '' ? stack : stack.node.findChild(path);
}

export function acknowledgeFindings(stack: Stack): void {
  for (const ack of ACKNOWLEDGEMENTS) {
    NagSuppressions.addResourceSuppressions(at(stack, ack.path), ack.suppressions, true);
  }
  for (const ack of CFN_VALIDATE) {
    Validations.of(at(stack, ack.path)).acknowledge({ id: ack.id, reason: ack.reason });
  }
}
