// The checkov checks that do not apply to this stack, skipped on the one resource each is about
// with its reason (checkov reads `Metadata: checkov: skip: [{id, comment}]` on a resource), word
// for word as in infra/template.yaml: test/checkov.test.ts compares them, and scripts/check-cdk.sh
// runs checkov over the synthesized template, as scripts/check-infra.sh does over the SAM one.
import { CfnResource, Stack } from 'aws-cdk-lib';

export interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

const NO_VPC: CheckovSkip = {
  id: 'CKV_AWS_117',
  comment:
    "No VPC on purpose - the function calls only AWS APIs (ECS, Auto Scaling, DynamoDB, SNS, SQS, STS, SSM, Secrets Manager) over HTTPS with SigV4, and Slack's response_url; it serves nothing and reaches no private network. A VPC would add NAT or endpoints and no protection.",
};

const ASYNC_DLQ: CheckovSkip = {
  id: 'CKV_AWS_116',
  comment:
    "Its failed asynchronous invocations go to DeadLetterQueue through EventInvokeConfig's on-failure destination (the successor of DeadLetterConfig, with the request and error context), and DeadLettersAlarm calls a person; checkov reads only DeadLetterQueue/DeadLetterConfig.",
};

const SLACK_DLQ: CheckovSkip = {
  id: 'CKV_AWS_116',
  comment:
    "Never invoked asynchronously - API Gateway invokes it synchronously (Slack gets the error) and its SQS event source mapping's failures go to SlackDeadLetterQueue through SlackQueue's redrive policy (SlackDeadLettersAlarm); a Lambda dead-letter queue would never receive anything.",
};

/** Logical ID -> the checks skipped on it. */
export const CHECKOV_SKIPS: Record<string, CheckovSkip[]> = {
  AlarmHandlerFunction: [NO_VPC, ASYNC_DLQ],
  ScheduleHandlerFunction: [NO_VPC, ASYNC_DLQ],
  BudgetHandlerFunction: [NO_VPC, ASYNC_DLQ],
  SlackHandlerFunction: [NO_VPC, SLACK_DLQ],
  SlackSigningSecret: [
    {
      id: 'CKV_AWS_149',
      comment:
        "aws/secretsmanager is enough for a value only slack-handler's role may read; a secret under your own key is an option (SlackSigningSecretArn).",
    },
  ],
};

/** Puts each resource's skips in its metadata (every resource named must exist). */
export function skipCheckov(stack: Stack): void {
  const byId = new Map<string, CfnResource>();
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnResource) byId.set(stack.resolve(c.logicalId) as string, c);
  }
  for (const [id, skip] of Object.entries(CHECKOV_SKIPS)) {
    const res = byId.get(id);
    if (!res) throw new Error(`checkov skip on ${id}: no such resource`);
    res.addMetadata('checkov', { skip });
  }
}
