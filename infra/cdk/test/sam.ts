// infra/template.yaml as the tests see it: parsed with CloudFormation's short-form tags into
// the long form (`!Ref X` -> {Ref: X}, `!GetAtt A.B` -> {"Fn::GetAtt": [A, B]}, ...), and what
// SAM's transform makes of its serverless resources, for comparing with the CDK stack.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';

export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Template = { [section: string]: Json };

export const REPO = path.resolve(__dirname, '..', '..', '..', '..');
if (!fs.existsSync(path.join(REPO, 'Cargo.lock'))) throw new Error(`not the repository root: ${REPO}`);
// CAPSTAN_SAM_TEMPLATE: another template to compare with (to see the tests fail on a change).
export const SAM_TEMPLATE = process.env.CAPSTAN_SAM_TEMPLATE ?? path.join(REPO, 'infra', 'template.yaml');

const INTRINSICS = [
  'Ref', 'Condition', 'Sub', 'If', 'Not', 'Equals', 'And', 'Or', 'Select', 'Split', 'Join', 'FindInMap',
  'Base64', 'Cidr', 'ImportValue', 'GetAZs', 'GetAtt', 'Transform', 'Length', 'ToJsonString',
];

function cfnTags(): YAML.Tags {
  const tags: YAML.Tags = [];
  for (const name of INTRINSICS) {
    const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
    const scalar = (s: string) => (name === 'GetAtt' ? s.split('.', 2) : s);
    tags.push({ tag: `!${name}`, resolve: (s: string) => ({ [key]: scalar(s) }) } as YAML.ScalarTag);
    tags.push({
      tag: `!${name}`,
      collection: 'seq',
      resolve: (seq: YAML.YAMLSeq) => ({ [key]: seq.toJSON() }),
    } as unknown as YAML.CollectionTag);
    tags.push({
      tag: `!${name}`,
      collection: 'map',
      resolve: (map: YAML.YAMLMap) => ({ [key]: map.toJSON() }),
    } as unknown as YAML.CollectionTag);
  }
  return tags;
}

export function loadSam(file = SAM_TEMPLATE): Template {
  return YAML.parse(fs.readFileSync(file, 'utf8'), { customTags: cfnTags() });
}

export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x));
}

/**
 * SAM's function properties with the Globals merged, as the transform does: scalars and lists
 * from the function win, maps (Environment.Variables, LoggingConfig) are merged key by key.
 */
export function samFunctionProperties(sam: Template, id: string): Json {
  const globals = clone(sam.Globals?.Function ?? {});
  const own = clone(sam.Resources[id].Properties);
  const merged: Json = { ...globals, ...own };
  for (const key of Object.keys(own)) {
    const g = globals[key];
    const o = own[key];
    if (isPlainMap(g) && isPlainMap(o)) merged[key] = deepMerge(g, o);
  }
  return merged;
}

function isPlainMap(x: unknown): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !Object.keys(x).some((k) => k.startsWith('Fn::') || k === 'Ref');
}

function deepMerge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isPlainMap(a[k]) && isPlainMap(v) ? deepMerge(a[k], v) : v;
  return out;
}

/**
 * The CloudFormation resources SAM's transform makes of template.yaml, by logical ID: every plain
 * resource as it is, and each serverless one as the resources SAM generates for it (the rules of
 * the translator for the properties this template uses; anything else is refused, so that a new
 * kind of event or resource needs teaching here rather than passing unchecked). The layer's
 * logical ID is SAM's without the content hash SAM appends.
 */
