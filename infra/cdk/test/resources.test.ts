// The CDK stack against infra/template.yaml: the same resources (logical ID and type, so the same
// counts per type as SAM's transform), parameters, conditions, outputs; every plain resource of
// the template with the same properties; every function, trigger and the Slack API as SAM
// renders them.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Json, REPO, branches, clone, countByType, loadSam, render, samExpansion, samFunctionProperties } from './sam';
import { synth } from './synth';

const sam = loadSam();
const { json: cdk, stack, outdir } = synth({ nag: false });
const resources: Json = cdk.Resources;
const samFunctions = Object.keys(sam.Resources).filter((id) => sam.Resources[id].Type === 'AWS::Serverless::Function');

/** CloudFormation scalars as strings (YAML reads `Default: 1` as a number, CDK writes what it was given). */
function scalarsAsStrings(x: Json): Json {
  if (Array.isArray(x)) return x.map(scalarsAsStrings);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, scalarsAsStrings(v)]));
  return typeof x === 'number' || typeof x === 'boolean' ? String(x) : x;
}

/** An `Fn::Sub` or `Fn::Join`: a string built of parts, however spelled. */
const isStringIntrinsic = (x: Json) =>
  x && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 1 && ('Fn::Sub' in x || 'Fn::Join' in x);

/** What differs between two values, path by path (for readable failures). */
function diff(a: Json, b: Json, at = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  // The same string, one as Fn::Sub and one as Fn::Join (lib/iam.ts says why CDK joins).
  if (isStringIntrinsic(a) && isStringIntrinsic(b) && render(a) === render(b)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => diff(a[k], b[k], `${at}.${k}`));
  }
  return [`${at}: SAM ${JSON.stringify(a)} != CDK ${JSON.stringify(b)}`];
}

function sameValue(samValue: Json, cdkValue: Json, what: string) {
  const d = diff(canonical(samValue), canonical(cdkValue));
  assert.deepEqual(d, [], `${what} differs:\n  ${d.join('\n  ')}`);
}

/** Key order ignored; scalars as strings; DeletionPolicy/UpdateReplacePolicy "Delete" is the default. */
function canonical(x: Json): Json {
  const s = scalarsAsStrings(clone(x ?? null));
  const sort = (v: Json): Json =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])])) : v;
  return sort(s);
}

function resourceOptions(res: Json) {
  const policy = (p: string | undefined) => (p === undefined || p === 'Delete' ? 'Delete' : p);
  return {
    Condition: res.Condition ?? null,
    DeletionPolicy: policy(res.DeletionPolicy),
    UpdateReplacePolicy: policy(res.UpdateReplacePolicy),
  };
}

describe('the stack has the resources of SAM\'s transform', () => {
  const expected = samExpansion(sam);

  it('the same logical IDs, each of the same type', () => {
    const actual = new Map(Object.entries<Json>(resources).map(([id, r]) => [id, r.Type as string]));
    const missing = [...expected].filter(([id, t]) => actual.get(id) !== t).map(([id, t]) => `${id} (${t})`);
    const extra = [...actual].filter(([id, t]) => expected.get(id) !== t).map(([id, t]) => `${id} (${t})`);
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
  });

  it('the same number of resources of each type', () => {
    assert.deepEqual(countByType(Object.values<Json>(resources).map((r) => r.Type)), countByType(expected.values()));
    // The translator's own count for this template, at the time of writing: 59 (scripts/check-cdk.sh
    // runs the real transform when the SAM CLI's virtualenv is there: test/sam-transform.test.ts).
    assert.ok(expected.size >= 59, `SAM's transform makes ${expected.size} resources`);
  });

  it('the same conditions and deletion policies on every resource', () => {
    for (const [id, res] of Object.entries<Json>(sam.Resources)) {
      const ids = [...expected.keys()].filter((e) => e === id);
      for (const e of ids) sameValue(resourceOptions(res), resourceOptions(resources[e]), `${e}'s options`);
    }
  });

  it('every plain CloudFormation resource of the template with the same properties', () => {
    for (const [id, res] of Object.entries<Json>(sam.Resources)) {
      if (res.Type.startsWith('AWS::Serverless::')) continue;
      assert.ok(resources[id], `${id} missing`);
      sameValue(res.Properties, resources[id].Properties, `${id} (${res.Type})`);
    }
  });
});

