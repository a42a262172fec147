// The stack's CloudFormation parameters and conditions: the same names, types, defaults and
// constraints as infra/template.yaml's (test/parity.test.ts compares them), so that one set of
// values deploys either (`sam deploy --parameter-overrides Name=Value`, `cdk deploy --parameters
// Name=Value`). What each means: infra/README.md, "Parameters".
import { CfnCondition, CfnParameter, Fn, Stack } from 'aws-cdk-lib';

export interface Parameters {
  dryRun: CfnParameter;
  managedTagValue: CfnParameter;
  scaleUntaggedResources: CfnParameter;
  scalingResourceArns: CfnParameter;
  targetRoleArns: CfnParameter;
  policyParameterName: CfnParameter;
  policyParameterVersion: CfnParameter;
  alarmNamePrefix: CfnParameter;
  tickRate: CfnParameter;
  scheduleReservedConcurrency: CfnParameter;
  missedTickAlarmMinutes: CfnParameter;
  budgetTopicArn: CfnParameter;
  notificationEmail: CfnParameter;
  kmsKeyArn: CfnParameter;
  slackSigningSecretArn: CfnParameter;
  slackReservedConcurrency: CfnParameter;
  slackApiThrottlingBurstLimit: CfnParameter;
  slackApiThrottlingRateLimit: CfnParameter;
  memorySize: CfnParameter;
  reservedConcurrency: CfnParameter;
  budgetReservedConcurrency: CfnParameter;
  logRetentionDays: CfnParameter;
  logLevel: CfnParameter;
}

export interface Conditions {
  usePolicyLayer: CfnCondition;
  usePolicyParameter: CfnCondition;
  hasPolicyVersion: CfnCondition;
  hasManagedTag: CfnCondition;
  hasScalingResourceArns: CfnCondition;
  hasAlarmNamePrefix: CfnCondition;
  hasNotificationEmail: CfnCondition;
  hasKmsKey: CfnCondition;
  hasReservedConcurrency: CfnCondition;
  hasBudgetReservedConcurrency: CfnCondition;
  hasScheduleReservedConcurrency: CfnCondition;
  createBudgetTopic: CfnCondition;
  createSlackSigningSecret: CfnCondition;
  hasSlackReservedConcurrency: CfnCondition;
  hasTargetRoles: CfnCondition;
}

