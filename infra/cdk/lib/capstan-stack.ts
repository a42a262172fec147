// Capstan's stack in CDK: the same resources as infra/template.yaml (SAM), with the same
// CloudFormation logical IDs as SAM's transform gives them, the same parameters and conditions,
// and the same IAM. The functions are RustFunction (cargo-lambda-cdk): `cargo lambda build
// --release --arm64 --bin <name>` of the workspace package functions/<name>, as `sam build` does.
//
// Constructs: L2 where CDK's construct renders what SAM renders (functions, queues, topics, the
// table, log groups, the secret, metric alarms, the queue's event source mapping, async invoke
// configs), L1 where the template needs what L2 cannot say (statements and properties under
// `Fn::If`, the HTTP API as SAM defines it: an OpenAPI body with exactly two routes). Every L2
// that would grant IAM by itself gets an immutable view of its role, so that the roles hold
// exactly the statements written in lib/iam.ts and nothing CDK adds on its own.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Aws, CfnCondition, CfnOutput, CfnResource, Duration, Fn, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct, IConstruct } from 'constructs';
import { skipCheckov } from './checkov';
import { conditionalPolicies, functionPolicy, functionRole } from './iam';
import { acknowledgeFindings } from './nag';
import { Conditions, Parameters, defineConditions, defineParameters, parameterGroups } from './parameters';

/** The repository root (infra/cdk/lib or infra/cdk/dist/lib, up to the workspace). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'Cargo.lock'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no Cargo workspace above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export interface CapstanStackProps extends StackProps {
  /** The repository root; default: found from this file. */
  readonly repoRoot?: string;
  /** Acknowledge the cdk-nag findings of lib/nag.ts (default true; false shows them all). */
  readonly acknowledgeFindings?: boolean;
}

/** The logical ID SAM gives the resource, on the construct's CloudFormation resource. */
function logicalId<T extends IConstruct>(construct: T, id: string): T {
  const cfn = (construct.node.defaultChild ?? construct) as CfnResource;
  cfn.overrideLogicalId(id);
  return construct;
}

function cfnOf(construct: IConstruct): CfnResource {
  return (construct.node.defaultChild ?? construct) as CfnResource;
}

const sub = (s: string) => Fn.sub(s);

export class CapstanStack extends Stack {
  readonly params: Parameters;
  readonly conds: Conditions;
  readonly functions: Record<string, RustFunction> = {};
  /** Each function's logical ID -> the workspace binary it runs (SAM's BuildProperties.Binary). */
  readonly binaries: Record<string, string> = {};

  constructor(scope: Construct, id: string, props: CapstanStackProps = {}) {
    super(scope, id, {
      description:
        'Capstan: scaling runbooks as Rust Lambda functions. CloudWatch alarm state changes (alarm-handler), a ' +
        'schedule tick and explicit schedule requests (schedule-handler), AWS Budgets alerts (budget-handler) and ' +
        "people's /capstan commands from Slack (slack-handler, behind an HTTP API, with its work queue) drive ECS " +
        'services and EC2 Auto Scaling groups within the bounds of the policy. See infra/README.md.',
      ...props,
    });
    const root = props.repoRoot ?? repoRoot();
    this.templateOptions.metadata = { 'AWS::CloudFormation::Interface': { ParameterGroups: parameterGroups } };
    const p = (this.params = defineParameters(this));
    const c = (this.conds = defineConditions(this, p));
    const ifCond = (cond: CfnCondition, yes: unknown, no: unknown) => Fn.conditionIf(cond.logicalId, yes, no);
    // The stack's key (KmsKeyArn) where it is set, else nothing (AWS-owned or AWS-managed keys).
    const kmsKey = ifCond(c.hasKmsKey, p.kmsKeyArn.valueAsString, Aws.NO_VALUE);
    const withCondition = <T extends IConstruct>(construct: T, cond: CfnCondition) => {
      cfnOf(construct).cfnOptions.condition = cond;
      return construct;
    };

    // ---------------------------------------------------------------------------------------
    // State, topics, queues.
    // ---------------------------------------------------------------------------------------
    const table = logicalId(
      new dynamodb.Table(this, 'StateTable', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: 'expires_at',
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        deletionProtection: true,
        // The record of every action: kept when the stack is deleted or the table replaced.
        removalPolicy: RemovalPolicy.RETAIN,
      }),
      'StateTable',
    );
    // KmsKeyArn, else the AWS-managed key aws/dynamodb.
    cfnOf(table).addPropertyOverride('SSESpecification.SSEType', 'KMS');
    cfnOf(table).addPropertyOverride('SSESpecification.KMSMasterKeyId', kmsKey);