export function samExpansion(sam: Template): Map<string, string> {
  const out = new Map<string, string>();
  const add = (id: string, type: string) => {
    if (out.has(id)) throw new Error(`SAM expansion: ${id} twice`);
    out.set(id, type);
  };
  for (const [id, res] of Object.entries<Json>(sam.Resources)) {
    const props = res.Properties ?? {};
    switch (res.Type) {
      case 'AWS::Serverless::Function': {
        add(id, 'AWS::Lambda::Function');
        const merged = samFunctionProperties(sam, id);
        if (!merged.Role) add(`${id}Role`, 'AWS::IAM::Role');
        if (merged.EventInvokeConfig) add(`${id}EventInvokeConfig`, 'AWS::Lambda::EventInvokeConfig');
        if (merged.AutoPublishAlias || merged.DeploymentPreference || merged.FunctionUrlConfig) {
          throw new Error(`SAM expansion: ${id} uses a property the model does not know`);
        }
        for (const [event, ev] of Object.entries<Json>(props.Events ?? {})) {
          const eid = `${id}${event}`;
          switch (ev.Type) {
            case 'EventBridgeRule':
            case 'Schedule':
              add(eid, 'AWS::Events::Rule');
              add(`${eid}Permission`, 'AWS::Lambda::Permission');
              break;
            case 'SNS':
              if (ev.Properties.SqsSubscription) throw new Error(`SAM expansion: ${eid} SqsSubscription`);
              add(eid, 'AWS::SNS::Subscription');
              add(`${eid}Permission`, 'AWS::Lambda::Permission');
              break;
            case 'ScheduleV2':
              add(eid, 'AWS::Scheduler::Schedule');
              if (!ev.Properties.RoleArn) add(`${eid}Role`, 'AWS::IAM::Role');
              break;
            case 'HttpApi':
              if (!ev.Properties.ApiId) throw new Error(`SAM expansion: ${eid} on the implicit API`);
              add(`${eid}Permission`, 'AWS::Lambda::Permission');
              break;
            case 'SQS':
              add(eid, 'AWS::Lambda::EventSourceMapping');
              break;
            default:
              throw new Error(`SAM expansion: event type ${ev.Type} of ${eid} is not modelled`);
          }
        }
        break;
      }
      case 'AWS::Serverless::HttpApi':
        if (props.Domain || props.Auth || props.StageName) throw new Error(`SAM expansion: ${id} uses a property the model does not know`);
        add(id, 'AWS::ApiGatewayV2::Api');
        add(`${id}ApiGatewayDefaultStage`, 'AWS::ApiGatewayV2::Stage');
        break;
      case 'AWS::Serverless::LayerVersion':
        add(id, 'AWS::Lambda::LayerVersion');
        break;
      default:
        if (res.Type.startsWith('AWS::Serverless::')) throw new Error(`SAM expansion: ${res.Type} is not modelled`);
        add(id, res.Type);
    }
  }
  return out;
}

export function countByType(types: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of types) counts[t] = (counts[t] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort());
}

// ---------------------------------------------------------------------------------------------
// IAM: a role's grants as a set of normalised statements.
// ---------------------------------------------------------------------------------------------

/**
 * An intrinsic rendered as one canonical string, so that equal values compare equal whatever
 * their spelling: `Fn::Sub` and `Fn::Join` of the same parts, `Ref` and `${X}`.
 */
export function render(node: Json): string {
  if (typeof node === 'string') return node;
  if (typeof node === 'number' || typeof node === 'boolean') return String(node);
  if (Array.isArray(node)) return `[${node.map(render).join(', ')}]`;
  if (node && typeof node === 'object') {
    const keys = Object.keys(node);
    if (keys.length === 1) {
      const [k] = keys;
      const v = node[k];
      if (k === 'Ref') return `\${${v}}`;
      if (k === 'Fn::GetAtt') return `\${${Array.isArray(v) ? v.join('.') : v}}`;
      if (k === 'Fn::Sub') {
        const [text, vars] = Array.isArray(v) ? v : [v, {}];
        return (text as string).replace(/\$\{([^}!]+)\}/g, (m, name) => (name in vars ? render(vars[name]) : m));
      }
      if (k === 'Fn::Join') return (v[1] as Json[]).map(render).join(v[0]);
    }
    return `{${keys
      .sort()
      .map((k) => `${k}: ${render(node[k])}`)
      .join(', ')}}`;
  }
  return String(node);
}