export function defineParameters(stack: Stack): Parameters {
  const p = (id: string, props: ConstructorParameters<typeof CfnParameter>[2]) => new CfnParameter(stack, id, props);
  return {
    dryRun: p('DryRun', {
      type: 'String',
      default: 'true',
      allowedValues: ['true', 'false'],
      description:
        'CAPSTAN_DRY_RUN. "true": decide and report every decision, change nothing, whatever the policy says. ' +
        'Deploy dry first; set "false" once the reported decisions are right.',
    }),
    managedTagValue: p('ManagedTagValue', {
      type: 'String',
      default: 'true',
      allowedPattern: '^[A-Za-z0-9 _.:/=+@-]{1,256}$',
      constraintDescription: 'must not be empty (to let Capstan change untagged resources, set ScaleUntaggedResources=true)',
      description:
        'The functions may change only the ECS services, their scalable targets and the Auto Scaling groups tagged ' +
        'capstan:managed with exactly this value (default capstan:managed=true); IAM denies the rest. Ignored when ' +
        'ScaleUntaggedResources is "true".',
    }),
    scaleUntaggedResources: p('ScaleUntaggedResources', {
      type: 'String',
      default: 'false',
      allowedValues: ['true', 'false'],
      description:
        'The opt-out of tag scoping. "false" (default): only resources tagged capstan:managed=<ManagedTagValue> can ' +
        'be changed. "true": every ECS service, scalable target and Auto Scaling group of this account and region ' +
        'can be (the policy alone decides which); not recommended.',
    }),
    scalingResourceArns: p('ScalingResourceArns', {
      type: 'CommaDelimitedList',
      default: '',
      description:
        'Narrows the scaling grants further, to the resources the policy names: the ECS service and Auto Scaling ' +
        'group ARNs that `capstan iam-resources POLICY --region R --account A` prints, comma-separated ' +
        '(arn:aws:ecs:R:A:service/CLUSTER/NAME, arn:aws:autoscaling:R:A:autoScalingGroup:*:autoScalingGroupName/NAME). ' +
        'UpdateService, SetDesiredCapacity and UpdateAutoScalingGroup are then allowed on exactly these (and still ' +
        'only when tagged); a target added to the policy needs a redeploy with its ARN. Empty (default): every ' +
        'service and group of this account and region, tag-scoped.',
    }),
    targetRoleArns: p('TargetRoleArns', {
      type: 'CommaDelimitedList',
      default: '',
      description:
        "The roles in other accounts that the policy's targets name (role_arn), comma-separated, e.g. " +
        'arn:aws:iam::222222222222:role/capstan-target (infra/spoke.yaml creates them). The functions may assume ' +
        'exactly these; empty: none, every target is in this account.',
    }),
    policyParameterName: p('PolicyParameterName', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^/[A-Za-z0-9_.\\-/]{1,1010}$',
      description:
        'Empty: the policy is infra/policy/capstan.toml, shipped as the PolicyLayer (CAPSTAN_POLICY=/opt/capstan.toml). ' +
        'Or the name of an SSM parameter holding the policy (e.g. /capstan/policy; starts with "/"): ' +
        'CAPSTAN_POLICY=ssm:/capstan/policy, no layer.',
    }),
    policyParameterVersion: p('PolicyParameterVersion', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^[1-9][0-9]{0,9}$',
      description:
        "With PolicyParameterName: the parameter's version the functions read (CAPSTAN_POLICY=ssm:NAME:VERSION), " +
        'so that a write to the parameter changes nothing until the stack is deployed with its new version ' +
        '(docs/operations.md). Empty: the latest, unpinned (the functions warn at start).',
    }),
    alarmNamePrefix: p('AlarmNamePrefix', {
      type: 'String',
      default: '',
      allowedPattern: '^[^*]{0,200}$',
      description:
        'Only alarms whose name starts with this reach alarm-handler (EventBridge rule and direct alarm actions). ' +
        "Empty: every alarm of the account and region but this stack's own.",
    }),
    tickRate: p('TickRate', {
      type: 'String',
      default: 'rate(5 minutes)',
      allowedPattern:
        '^rate\\(([5-9]|[1-9][0-9]+) minutes\\)$|^rate\\(1 hour\\)$|^rate\\(([2-9]|[1-9][0-9]+) hours\\)$',
      constraintDescription: 'must be rate(N minutes) with N >= 5, rate(1 hour) or rate(N hours)',
      description:
        'How often EventBridge Scheduler ticks schedule-handler (which then corrects every target to what the ' +
        'schedules say for that moment). At least rate(5 minutes).',
    }),
    scheduleReservedConcurrency: p('ScheduleReservedConcurrency', {
      type: 'Number',
      default: 1,
      allowedValues: ['-1', '0', '1'],
      description:
        'Reserved concurrent executions of schedule-handler. 1: ticks and hand-made requests run one at a time, ' +
        'never over each other. -1: none reserved (for accounts whose concurrency quota is too small to reserve any). ' +
        '0 stops the ticks (each goes to the dead-letter queue).',
    }),
    missedTickAlarmMinutes: p('MissedTickAlarmMinutes', {
      type: 'Number',
      default: 30,
      minValue: 10,
      maxValue: 1440,
      description:
        'The no-tick alarm fires when schedule-handler has not completed an invocation for this many minutes. ' +
        'Keep it at least twice the tick interval.',
    }),
    budgetTopicArn: p('BudgetTopicArn', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$',
      description:
        'Empty: the stack creates BudgetAlertsTopic, which AWS Budgets of this account may publish to. Or the ARN ' +
        'of an existing topic your budgets already notify (in this region; its policy must let budgets.amazonaws.com ' +
        'publish): budget-handler subscribes to that instead.',
    }),
    notificationEmail: p('NotificationEmail', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^[^@\\s]+@[^@\\s]+$',
      description: 'Optional e-mail address subscribed to the notification topic (confirm the e-mail AWS sends).',
    }),
    kmsKeyArn: p('KmsKeyArn', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$',
      description:
        'Optional customer-managed KMS key (ARN, in this region) for everything the stack keeps: the state table, ' +
        "the SNS topics, the SQS queues, the log groups and the functions' environment variables (replaces " +
        'TopicKmsKeyArn). Its key policy must let the services that write with it use it (infra/README.md, ' +
        'Encryption). Empty: AWS-owned or AWS-managed keys.',
    }),
    slackSigningSecretArn: p('SlackSigningSecretArn', {
      type: 'String',
      default: '',
      allowedPattern:
        '^$|^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$',
      constraintDescription: 'must be empty or the full ARN of a Secrets Manager secret (with its 6-character suffix)',
      description:
        'Empty: the stack creates the secret <stack>/slack-signing-secret (a random value until you put the Slack ' +
        "app's signing secret in it; infra/README.md). Or the full ARN of an existing secret (in this region) whose " +
        'string is the signing secret: slack-handler reads that one.',
    }),
    slackReservedConcurrency: p('SlackReservedConcurrency', {
      type: 'Number',
      default: -1,
      minValue: -1,
      maxValue: 1000,
      description:
        'Reserved concurrent executions of slack-handler. -1: none reserved. 0 turns Slack off (every /capstan gets ' +
        'an error; queued work waits). Otherwise at least 3: the work queue takes up to 2 executions, and ' +
        'acknowledgements need the rest.',
    }),
    slackApiThrottlingBurstLimit: p('SlackApiThrottlingBurstLimit', {
      type: 'Number',
      default: 20,
      minValue: 1,
      maxValue: 5000,
      description:
        "Burst limit (requests) of the Slack HTTP API's routes; past it, API Gateway answers 429 without invoking the function.",
    }),
    slackApiThrottlingRateLimit: p('SlackApiThrottlingRateLimit', {
      type: 'Number',
      default: 10,
      minValue: 1,
      maxValue: 10000,
      description: "Steady rate limit (requests per second) of the Slack HTTP API's routes.",
    }),
    memorySize: p('MemorySize', {
      type: 'Number',
      default: 256,
      minValue: 128,
      maxValue: 10240,
      description: 'Memory of each function, in MB (also buys CPU).',
    }),
    reservedConcurrency: p('ReservedConcurrency', {
      type: 'Number',
      default: -1,
      minValue: -1,
      maxValue: 1000,
      description:
        "Reserved concurrent executions of alarm-handler. -1: none reserved (the account's pool). 0 stops the " +
        'function (an off switch); a small number bounds parallel scaling calls.',
    }),
    budgetReservedConcurrency: p('BudgetReservedConcurrency', {
      type: 'Number',
      default: -1,
      minValue: -1,
      maxValue: 1000,
      description:
        "Reserved concurrent executions of budget-handler. -1: none reserved (the account's pool). 0 stops the " +
        'function (budget alerts wait an hour, then the dead-letter queue).',
    }),
    logRetentionDays: p('LogRetentionDays', {
      type: 'Number',
      default: 30,
      allowedValues: [
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
      ].map(String),
      description: "Days the functions' logs are kept.",
    }),
    logLevel: p('LogLevel', {
      type: 'String',
      default: 'INFO',
      // No TRACE (raw events) and no DEBUG (every crate's, unaudited): infra/README.md, Parameters.
      allowedValues: ['INFO', 'WARN', 'ERROR'],
      description:
        "The functions' log level: Lambda's application log level (AWS_LAMBDA_LOG_LEVEL, which the Rust runtime's " +
        'subscriber obeys before RUST_LOG) and RUST_LOG. INFO, WARN or ERROR only: no level that could print events ' +
        'or payloads.',
    }),
  };
}