describe('parameters, conditions, outputs, metadata', () => {
  it('the same parameters, with the same types, defaults and constraints', () => {
    const strip = (params: Json) =>
      Object.fromEntries(
        Object.entries<Json>(params)
          .filter(([id]) => id !== 'BootstrapVersion') // CDK's own: the bootstrap stack's version
          .map(([id, p]) => {
            const { Description, ...rest } = p;
            assert.ok(Description, `parameter ${id} has a description`);
            return [id, rest];
          }),
      );
    sameValue(strip(sam.Parameters), strip(cdk.Parameters), 'the parameters');
  });

  it('the same conditions', () => {
    sameValue(sam.Conditions, cdk.Conditions, 'the conditions');
  });

  it('the same outputs, with the same values', () => {
    const values = (outputs: Json) =>
      Object.fromEntries(Object.entries<Json>(outputs).map(([id, o]) => [id, { Value: o.Value, Condition: o.Condition ?? null }]));
    sameValue(values(sam.Outputs), values(cdk.Outputs), 'the outputs');
  });

  it('the same description, and no transform (plain CloudFormation)', () => {
    assert.equal(cdk.Description, sam.Description);
    assert.equal(cdk.Transform, undefined);
    assert.equal(sam.Transform, 'AWS::Serverless-2016-10-31');
  });

  it('the same parameter groups for the console', () => {
    sameValue(sam.Metadata['AWS::CloudFormation::Interface'], cdk.Metadata['AWS::CloudFormation::Interface'], 'the parameter groups');
  });
});

describe('the functions', () => {
  it('are the four of template.yaml', () => {
    assert.deepEqual(
      Object.keys(resources).filter((id) => resources[id].Type === 'AWS::Lambda::Function').sort(),
      [...samFunctions].sort(),
    );
    assert.equal(samFunctions.length, 4);
  });

  for (const id of samFunctions) {
    describe(id, () => {
      const samProps = samFunctionProperties(sam, id);
      const fn = resources[id].Properties;

      it('is arm64 on provided.al2023, handler bootstrap', () => {
        assert.deepEqual(fn.Architectures, ['arm64']);
        assert.equal(fn.Runtime, 'provided.al2023');
        assert.equal(fn.Handler, 'bootstrap');
        sameValue({ a: samProps.Architectures, r: samProps.Runtime, h: samProps.Handler }, { a: fn.Architectures, r: fn.Runtime, h: fn.Handler }, `${id}'s runtime`);
      });

      it('has the same environment variables', () => {
        sameValue(samProps.Environment.Variables, fn.Environment.Variables, `${id}'s environment`);
        assert.ok(Object.keys(fn.Environment.Variables).length >= 5);
      });

      it('has the same reserved concurrency, memory, timeout, name, description, role, layers, logging, key', () => {
        for (const key of ['ReservedConcurrentExecutions', 'MemorySize', 'Timeout', 'FunctionName', 'Description', 'Role', 'Layers', 'LoggingConfig', 'KmsKeyArn']) {
          sameValue(samProps[key], fn[key], `${id}'s ${key}`);
        }
        // Every function has a concurrency limit parameter and the stack's key (checkov CKV_AWS_115, CKV_AWS_173).
        assert.ok(fn.ReservedConcurrentExecutions, `${id} has ReservedConcurrentExecutions`);
        assert.deepEqual(fn.KmsKeyArn, { 'Fn::If': ['HasKmsKey', { Ref: 'KmsKeyArn' }, { Ref: 'AWS::NoValue' }] });
      });

      it('is the workspace package SAM builds (cargo lambda build --bin NAME, functions/NAME)', () => {
        const binary = sam.Resources[id].Metadata.BuildProperties.Binary as string;
        assert.equal(sam.Resources[id].Metadata.BuildMethod, 'rust-cargolambda');
        assert.equal(stack.binaries[id], binary);
        const manifest = fs.readFileSync(path.join(REPO, 'functions', binary, 'Cargo.toml'), 'utf8');
        assert.match(manifest, new RegExp(`^name = "${binary}"$`, 'm'));
        // The asset is the function's code, built from functions/NAME by cargo-lambda-cdk.
        assert.ok(fn.Code.S3Bucket && fn.Code.S3Key, `${id} has an asset`);
        assert.match(resources[id].Metadata['aws:asset:path'], new RegExp(`functions/${binary}$`));
      });

      it('has the async retries and on-failure queue of its EventInvokeConfig', () => {
        const config = samProps.EventInvokeConfig;
        const cdkConfig = resources[`${id}EventInvokeConfig`];
        if (!config) {
          assert.equal(cdkConfig, undefined);
          return;
        }
        sameValue(
          {
            FunctionName: { Ref: id },
            Qualifier: '$LATEST',
            MaximumRetryAttempts: config.MaximumRetryAttempts,
            MaximumEventAgeInSeconds: config.MaximumEventAgeInSeconds,
            DestinationConfig: { OnFailure: { Destination: config.DestinationConfig.OnFailure.Destination } },
          },
          cdkConfig.Properties,
          `${id}EventInvokeConfig`,
        );
      });

      for (const [event, ev] of Object.entries<Json>(sam.Resources[id].Properties.Events ?? {})) {
        it(`is triggered by ${event} (${ev.Type}) as SAM makes it`, () => expectEvent(id, event, ev));
      }
    });
  }
});