/** Every way a node can come out of its `Fn::If`s: [guard, value] pairs, NoValue dropped. */
export function branches(node: Json, guard: string[] = [], keepNoValue = false): [string[], Json][] {
  if (node && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length === 1 && 'Fn::If' in node) {
    const [cond, yes, no] = node['Fn::If'];
    return [...branches(yes, [...guard, cond], keepNoValue), ...branches(no, [...guard, `!${cond}`], keepNoValue)];
  }
  if (node && typeof node === 'object' && node.Ref === 'AWS::NoValue') return keepNoValue ? [[guard, undefined]] : [];
  return [[guard, node]];
}

function list(node: Json, guard: string[]): [string[], Json][] {
  const out: [string[], Json][] = [];
  for (const [g, v] of branches(node, guard)) {
    for (const item of Array.isArray(v) ? v : [v]) out.push(...branches(item, g));
  }
  return out;
}

/**
 * A set of statements as "guard | Effect action on resource [when condition]" lines, one per
 * (action, resource) pair and branch of every `Fn::If` on the way.
 */
export function normaliseStatements(statements: Json, guard: string[] = []): string[] {
  const out: string[] = [];
  for (const [g, st] of list(statements, guard)) {
    // A Condition under Fn::If with a NoValue branch: the statement holds unconditioned there.
    const conditions = st.Condition === undefined ? [[g, undefined] as [string[], Json]] : branches(st.Condition, g, true);
    for (const [cg, condition] of conditions) {
      for (const [ag, action] of list(st.Action ?? st.NotAction, cg)) {
        for (const [rg, resource] of list(st.Resource ?? st.NotResource ?? '*', ag)) {
          const kind = st.NotAction ? 'NotAction ' : '';
          const res = st.NotResource ? `NotResource ${render(resource)}` : render(resource);
          const when = condition === undefined ? '' : ` when ${render(condition)}`;
          out.push(`${[...new Set(rg)].sort().join(' & ') || 'always'} | ${st.Effect} ${kind}${action} on ${res}${when}`);
        }
      }
    }
  }
  return out;
}

function targetOf(node: Json): string | undefined {
  if (node && typeof node === 'object') {
    if (typeof node.Ref === 'string') return node.Ref;
    const att = node['Fn::GetAtt'];
    if (Array.isArray(att)) return att[0];
    if (typeof att === 'string') return att.split('.')[0];
  }
  return undefined;
}

/** What a role of a template grants: its inline policies and the template's managed policies it attaches. */
export function roleGrants(resources: Json, roleId: string): string[] {
  const role = resources[roleId];
  if (!role || role.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is no role of the template`);
  const props = role.Properties ?? {};
  const guard = role.Condition ? [role.Condition] : [];
  const out: string[] = [];
  for (const [g, policy] of list(props.Policies ?? [], guard)) {
    out.push(...normaliseStatements(policy.PolicyDocument.Statement, g));
  }
  for (const [g, arn] of list(props.ManagedPolicyArns ?? [], guard)) {
    const id = targetOf(arn);
    const managed = id ? resources[id] : undefined;
    if (managed?.Type === 'AWS::IAM::ManagedPolicy') {
      const mg = managed.Condition ? [...g, managed.Condition] : g;
      out.push(...normaliseStatements(managed.Properties.PolicyDocument.Statement, mg));
    } else {
      out.push(`${g.join(' & ') || 'always'} | managed policy ${render(arn)}`);
    }
  }
  // Policies that name the role (AWS::IAM::Policy, Roles: [Ref role]) grant it too.
  for (const res of Object.values<Json>(resources)) {
    if (res.Type === 'AWS::IAM::Policy' && (res.Properties.Roles ?? []).some((r: Json) => targetOf(r) === roleId)) {
      out.push(...normaliseStatements(res.Properties.PolicyDocument.Statement, res.Condition ? [res.Condition] : []));
    }
  }
  return [...new Set(out)].sort();
}

/** The role of a function of a template (its `Role: !GetAtt X.Arn`). */
export function functionRoleId(resources: Json, functionId: string): string {
  const role = targetOf(resources[functionId].Properties.Role);
  if (!role) throw new Error(`${functionId} has no role of the template`);
  return role;
}