export function defineConditions(stack: Stack, p: Parameters): Conditions {
  const c = (id: string, expression: ReturnType<typeof Fn.conditionEquals>) => new CfnCondition(stack, id, { expression });
  const empty = (param: CfnParameter) => Fn.conditionEquals(param.valueAsString, '');
  const set = (param: CfnParameter) => Fn.conditionNot(empty(param));
  const reserved = (param: CfnParameter) => Fn.conditionNot(Fn.conditionEquals(param.valueAsString, '-1'));
  const usePolicyLayer = c('UsePolicyLayer', empty(p.policyParameterName));
  return {
    usePolicyLayer,
    usePolicyParameter: c('UsePolicyParameter', Fn.conditionNot(usePolicyLayer)),
    hasPolicyVersion: c('HasPolicyVersion', set(p.policyParameterVersion)),
    hasManagedTag: c('HasManagedTag', Fn.conditionEquals(p.scaleUntaggedResources.valueAsString, 'false')),
    hasAlarmNamePrefix: c('HasAlarmNamePrefix', set(p.alarmNamePrefix)),
    hasNotificationEmail: c('HasNotificationEmail', set(p.notificationEmail)),
    hasKmsKey: c('HasKmsKey', set(p.kmsKeyArn)),
    hasReservedConcurrency: c('HasReservedConcurrency', reserved(p.reservedConcurrency)),
    hasBudgetReservedConcurrency: c('HasBudgetReservedConcurrency', reserved(p.budgetReservedConcurrency)),
    hasScheduleReservedConcurrency: c('HasScheduleReservedConcurrency', reserved(p.scheduleReservedConcurrency)),
    createBudgetTopic: c('CreateBudgetTopic', empty(p.budgetTopicArn)),
    createSlackSigningSecret: c('CreateSlackSigningSecret', empty(p.slackSigningSecretArn)),
    hasSlackReservedConcurrency: c('HasSlackReservedConcurrency', reserved(p.slackReservedConcurrency)),
    hasScalingResourceArns: c(
      'HasScalingResourceArns',
      Fn.conditionNot(Fn.conditionEquals(Fn.join('', p.scalingResourceArns.valueAsList), '')),
    ),
    hasTargetRoles: c('HasTargetRoles', Fn.conditionNot(Fn.conditionEquals(Fn.join('', p.targetRoleArns.valueAsList), ''))),
  };
}