/** The resources SAM generates for one event of a function, property by property. */
function expectEvent(fnId: string, event: string, ev: Json) {
  const eid = `${fnId}${event}`;
  const p = ev.Properties;
  const permission = (principal: string, sourceArn: Json) => {
    const perm = resources[`${eid}Permission`];
    assert.ok(perm, `${eid}Permission missing`);
    assert.equal(perm.Properties.Action, 'lambda:InvokeFunction');
    assert.equal(perm.Properties.Principal, principal);
    // SAM names the function by Ref, CDK by its ARN: the same function.
    assert.equal(render(perm.Properties.FunctionName).replace(/\.Arn\}$/, '}'), `\${${fnId}}`);
    sameValue(sourceArn, perm.Properties.SourceArn, `${eid}Permission's SourceArn`);
  };
  switch (ev.Type) {
    case 'EventBridgeRule': {
      const rule = resources[eid].Properties;
      sameValue(p.Pattern, rule.EventPattern, `${eid}'s pattern`);
      sameValue(p.RuleName, rule.Name, `${eid}'s name`);
      assert.equal(rule.Targets.length, 1);
      sameValue(
        { Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, Id: `${eid}LambdaTarget`, RetryPolicy: p.RetryPolicy, DeadLetterConfig: p.DeadLetterConfig },
        rule.Targets[0],
        `${eid}'s target`,
      );
      permission('events.amazonaws.com', { 'Fn::GetAtt': [eid, 'Arn'] });
      break;
    }
    case 'SNS': {
      sameValue(
        { Endpoint: { 'Fn::GetAtt': [fnId, 'Arn'] }, Protocol: 'lambda', TopicArn: p.Topic, RedrivePolicy: p.RedrivePolicy },
        resources[eid].Properties,
        `${eid}`,
      );
      permission('sns.amazonaws.com', p.Topic);
      break;
    }
    case 'ScheduleV2': {
      const schedule = resources[eid].Properties;
      sameValue(
        {
          Name: p.Name,
          Description: p.Description,
          ScheduleExpression: p.ScheduleExpression,
          FlexibleTimeWindow: p.FlexibleTimeWindow,
          Target: {
            Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
            RoleArn: { 'Fn::GetAtt': [`${eid}Role`, 'Arn'] },
            Input: p.Input,
            RetryPolicy: p.RetryPolicy,
            DeadLetterConfig: p.DeadLetterConfig,
          },
        },
        schedule,
        eid,
      );
      assert.equal(JSON.parse(schedule.Target.Input).action, 'tick');
      break;
    }
    case 'HttpApi': {
      const api = resources[p.ApiId.Ref].Properties.Body;
      const route = api.paths[p.Path][p.Method.toLowerCase()]['x-amazon-apigateway-integration'];
      sameValue(
        {
          payloadFormatVersion: p.PayloadFormatVersion,
          timeoutInMillis: p.TimeoutInMillis,
          type: 'aws_proxy',
          httpMethod: 'POST',
          uri: { 'Fn::Sub': `arn:\${AWS::Partition}:apigateway:\${AWS::Region}:lambda:path/2015-03-31/functions/\${${fnId}.Arn}/invocations` },
        },
        route,
        `${eid}'s route`,
      );
      permission('apigateway.amazonaws.com', {
        'Fn::Sub': [
          `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${__ApiId__}/\${__Stage__}/${p.Method}${p.Path}`,
          { __ApiId__: p.ApiId, __Stage__: '*' },
        ],
      });
      break;
    }
    case 'SQS': {
      const { Queue, ...rest } = p;
      sameValue({ EventSourceArn: Queue, FunctionName: { Ref: fnId }, ...rest }, resources[eid].Properties, eid);
      break;
    }
    default:
      assert.fail(`event type ${ev.Type} of ${eid} is not checked`);
  }
}