    const topic = (id: string, displayName: string) => {
      const t = logicalId(new sns.Topic(this, id, { displayName }), id);
      (cfnOf(t) as sns.CfnTopic).kmsMasterKeyId = Token.asString(kmsKey);
      return t;
    };
    const notificationTopic = topic('NotificationTopic', 'Capstan');
    const alarmTopic = topic('AlarmTopic', 'Capstan alarms');
    const budgetAlertsTopic = withCondition(topic('BudgetAlertsTopic', 'Capstan budget alerts'), c.createBudgetTopic);
    // The budget topic in use: the stack's, or the one BudgetTopicArn names.
    const budgetTopicArn = Token.asString(
      ifCond(c.createBudgetTopic, budgetAlertsTopic.topicArn, p.budgetTopicArn.valueAsString),
    );

    withCondition(
      new sns.CfnSubscription(this, 'NotificationEmailSubscription', {
        topicArn: notificationTopic.topicArn,
        protocol: 'email',
        endpoint: p.notificationEmail.valueAsString,
      }),
      c.hasNotificationEmail,
    );

    // AWS Budgets publishes as budgets.amazonaws.com, for budgets of this account only.
    withCondition(
      new sns.CfnTopicPolicy(this, 'BudgetAlertsTopicPolicy', {
        topics: [budgetAlertsTopic.topicArn],
        policyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AwsBudgetsPublish',
              Effect: 'Allow',
              Principal: { Service: 'budgets.amazonaws.com' },
              Action: 'SNS:Publish',
              Resource: budgetAlertsTopic.topicArn,
              Condition: {
                StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
                ArnLike: { 'aws:SourceArn': sub('arn:${AWS::Partition}:budgets::${AWS::AccountId}:*') },
              },
            },
          ],
        },
      }),
      c.createBudgetTopic,
    );

    // KmsKeyArn, else SQS's own key (SSE-SQS).
    const queueKey = <T extends sqs.Queue>(q: T) => {
      cfnOf(q).addPropertyOverride('SqsManagedSseEnabled', ifCond(c.hasKmsKey, Aws.NO_VALUE, true));
      cfnOf(q).addPropertyOverride('KmsMasterKeyId', kmsKey);
      return q;
    };

    const tlsOnly = (resources: unknown) => ({
      Sid: 'TlsOnly',
      Effect: 'Deny',
      Principal: '*',
      Action: 'sqs:*',
      Resource: resources,
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });

    // One dead-letter queue for every path: Lambda's on-failure destination, the EventBridge
    // rule, the Scheduler schedule and the SNS subscriptions.
    const deadLetterQueue = queueKey(logicalId(
      new sqs.Queue(this, 'DeadLetterQueue', {
        retentionPeriod: Duration.days(14),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
      }),
      'DeadLetterQueue',
    ));
    new sqs.CfnQueuePolicy(this, 'DeadLetterQueuePolicy', {
      queues: [deadLetterQueue.queueUrl],
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'EventBridgeRule',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: deadLetterQueue.queueArn,
            Condition: {
              ArnEquals: {
                'aws:SourceArn': sub(
                  'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}-alarm-state-change',
                ),
              },
            },
          },
          {
            Sid: 'TopicSubscriptions',
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: deadLetterQueue.queueArn,
            Condition: { ArnEquals: { 'aws:SourceArn': [alarmTopic.topicArn, budgetTopicArn] } },
          },
          tlsOnly(deadLetterQueue.queueArn),
        ],
      },
    });

    // slack-handler's work queue and its dead letters.
    const slackDeadLetterQueue = queueKey(logicalId(
      new sqs.Queue(this, 'SlackDeadLetterQueue', {
        retentionPeriod: Duration.days(14),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
      }),
      'SlackDeadLetterQueue',
    ));
    const slackQueue = queueKey(logicalId(
      new sqs.Queue(this, 'SlackQueue', {
        visibilityTimeout: Duration.seconds(180),
        retentionPeriod: Duration.hours(1),
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        deadLetterQueue: { queue: slackDeadLetterQueue, maxReceiveCount: 5 },
      }),
      'SlackQueue',
    ));
    new sqs.CfnQueuePolicy(this, 'SlackQueuePolicy', {
      queues: [slackQueue.queueUrl, slackDeadLetterQueue.queueUrl],
      policyDocument: {
        Version: '2012-10-17',
        Statement: [tlsOnly([slackQueue.queueArn, slackDeadLetterQueue.queueArn])],
      },
    });

    // The Slack app's signing secret: a random value until the operator puts the real one in.
    const slackSigningSecret = withCondition(
      logicalId(
        new secretsmanager.Secret(this, 'SlackSigningSecret', {
          secretName: sub('${AWS::StackName}/slack-signing-secret'),
          description: sub(
            'Signing secret of the Slack app of Capstan stack ${AWS::StackName} (Basic Information, App Credentials); slack-handler verifies every request with it',
          ),
          generateSecretString: { passwordLength: 32, excludePunctuation: true },
        }),
        'SlackSigningSecret',
      ),
      c.createSlackSigningSecret,
    );
    // The secret's Ref is its ARN, as in template.yaml.
    const signingSecretArn = Token.asString(
      ifCond(c.createSlackSigningSecret, slackSigningSecret.secretArn, p.slackSigningSecretArn.valueAsString),
    );

    // ---------------------------------------------------------------------------------------
    // The policy layer and the shared managed policy.
    // ---------------------------------------------------------------------------------------
    const policyLayer = withCondition(
      logicalId(
        new lambda.LayerVersion(this, 'PolicyLayer', {
          layerVersionName: sub('${AWS::StackName}-policy'),
          description: 'Capstan policy file (capstan.toml, at /opt/capstan.toml)',
          code: lambda.Code.fromAsset(path.join(root, 'infra', 'policy')),
          compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
          compatibleArchitectures: [lambda.Architecture.ARM_64],
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        'PolicyLayer',
      ),
      c.usePolicyLayer,
    );

    const managedPolicy = functionPolicy(this, p, c, {
      stateTableArn: table.tableArn,
      notificationTopicArn: notificationTopic.topicArn,
      deadLetterQueueArn: deadLetterQueue.queueArn,
    });
    const conditional = conditionalPolicies(this, p, c);

    // ---------------------------------------------------------------------------------------
    // The functions.
    // ---------------------------------------------------------------------------------------
    const roles: Record<string, iam.CfnRole> = {};
    const rustFunction = (spec: {
      id: string;
      binary: string;
      description: string;
      timeout?: number;
      reserved?: [Conditions[keyof Conditions], Parameters[keyof Parameters]];
      environment?: Record<string, string>;
      extraPolicies?: iam.CfnRole.PolicyProperty[];
    }) => {
      const logGroup = logicalId(
        new logs.LogGroup(this, `${spec.id}LogGroup`, {
          logGroupName: sub(`/aws/lambda/\${AWS::StackName}-${spec.binary}`),
          retention: p.logRetentionDays.valueAsNumber as logs.RetentionDays,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        `${spec.id}LogGroup`,
      );
      cfnOf(logGroup).addPropertyOverride('KmsKeyId', kmsKey);
      const role = functionRole(this, `${spec.id}Role`, spec.binary, managedPolicy, conditional, logGroup.logGroupArn, spec.extraPolicies);
      roles[spec.id] = role;
      const fn = new RustFunction(this, `${spec.id}Function`, {
        manifestPath: path.join(root, 'functions', spec.binary, 'Cargo.toml'),
        binaryName: spec.binary,
        architecture: lambda.Architecture.ARM_64,
        functionName: sub(`\${AWS::StackName}-${spec.binary}`),
        description: spec.description,
        // Immutable: CDK's own grants (destinations, event sources) add nothing to the role.
        role: iam.Role.fromRoleArn(this, `${spec.id}RoleRef`, role.attrArn, { mutable: false }),
        timeout: Duration.seconds(spec.timeout ?? 30),
        memorySize: p.memorySize.valueAsNumber,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        environment: {
          CAPSTAN_POLICY: Token.asString(
            ifCond(
              c.usePolicyLayer,
              '/opt/capstan.toml',
              ifCond(
                c.hasPolicyVersion,
                sub('ssm:${PolicyParameterName}:${PolicyParameterVersion}'),
                sub('ssm:${PolicyParameterName}'),
              ),
            ),
          ),
          CAPSTAN_TABLE: table.tableName,
          CAPSTAN_TOPIC_ARN: notificationTopic.topicArn,
          CAPSTAN_DRY_RUN: p.dryRun.valueAsString,
          // The functions warn at start about a target of the policy this list leaves out.
          CAPSTAN_SCALING_RESOURCE_ARNS: Fn.join(',', p.scalingResourceArns.valueAsList),
          RUST_LOG: p.logLevel.valueAsString,
          ...spec.environment,
        },
      });
      logicalId(fn, `${spec.id}Function`);
      const cfn = cfnOf(fn) as lambda.CfnFunction;
      cfn.addPropertyOverride('LoggingConfig.ApplicationLogLevel', p.logLevel.valueAsString);
      // The environment variables at rest: KmsKeyArn, else Lambda's AWS-managed key.
      cfn.addPropertyOverride('KmsKeyArn', kmsKey);
      cfn.addPropertyOverride('Layers', ifCond(c.usePolicyLayer, [policyLayer.layerVersionArn], Aws.NO_VALUE));
      if (spec.reserved) {
        const [cond, param] = spec.reserved;
        cfn.addPropertyOverride('ReservedConcurrentExecutions', ifCond(cond, param.valueAsNumber, Aws.NO_VALUE));
      }
      this.functions[spec.binary] = fn;
      this.binaries[`${spec.id}Function`] = spec.binary;
      return fn;
    };

    const asyncInvoke = (fn: RustFunction, id: string, maxEventAgeSeconds: number) =>
      logicalId(
        new lambda.EventInvokeConfig(this, id, {
          function: fn,
          qualifier: '$LATEST',
          retryAttempts: 2,
          maxEventAge: Duration.seconds(maxEventAgeSeconds),
          onFailure: new destinations.SqsDestination(deadLetterQueue),
        }),
        id,
      );

    const permission = (fn: RustFunction, id: string, props: lambda.Permission) => {
      fn.addPermission(id, props);
      const perm = fn.permissionsNode.findChild(id) as lambda.CfnPermission;
      perm.overrideLogicalId(id);
      return perm;
    };

    const snsSubscription = (fn: RustFunction, id: string, topicArn: string) => {
      new sns.CfnSubscription(this, id, {
        endpoint: fn.functionArn,
        protocol: 'lambda',
        topicArn,
        redrivePolicy: { deadLetterTargetArn: deadLetterQueue.queueArn },
      });
      permission(fn, `${id}Permission`, {
        principal: new iam.ServicePrincipal('sns.amazonaws.com'),
        sourceArn: topicArn,
      });
    };

    // alarm-handler: one CloudWatch alarm state change in, decisions carried out.
    const alarmHandler = rustFunction({
      id: 'AlarmHandler',
      binary: 'alarm-handler',
      description: 'Capstan alarm-handler - CloudWatch alarm state changes drive scaling by the policy',
      reserved: [c.hasReservedConcurrency, p.reservedConcurrency],
      environment: { CAPSTAN_SNS_TOPIC_ARNS: alarmTopic.topicArn },
    });
    asyncInvoke(alarmHandler, 'AlarmHandlerFunctionEventInvokeConfig', 900);
    // 1. Every alarm's state change through EventBridge.
    const alarmRule = new events.CfnRule(this, 'AlarmHandlerFunctionAlarmStateChange', {
      name: sub('${AWS::StackName}-alarm-state-change'),
      eventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: {
          alarmName: ifCond(
            c.hasAlarmNamePrefix,
            [{ prefix: p.alarmNamePrefix.valueAsString }],
            // This stack's own alarms ("<stack>-health-...") notify people; they scale nothing.
            [{ 'anything-but': { prefix: sub('${AWS::StackName}-health-') } }],
          ),
        },
      },
      targets: [
        {
          id: 'AlarmHandlerFunctionAlarmStateChangeLambdaTarget',
          arn: alarmHandler.functionArn,
          deadLetterConfig: { arn: deadLetterQueue.queueArn },
          retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 900 },
        },
      ],
    });
    permission(alarmHandler, 'AlarmHandlerFunctionAlarmStateChangePermission', {
      principal: new iam.ServicePrincipal('events.amazonaws.com'),
      sourceArn: alarmRule.attrArn,
    });
    // 2. An alarm's own Lambda action, for alarms of this account (and prefix).
    permission(alarmHandler, 'AlarmHandlerAlarmActionPermission', {
      principal: new iam.ServicePrincipal('lambda.alarms.cloudwatch.amazonaws.com'),
      sourceAccount: Aws.ACCOUNT_ID,
      sourceArn: sub('arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AlarmNamePrefix}*'),
    });
    // 3. Alarms that publish to the AlarmTopic.
    snsSubscription(alarmHandler, 'AlarmHandlerFunctionAlarmTopic', alarmTopic.topicArn);

    // schedule-handler: the tick and requests by hand.
    const scheduleHandler = rustFunction({
      id: 'ScheduleHandler',
      binary: 'schedule-handler',
      description: 'Capstan schedule-handler - schedule ticks and requests drive scaling by the policy',
      timeout: 60,
      reserved: [c.hasScheduleReservedConcurrency, p.scheduleReservedConcurrency],
    });
    asyncInvoke(scheduleHandler, 'ScheduleHandlerFunctionEventInvokeConfig', 240);
    // The schedule's role (template.yaml writes it out rather than let SAM make it): invoke the
    // function, send to the dead-letter queue, and with KmsKeyArn use the key through SQS.
    const tickRole = new iam.CfnRole(this, 'ScheduleHandlerFunctionTickRole', {
      assumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Action: ['sts:AssumeRole'], Effect: 'Allow', Principal: { Service: ['scheduler.amazonaws.com'] } },
        ],
      },
      policies: [
        {
          policyName: 'ScheduleHandlerFunctionTickLambdaPolicy',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: scheduleHandler.functionArn }],
          },
        },
        {
          policyName: 'ScheduleHandlerFunctionTickSQSPolicy',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [{ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: deadLetterQueue.queueArn }],
          },
        },
      ],
    });
    // With KmsKeyArn: the queue's key, through SQS only; a policy of its own under the condition
    // (as template.yaml's), so that checkov and cdk-nag still evaluate the role's statements.
    const tickKeyPolicy = new iam.CfnPolicy(this, 'ScheduleHandlerFunctionTickKeyPolicy', {
      policyName: 'ScheduleHandlerFunctionTickKeyPolicy',
      roles: [tickRole.ref],
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
            Effect: 'Allow',
            Resource: p.kmsKeyArn.valueAsString,
            Condition: { StringEquals: { 'kms:ViaService': sub('sqs.${AWS::Region}.${AWS::URLSuffix}') } },
          },
        ],
      },
    });
    tickKeyPolicy.cfnOptions.condition = c.hasKmsKey;
    new scheduler.CfnSchedule(this, 'ScheduleHandlerFunctionTick', {
      name: sub('${AWS::StackName}-tick'),
      description: sub('Capstan schedule tick of stack ${AWS::StackName}'),
      scheduleExpression: p.tickRate.valueAsString,
      flexibleTimeWindow: { mode: 'OFF' },
      target: {
        arn: scheduleHandler.functionArn,
        roleArn: tickRole.attrArn,
        // The handler decides for the scheduled time, not the clock.
        input: '{"action": "tick", "scheduled_time": "<aws.scheduler.scheduled-time>"}',
        deadLetterConfig: { arn: deadLetterQueue.queueArn },
        retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 60 },
      },
    });

    // budget-handler: AWS Budgets notifications through SNS.
    const budgetHandler = rustFunction({
      id: 'BudgetHandler',
      binary: 'budget-handler',
      description: 'Capstan budget-handler - AWS Budgets alerts notify, and cap capacity by the policy',
      reserved: [c.hasBudgetReservedConcurrency, p.budgetReservedConcurrency],
      environment: { CAPSTAN_SNS_TOPIC_ARNS: budgetTopicArn },
    });
    asyncInvoke(budgetHandler, 'BudgetHandlerFunctionEventInvokeConfig', 3600);
    snsSubscription(budgetHandler, 'BudgetHandlerFunctionBudgetAlerts', budgetTopicArn);

    // slack-handler: /capstan from Slack, acknowledged inline, carried out from its queue.
    const slackHandler = rustFunction({
      id: 'SlackHandler',
      binary: 'slack-handler',
      description:
        'Capstan slack-handler - /capstan commands from Slack, acknowledged inline and carried out from its queue',
      reserved: [c.hasSlackReservedConcurrency, p.slackReservedConcurrency],
      environment: {
        CAPSTAN_SLACK_SIGNING_SECRET: Token.asString(
          ifCond(
            c.createSlackSigningSecret,
            sub('secretsmanager:${AWS::StackName}/slack-signing-secret'),
            sub('secretsmanager:${SlackSigningSecretArn}'),
          ),
        ),
        CAPSTAN_SLACK_QUEUE_URL: slackQueue.queueUrl,
      },
      extraPolicies: [
        {
          policyName: 'slack',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                // The function sends jobs; the event source mapping (this role) receives them,
                // reads the queue's attributes and deletes what was done.
                Sid: 'WorkQueue',
                Effect: 'Allow',
                Action: ['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
                Resource: slackQueue.queueArn,
              },
              { Sid: 'SigningSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: signingSecretArn },
            ],
          },
        },
      ],
    });
    logicalId(
      new lambda.EventSourceMapping(this, 'SlackHandlerFunctionWork', {
        target: slackHandler,
        eventSourceArn: slackQueue.queueArn,
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: 2,
      }),
      'SlackHandlerFunctionWork',
    );

    // The HTTP API Slack calls, as SAM's AWS::Serverless::HttpApi renders it: an OpenAPI body
    // with exactly the two routes (no $default route, no authorizer: Slack signs each request and
    // the function verifies it first), the $default stage auto-deployed, throttled, access-logged.
    const integration = {
      'x-amazon-apigateway-integration': {
        payloadFormatVersion: '2.0',
        type: 'aws_proxy',
        uri: sub(
          'arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${SlackHandlerFunction.Arn}/invocations',
        ),
        httpMethod: 'POST',
        timeoutInMillis: 3000,
      },
      responses: {},
    };
    const slackApi = new apigwv2.CfnApi(this, 'SlackApi', {
      body: {
        openapi: '3.0.1',
        info: {
          version: '1.0',
          title: Aws.STACK_NAME,
          description: sub(
            'Capstan stack ${AWS::StackName} - Slack slash commands and interactions (signed by Slack, verified by slack-handler)',
          ),
        },
        paths: { '/slack/commands': { post: integration }, '/slack/interactions': { post: integration } },
      },
      failOnWarnings: true,
    });
    const accessLogGroup = logicalId(
      new logs.LogGroup(this, 'SlackApiAccessLogGroup', {
        logGroupName: sub('/aws/vendedlogs/${AWS::StackName}-slack-api'),
        retention: p.logRetentionDays.valueAsNumber as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      'SlackApiAccessLogGroup',
    );
    cfnOf(accessLogGroup).addPropertyOverride('KmsKeyId', kmsKey);
    new apigwv2.CfnStage(this, 'SlackApiApiGatewayDefaultStage', {
      apiId: slackApi.ref,
      stageName: '$default',
      autoDeploy: true,
      defaultRouteSettings: {
        throttlingBurstLimit: p.slackApiThrottlingBurstLimit.valueAsNumber,
        throttlingRateLimit: p.slackApiThrottlingRateLimit.valueAsNumber,
      },
      // One JSON object per request; never a body or a header (Slack's signature, the
      // response_url and the command).
      accessLogSettings: {
        destinationArn: accessLogGroup.logGroupArn,
        format: JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          requestTime: '$context.requestTime',
          httpMethod: '$context.httpMethod',
          routeKey: '$context.routeKey',
          status: '$context.status',
          protocol: '$context.protocol',
          responseLength: '$context.responseLength',
          responseLatency: '$context.responseLatency',
          integrationLatency: '$context.integrationLatency',
          integrationStatus: '$context.integrationStatus',
          integrationError: '$context.integrationErrorMessage',
          error: '$context.error.message',
          errorType: '$context.error.responseType',
        }),
      },
    });
    for (const [event, route] of [
      ['Commands', 'commands'],
      ['Interactions', 'interactions'],
    ]) {
      permission(slackHandler, `SlackHandlerFunction${event}Permission`, {
        principal: new iam.ServicePrincipal('apigateway.amazonaws.com'),
        sourceArn: Fn.sub(
          'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/${__Stage__}/POST/slack/' +
            route,
          { __ApiId__: slackApi.ref, __Stage__: '*' },
        ),
      });
    }

    // ---------------------------------------------------------------------------------------
    // Alarms on Capstan itself, named <stack>-health-* (which the EventBridge rule leaves out),
    // to the notification topic.
    // ---------------------------------------------------------------------------------------
    const notify = new cwActions.SnsAction(notificationTopic);
    const alarm = (
      id: string,
      name: string,
      description: string,
      metric: cloudwatch.IMetric,
      opts: Partial<cloudwatch.AlarmProps> = {},
    ) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmName: sub(`\${AWS::StackName}-health-${name}`),
        alarmDescription: description,
        metric,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...opts,
      });
      a.addAlarmAction(notify);
      a.addOkAction(notify);
      return logicalId(a, id);
    };
    const minute = Duration.minutes(1);
    const lambdaMetric = (fn: lambda.IFunction, metricName: string, period = minute) =>
      fn.metric(metricName, { statistic: 'Sum', period });

    alarm(
      'AlarmHandlerErrorsAlarm',
      'alarm-handler-errors',
      'Capstan alarm-handler failed an invocation (see its log group); Lambda retries twice, then the dead-letter queue.',
      lambdaMetric(alarmHandler, 'Errors'),
    );
    alarm(
      'AlarmHandlerThrottlesAlarm',
      'alarm-handler-throttles',
      'Capstan alarm-handler was throttled (reserved concurrency or the account limit); alarms wait, and after 15 minutes go to the dead-letter queue.',
      lambdaMetric(alarmHandler, 'Throttles'),
    );
    alarm(
      'ScheduleHandlerErrorsAlarm',
      'schedule-handler-errors',
      'Capstan schedule-handler failed a tick or a request (see its log group); a tick is retried twice, and the next tick corrects what this one missed.',
      lambdaMetric(scheduleHandler, 'Errors'),
    );
    // A request by hand during a tick is throttled once by design: only two 5-minute windows
    // in a row are worth a person's attention.
    alarm(
      'ScheduleHandlerThrottlesAlarm',
      'schedule-handler-throttles',
      'Capstan schedule-handler has been throttled for 10 minutes (reserved concurrency 0, or the account limit); ticks are not running.',
      lambdaMetric(scheduleHandler, 'Throttles', Duration.minutes(5)),
      { evaluationPeriods: 2, datapointsToAlarm: 2 },
    );
    // No tick succeeded for MissedTickAlarmMinutes: per minute, invocations minus errors; a
    // minute without any is missing data, counted as breaching.
    const noTickMetric = (metricName: string): cloudwatch.CfnAlarm.MetricStatProperty => ({
      metric: {
        namespace: 'AWS/Lambda',
        metricName,
        dimensions: [{ name: 'FunctionName', value: scheduleHandler.functionName }],
      },
      period: 60,
      stat: 'Sum',
    });
    new cloudwatch.CfnAlarm(this, 'ScheduleHandlerNoTickAlarm', {
      alarmName: sub('${AWS::StackName}-health-schedule-handler-no-tick'),
      alarmDescription: sub(
        "Capstan schedule-handler has not completed a tick for ${MissedTickAlarmMinutes} minutes; schedules are not being applied. Check the schedule ${AWS::StackName}-tick and the function's log group.",
      ),
      metrics: [
        {
          id: 'succeeded',
          label: 'Successful invocations',
          expression: 'invocations - FILL(errors, 0)',
          returnData: true,
        },
        { id: 'invocations', returnData: false, metricStat: noTickMetric('Invocations') },
        { id: 'errors', returnData: false, metricStat: noTickMetric('Errors') },
      ],
      evaluationPeriods: p.missedTickAlarmMinutes.valueAsNumber,
      datapointsToAlarm: p.missedTickAlarmMinutes.valueAsNumber,
      threshold: 1,
      comparisonOperator: 'LessThanThreshold',
      treatMissingData: 'breaching',
      alarmActions: [notificationTopic.topicArn],
      okActions: [notificationTopic.topicArn],
    });
    alarm(
      'BudgetHandlerErrorsAlarm',
      'budget-handler-errors',
      'Capstan budget-handler failed an invocation (see its log group), e.g. a message on the budget topic that is not a budget notification; Lambda retries twice, then the dead-letter queue.',
      lambdaMetric(budgetHandler, 'Errors'),
    );
    alarm(
      'BudgetHandlerThrottlesAlarm',
      'budget-handler-throttles',
      'Capstan budget-handler was throttled (the account limit); budget alerts wait, and after an hour go to the dead-letter queue.',
      lambdaMetric(budgetHandler, 'Throttles'),
    );
    // Capstan's own metrics (EMF, namespace Capstan, summed over all targets).
    const capstanMetric = (metricName: string) =>
      new cloudwatch.Metric({ namespace: 'Capstan', metricName, statistic: 'Sum', period: Duration.minutes(5) });
    alarm(
      'CapstanFailuresAlarm',
      'failures',
      'Capstan could not carry out a decision (AWS refused a change, a resource is missing or unreadable, or a change waits for a retry); the notifications and `capstan status` say which target and why.',
      capstanMetric('Failures'),
    );
    alarm(
      'CapstanNotifyFailuresAlarm',
      'notify-failures',
      'Capstan could not publish a notification (a change or suppression was not announced); a transient failure is published again by the retry, a permanent one is recorded in the target\'s last_error (`capstan status`).',
      capstanMetric('NotifyFailures'),
    );
    const queueMetric = (queue: sqs.IQueue, metricName: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/SQS',
        metricName,
        dimensionsMap: { QueueName: queue.queueName },
        statistic: 'Maximum',
        period: minute,
      });
    alarm(
      'DeadLettersAlarm',
      'dead-letters',
      'An alarm, tick or budget alert Capstan should have handled is in the dead-letter queue; read it, act by hand if needed, then purge.',
      queueMetric(deadLetterQueue, 'ApproximateNumberOfMessagesVisible'),
    );
    alarm(
      'SlackHandlerErrorsAlarm',
      'slack-handler-errors',
      'Capstan slack-handler failed an invocation (see its log group); a Slack request got an error, or a queued job is retried and after 5 receives goes to the Slack dead-letter queue.',
      lambdaMetric(slackHandler, 'Errors'),
    );
    alarm(
      'SlackHandlerThrottlesAlarm',
      'slack-handler-throttles',
      'Capstan slack-handler was throttled (SlackReservedConcurrency or the account limit); /capstan answered with an error, or queued jobs wait.',
      lambdaMetric(slackHandler, 'Throttles'),
    );
    alarm(
      'SlackApiServerErrorsAlarm',
      'slack-api-5xx',
      "The Slack HTTP API answered 5xx (slack-handler failed, was throttled, or missed Slack's 3-second deadline); see the API's access log (integrationError) and slack-handler's log group.",
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName: '5xx',
        dimensionsMap: { ApiId: slackApi.ref },
        statistic: 'Sum',
        period: minute,
      }),
    );
    alarm(
      'SlackQueueAgeAlarm',
      'slack-queue-age',
      "A Slack job has waited over 5 minutes in slack-handler's work queue (failing and retried, or not polled); the person who asked has no answer yet.",
      queueMetric(slackQueue, 'ApproximateAgeOfOldestMessage'),
      { threshold: 300 },
    );
    alarm(
      'SlackDeadLettersAlarm',
      'slack-dead-letters',
      'A Slack command or click slack-handler failed 5 times is in the Slack dead-letter queue; it may not have been carried out or answered. Read it, check `capstan status`, tell the requester, then purge.',
      queueMetric(slackDeadLetterQueue, 'ApproximateNumberOfMessagesVisible'),
    );

    // ---------------------------------------------------------------------------------------
    // Outputs, as template.yaml's.
    // ---------------------------------------------------------------------------------------
    // In a scope of their own: an output may share its name with a parameter
    // (SlackSigningSecretArn), which construct IDs in one scope cannot.
    const outputs = new Construct(this, 'Outputs');
    const out = (id: string, description: string, value: string) =>
      new CfnOutput(outputs, id, { description, value }).overrideLogicalId(id);
    out(
      'FunctionRoleArns',
      "The roles of the functions that act (alarm, schedule, budget and slack handlers), comma-separated: infra/spoke.yaml's HubRoleArns, the only principals its role trusts",
      Fn.join(',', ['AlarmHandler', 'ScheduleHandler', 'BudgetHandler', 'SlackHandler'].map((f) => roles[f].attrArn)),
    );
    out(
      'AlarmHandlerFunctionName',
      "alarm-handler's name (aws lambda invoke --function-name, aws logs tail /aws/lambda/NAME)",
      alarmHandler.functionName,
    );
    out(
      'AlarmHandlerFunctionArn',
      "alarm-handler's ARN, for an alarm's Lambda action (aws cloudwatch put-metric-alarm --alarm-actions)",
      alarmHandler.functionArn,
    );
    out('AlarmTopicArn', "The topic to add to an alarm's actions when it should reach Capstan through SNS", alarmTopic.topicArn);
    out(
      'ScheduleHandlerFunctionName',
      "schedule-handler's name, for requests by hand (aws lambda invoke --function-name; infra/README.md)",
      scheduleHandler.functionName,
    );
    out('ScheduleHandlerFunctionArn', "schedule-handler's ARN", scheduleHandler.functionArn);
    out(
      'TickScheduleName',
      'The EventBridge Scheduler schedule that ticks schedule-handler (aws scheduler get-schedule --name)',
      sub('${AWS::StackName}-tick'),
    );
    out('BudgetHandlerFunctionName', "budget-handler's name", budgetHandler.functionName);
    out('BudgetHandlerFunctionArn', "budget-handler's ARN", budgetHandler.functionArn);
    out(
      'BudgetAlertsTopicArn',
      "The topic budget-handler reads; a budget notification's SNS subscriber (aws budgets create-notification)",
      budgetTopicArn,
    );
    out('StateTableName', "The DynamoDB table of Capstan's state and history (CAPSTAN_TABLE)", table.tableName);
    out(
      'NotificationTopicArn',
      'The topic Capstan reports its decisions and its own alarms to; subscribe people and chat here',
      notificationTopic.topicArn,
    );
    out('DeadLetterQueueUrl', 'Alarms, ticks and budget alerts Capstan could not handle, kept 14 days', deadLetterQueue.queueUrl);
    out('SlackHandlerFunctionName', "slack-handler's name (aws logs tail /aws/lambda/NAME)", slackHandler.functionName);
    out(
      'SlackCommandsUrl',
      "The /capstan slash command's Request URL (infra/slack-manifest.yaml, features.slash_commands[0].url)",
      sub('https://${SlackApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/slack/commands'),
    );
    out(
      'SlackInteractionsUrl',
      "The Slack app's Interactivity Request URL (infra/slack-manifest.yaml, settings.interactivity.request_url)",
      sub('https://${SlackApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/slack/interactions'),
    );
    out(
      'SlackSigningSecretArn',
      "The secret holding the Slack app's signing secret (aws secretsmanager put-secret-value --secret-id ARN)",
      signingSecretArn,
    );
    out('SlackQueueUrl', "slack-handler's work queue (CAPSTAN_SLACK_QUEUE_URL)", slackQueue.queueUrl);
    out('SlackDeadLetterQueueUrl', 'Slack jobs slack-handler failed 5 times, kept 14 days', slackDeadLetterQueue.queueUrl);

    skipCheckov(this);
    if (props.acknowledgeFindings ?? true) acknowledgeFindings(this);
  }
}