/** The console's grouping of the parameters (AWS::CloudFormation::Interface), as in template.yaml. */
export const parameterGroups = [
  { Label: { default: 'Safety' }, Parameters: ['DryRun', 'ManagedTagValue', 'ScaleUntaggedResources', 'ScalingResourceArns'] },
  { Label: { default: 'Targets in other accounts' }, Parameters: ['TargetRoleArns'] },
  { Label: { default: 'Policy' }, Parameters: ['PolicyParameterName', 'PolicyParameterVersion'] },
  { Label: { default: 'Alarms in' }, Parameters: ['AlarmNamePrefix'] },
  { Label: { default: 'Schedule' }, Parameters: ['TickRate', 'ScheduleReservedConcurrency', 'MissedTickAlarmMinutes'] },
  { Label: { default: 'Budgets' }, Parameters: ['BudgetTopicArn'] },
  { Label: { default: 'Notifications out' }, Parameters: ['NotificationEmail'] },
  { Label: { default: 'Encryption' }, Parameters: ['KmsKeyArn'] },
  {
    Label: { default: 'Slack' },
    Parameters: [
      'SlackSigningSecretArn',
      'SlackReservedConcurrency',
      'SlackApiThrottlingBurstLimit',
      'SlackApiThrottlingRateLimit',
    ],
  },
  {
    Label: { default: 'Functions' },
    Parameters: ['MemorySize', 'ReservedConcurrency', 'BudgetReservedConcurrency', 'LogRetentionDays', 'LogLevel'],
  },
];