describe('the Slack HTTP API', () => {
  const samApi = Object.entries<Json>(sam.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::HttpApi');

  it('has exactly the routes of the functions\' HttpApi events, no $default route, no authorizer', () => {
    assert.equal(samApi.length, 1);
    const [apiId] = samApi[0];
    const samRoutes = samFunctions.flatMap((fn) =>
      Object.values<Json>(sam.Resources[fn].Properties.Events ?? {})
        .filter((ev) => ev.Type === 'HttpApi' && ev.Properties.ApiId.Ref === apiId)
        .map((ev) => `${ev.Properties.Method.toLowerCase()} ${ev.Properties.Path}`),
    );
    const body = resources[apiId].Properties.Body;
    const cdkRoutes = Object.entries<Json>(body.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m} ${p}`));
    assert.deepEqual(cdkRoutes.sort(), samRoutes.sort());
    assert.deepEqual(cdkRoutes.sort(), ['post /slack/commands', 'post /slack/interactions']);
    assert.equal(JSON.stringify(body).includes('security'), false, 'no authorizer');
    assert.equal(JSON.stringify(body).includes('$default'), false, 'no catch-all route');
  });

  it('has the stage SAM makes: auto-deployed $default, throttled, access-logged without bodies or headers', () => {
    const [apiId, api] = samApi[0];
    const stage = resources[`${apiId}ApiGatewayDefaultStage`].Properties;
    sameValue(
      {
        ApiId: { Ref: apiId },
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: api.Properties.DefaultRouteSettings,
        AccessLogSettings: api.Properties.AccessLogSettings,
      },
      stage,
      'the stage',
    );
    assert.doesNotMatch(stage.AccessLogSettings.Format, /requestBody|\$context\.request\.header|\$input/);
    assert.equal(resources[apiId].Properties.FailOnWarnings, api.Properties.FailOnWarnings);
    sameValue(api.Properties.Description, resources[apiId].Properties.Body.info.description, 'the description');
  });
});

describe('conditional pieces', () => {
  it('the layer exists only with UsePolicyLayer and the functions use it only then', () => {
    assert.equal(resources.PolicyLayer.Condition, 'UsePolicyLayer');
    for (const id of samFunctions) {
      assert.deepEqual(branches(resources[id].Properties.Layers), [[['UsePolicyLayer'], [{ Ref: 'PolicyLayer' }]]]);
    }
    assert.deepEqual(resources.PolicyLayer.Properties.CompatibleArchitectures, ['arm64']);
    // The layer's content is infra/policy/, staged as is: /opt/capstan.toml.
    const staged = path.join(outdir, resources.PolicyLayer.Metadata['aws:asset:path']);
    assert.deepEqual(fs.readdirSync(staged).sort(), fs.readdirSync(path.join(REPO, 'infra', 'policy')).sort());
    assert.equal(
      fs.readFileSync(path.join(staged, 'capstan.toml'), 'utf8'),
      fs.readFileSync(path.join(REPO, 'infra', 'policy', 'capstan.toml'), 'utf8'),
    );
  });

  it('the state table is retained', () => {
    assert.equal(resources.StateTable.DeletionPolicy, 'Retain');
    assert.equal(resources.StateTable.UpdateReplacePolicy, 'Retain');
    assert.equal(resources.StateTable.Properties.DeletionProtectionEnabled, true);
  });
});
