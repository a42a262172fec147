"""Lint the CloudFormation that the SAM transform makes of a template, offline.

`sam validate --lint` runs cfn-lint on the SAM template, and cfn-lint leaves some rules out
when a template has the SAM transform: among them W3037, which checks every IAM action
name (a misspelt or nonexistent action would otherwise reach AWS, which accepts it and then
denies the call at run time). This script runs the SAM translator itself (the one
`sam validate` uses; local paths in CodeUri/ContentUri become placeholder S3 URIs, as in
`sam package`), then cfn-lint on the plain CloudFormation it produced.

It then checks what cfn-lint cannot know, for every function of the template
(`check_functions`): its own role, whose permissions are least privilege (no wildcard
actions, `Resource: "*"` only for the listing calls that take no resource, logs only to its
own log group); a log group with a retention; when anything invokes it asynchronously, Lambda
retries with an on-failure destination to an SQS queue, and a dead-letter queue on every
event source that delivers to it; CloudWatch alarms on its Errors and Throttles; and that
every alarm of the stack is named so that alarm-handler's EventBridge rule leaves it out.
For a function an SQS queue drives (`check_queues`): partial batch responses, a visibility
timeout of at least 6 times the function's timeout, a redrive policy to a dead-letter queue
with an alarm on it, both queues encrypted, and the role's receive/delete on that queue. For
an HTTP API (`check_http_apis`): access logs to a log group of the template with a retention
and without request bodies or headers, route throttling, and no catch-all route.

Usage (with the SAM CLI's virtualenv, see scripts/check-infra.sh):
    python infra/lint-transformed.py infra/template.yaml
Exit code: 0 clean, 1 the translator, cfn-lint or the function checks found problems, 2 usage.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.public.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# Properties that name local paths until `sam package` uploads them.
LOCAL_PATHS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


# The only actions an Allow statement may grant on `Resource: "*"`: listing and describe
# calls that IAM authorizes on no particular resource.
RESOURCELESS_ACTIONS = {
    "ecs:ListServices",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribePolicies",
    "application-autoscaling:DescribeScalableTargets",
}

# The principal CloudWatch alarms use to invoke a function as their action (asynchronously).
ALARM_ACTION_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"


class NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs only for `Policies: [Name]`."""

    def load(self):
        return {}


def target_of(node):
    """The logical id a `Ref` or `Fn::GetAtt` names, else None."""
    if isinstance(node, dict) and len(node) == 1:
        if "Ref" in node and isinstance(node["Ref"], str):
            return node["Ref"]
        att = node.get("Fn::GetAtt")
        if isinstance(att, list) and att and isinstance(att[0], str):
            return att[0]
        if isinstance(att, str):
            return att.split(".", 1)[0]
    return None


def alternatives(node):
    """The values a node may take: both branches of an `Fn::If` (recursively), no NoValue."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        _, yes, no = node["Fn::If"]
        return alternatives(yes) + alternatives(no)
    if isinstance(node, dict) and node.get("Ref") == "AWS::NoValue":
        return []
    return [node]


def as_list(node):
    """A scalar or a list (or an `Fn::If` of either) as the list of its possible items."""
    out = []
    for alt in alternatives(node):
        for item in alt if isinstance(alt, list) else [alt]:
            out.extend(alternatives(item))
    return out


def referenced(node):
    """Every logical id a node mentions: `Ref`, `Fn::GetAtt`, `${Name}` in `Fn::Sub`."""
    found = set()
    if isinstance(node, dict):
        name = target_of(node)
        if name:
            found.add(name)
        sub = node.get("Fn::Sub")
        if sub is not None:
            text = sub[0] if isinstance(sub, list) else sub
            if isinstance(text, str):
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
        for value in node.values():
            found |= referenced(value)
    elif isinstance(node, list):
        for value in node:
            found |= referenced(value)
    return found


def sub_text(node):
    """The template string of an `Fn::Sub` (or a plain string), else None."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "Fn::Sub" in node:
        sub = node["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) else sub
        return text if isinstance(text, str) else None
    return None


def find_key(node, key):
    """Every value under `key` anywhere in node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from find_key(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from find_key(v, key)


def role_statements(resources, role_id):
    """The statements of a role: its inline policies and the template's managed policies it
    attaches, as (where, statement) pairs."""
    props = resources[role_id].get("Properties", {})
    out = []
    for policy in as_list(props.get("Policies", [])):
        name = policy.get("PolicyName", "?")
        for st in as_list(policy.get("PolicyDocument", {}).get("Statement", [])):
            out.append((f"{role_id} policy {name}", st))
    for arn in as_list(props.get("ManagedPolicyArns", [])):
        managed = target_of(arn)
        if managed and resources.get(managed, {}).get("Type") == "AWS::IAM::ManagedPolicy":
            doc = resources[managed].get("Properties", {}).get("PolicyDocument", {})
            for st in as_list(doc.get("Statement", [])):
                out.append((f"{role_id} managed policy {managed}", st))
    return out


def check_least_privilege(resources):
    """Allow statements of every role and managed policy: no wildcard actions, no Not*,
    `Resource: "*"` only for RESOURCELESS_ACTIONS."""
    problems = []
    for rid, res in resources.items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::IAM::Role":
            docs = [(f"{rid} policy {p.get('PolicyName', '?')}", p.get("PolicyDocument", {}))
                    for p in as_list(props.get("Policies", []))]
            for arn in as_list(props.get("ManagedPolicyArns", [])):
                if target_of(arn) is None:
                    problems.append(f"{rid}: attaches a managed policy from outside the template ({arn})")
        elif res.get("Type") == "AWS::IAM::ManagedPolicy":
            docs = [(rid, props.get("PolicyDocument", {}))]
        else:
            continue
        for where, doc in docs:
            for st in as_list(doc.get("Statement", [])):
                if st.get("Effect") != "Allow":
                    continue
                if "NotAction" in st or "NotResource" in st:
                    problems.append(f"{where}: an Allow with NotAction/NotResource")
                actions = [a for a in as_list(st.get("Action", [])) if isinstance(a, str)]
                for action in actions:
                    if action == "*" or action.endswith(":*"):
                        problems.append(f"{where}: allows every action ({action})")
                if "*" in as_list(st.get("Resource", [])):
                    wide = sorted(set(actions) - RESOURCELESS_ACTIONS)
                    if wide:
                        problems.append(f"{where}: allows {', '.join(wide)} on Resource '*'")
    return problems


def check_functions(resources):
    """Per-function checks (see the module docstring); returns the problems found."""
    problems = []
    by_type = {}
    for rid, res in resources.items():
        by_type.setdefault(res.get("Type"), []).append(rid)
    queues = set(by_type.get("AWS::SQS::Queue", []))

    def props(rid):
        return resources[rid].get("Properties", {})

    def is_queue(node):
        return target_of(node) in queues

    functions = by_type.get("AWS::Lambda::Function", [])
    if not functions:
        problems.append("no AWS::Lambda::Function in the template")
    roles_used = {}
    for fn in functions:
        p = props(fn)
        # Its own role, defined here (not one SAM makes with AWS managed policies).
        role = target_of(p.get("Role"))
        if role is None or resources.get(role, {}).get("Type") != "AWS::IAM::Role":
            problems.append(f"{fn}: Role is not an AWS::IAM::Role of the template")
            role = None
        elif role in roles_used:
            problems.append(f"{fn}: shares its role {role} with {roles_used[role]}")
        else:
            roles_used[role] = fn

        # Its log group, with a retention; its role writes logs there and nowhere else.
        group = target_of(p.get("LoggingConfig", {}).get("LogGroup"))
        if group is None or resources.get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            problems.append(f"{fn}: LoggingConfig.LogGroup is not a log group of the template")
        elif "RetentionInDays" not in props(group):
            problems.append(f"{fn}: its log group {group} has no RetentionInDays")
        if role:
            for where, st in role_statements(resources, role):
                actions = [a for a in as_list(st.get("Action", [])) if isinstance(a, str)]
                if st.get("Effect") == "Allow" and any(a.startswith("logs:") for a in actions):
                    targets = {target_of(r) for r in as_list(st.get("Resource", []))}
                    if targets != {group}:
                        problems.append(f"{where}: logs permissions beyond {fn}'s log group {group}")

        # Who invokes it asynchronously, and does each of them keep what it cannot deliver?
        async_sources = []
        for rule in by_type.get("AWS::Events::Rule", []):
            for t in props(rule).get("Targets", []):
                if target_of(t.get("Arn")) == fn:
                    async_sources.append(rule)
                    if not is_queue(t.get("DeadLetterConfig", {}).get("Arn")):
                        problems.append(f"{rule}: its target {fn} has no dead-letter queue")
        for sub in by_type.get("AWS::SNS::Subscription", []):
            sp = props(sub)
            if sp.get("Protocol") == "lambda" and target_of(sp.get("Endpoint")) == fn:
                async_sources.append(sub)
                if not is_queue(sp.get("RedrivePolicy", {}).get("deadLetterTargetArn")):
                    problems.append(f"{sub}: no RedrivePolicy to a dead-letter queue")
        for sched in by_type.get("AWS::Scheduler::Schedule", []):
            t = props(sched).get("Target", {})
            if target_of(t.get("Arn")) == fn:
                async_sources.append(sched)
                if not is_queue(t.get("DeadLetterConfig", {}).get("Arn")):
                    problems.append(f"{sched}: its target {fn} has no dead-letter queue")
                if "RetryPolicy" not in t:
                    problems.append(f"{sched}: its target {fn} has no RetryPolicy")
                if props(sched).get("FlexibleTimeWindow", {}).get("Mode") != "OFF":
                    problems.append(f"{sched}: FlexibleTimeWindow is not OFF (ticks would drift)")
        for perm in by_type.get("AWS::Lambda::Permission", []):
            pp = props(perm)
            if pp.get("Principal") == ALARM_ACTION_PRINCIPAL and target_of(pp.get("FunctionName")) == fn:
                async_sources.append(perm)
        if async_sources:
            configs = [c for c in by_type.get("AWS::Lambda::EventInvokeConfig", [])
                       if target_of(props(c).get("FunctionName")) == fn]
            if not configs:
                problems.append(f"{fn}: invoked asynchronously ({', '.join(async_sources)}) "
                                "but has no EventInvokeConfig")
            for c in configs:
                cp = props(c)
                on_failure = cp.get("DestinationConfig", {}).get("OnFailure", {})
                if not is_queue(on_failure.get("Destination")):
                    problems.append(f"{c}: no OnFailure destination to an SQS queue")
                for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                    if key not in cp:
                        problems.append(f"{c}: {key} left to Lambda's default")

        # Alarms on its Errors and Throttles, that notify someone.
        for metric in ("Errors", "Throttles"):
            alarms = [a for a in by_type.get("AWS::CloudWatch::Alarm", [])
                      if props(a).get("Namespace") == "AWS/Lambda"
                      and props(a).get("MetricName") == metric
                      and any(d.get("Name") == "FunctionName" and target_of(d.get("Value")) == fn
                              for d in props(a).get("Dimensions", []))]
            if not alarms:
                problems.append(f"{fn}: no CloudWatch alarm on its {metric}")
            for a in alarms:
                if not props(a).get("AlarmActions"):
                    problems.append(f"{a}: no AlarmActions")

    # Capstan's own failure metrics (EMF, namespace Capstan, the dimensionless series) are
    # alarmed on, and the alarm tells someone.
    for metric in ("Failures", "NotifyFailures"):
        alarms = [a for a in by_type.get("AWS::CloudWatch::Alarm", [])
                  if props(a).get("Namespace") == "Capstan"
                  and props(a).get("MetricName") == metric
                  and not props(a).get("Dimensions")]
        if not alarms:
            problems.append(f"no CloudWatch alarm on Capstan's own {metric} metric")
        for a in alarms:
            if not props(a).get("AlarmActions"):
                problems.append(f"{a}: no AlarmActions")

    # The stack's own alarms must not reach alarm-handler: every alarm name starts with a
    # prefix that an `anything-but` of a rule on CloudWatch alarm state changes excludes.
    excluded = []
    for rule in by_type.get("AWS::Events::Rule", []):
        pattern = props(rule).get("EventPattern", {})
        if "aws.cloudwatch" not in json.dumps(pattern):
            continue
        for but in find_key(pattern, "anything-but"):
            if isinstance(but, dict) and "prefix" in but:
                prefix = sub_text(but["prefix"])
                if prefix:
                    excluded.append(prefix)
        for alarm in by_type.get("AWS::CloudWatch::Alarm", []):
            name = sub_text(props(alarm).get("AlarmName"))
            if name is None or not any(name.startswith(x) for x in excluded):
                problems.append(f"{alarm}: its AlarmName {name!r} does not start with a prefix "
                                f"{rule} leaves out ({excluded or 'none'}), so it would reach "
                                f"the function")

    problems += check_least_privilege(resources)
    return problems


# What the event source mapping of an SQS queue needs of the function's role.
SQS_POLL_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

# Lambda's advice for a queue it polls: a visibility timeout of at least 6 times the timeout.
VISIBILITY_FACTOR = 6


def check_queues(resources):
    """Functions driven by an SQS event source mapping (see the module docstring)."""
    problems = []

    def props(rid):
        return resources.get(rid, {}).get("Properties", {})

    def is_type(rid, kind):
        return resources.get(rid, {}).get("Type") == kind

    def encrypted(q):
        return props(q).get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props(q)

    def dlq_alarmed(q):
        return any(
            props(a).get("Namespace") == "AWS/SQS"
            and props(a).get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and props(a).get("AlarmActions")
            and any(d.get("Name") == "QueueName" and target_of(d.get("Value")) == q
                    for d in props(a).get("Dimensions", []))
            for a, r in resources.items() if r.get("Type") == "AWS::CloudWatch::Alarm")

    for esm, res in resources.items():
        if res.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        p = props(esm)
        queue = target_of(p.get("EventSourceArn"))
        if not is_type(queue, "AWS::SQS::Queue"):
            continue
        fn = target_of(p.get("FunctionName"))
        if "ReportBatchItemFailures" not in as_list(p.get("FunctionResponseTypes", [])):
            problems.append(f"{esm}: no FunctionResponseTypes [ReportBatchItemFailures] "
                            "(one failed job would retry the whole batch)")
        timeout = props(fn).get("Timeout", 3)
        visibility = props(queue).get("VisibilityTimeout", 30)
        if not (isinstance(timeout, int) and isinstance(visibility, int)):
            problems.append(f"{queue}: VisibilityTimeout and {fn}'s Timeout must be numbers here")
        elif visibility < VISIBILITY_FACTOR * timeout:
            problems.append(f"{queue}: VisibilityTimeout {visibility} s is under "
                            f"{VISIBILITY_FACTOR} x {fn}'s Timeout ({timeout} s)")
        if not encrypted(queue):
            problems.append(f"{queue}: not encrypted (SqsManagedSseEnabled or KmsMasterKeyId)")
        redrive = props(queue).get("RedrivePolicy", {})
        dlq = target_of(redrive.get("deadLetterTargetArn"))
        if not is_type(dlq, "AWS::SQS::Queue"):
            problems.append(f"{queue}: no RedrivePolicy to a dead-letter queue of the template")
        else:
            if not isinstance(redrive.get("maxReceiveCount"), int):
                problems.append(f"{queue}: RedrivePolicy has no maxReceiveCount")
            if not encrypted(dlq):
                problems.append(f"{dlq}: not encrypted (SqsManagedSseEnabled or KmsMasterKeyId)")
            if not dlq_alarmed(dlq):
                problems.append(f"{dlq}: no alarm on its ApproximateNumberOfMessagesVisible")
        role = target_of(props(fn).get("Role"))
        if is_type(role, "AWS::IAM::Role"):
            granted = set()
            for _, st in role_statements(resources, role):
                if st.get("Effect") == "Allow" and queue in {target_of(r) for r in as_list(st.get("Resource", []))}:
                    granted |= {a for a in as_list(st.get("Action", [])) if isinstance(a, str)}
            missing = sorted(SQS_POLL_ACTIONS - granted)
            if missing:
                problems.append(f"{role}: the event source mapping {esm} needs {', '.join(missing)} "
                                f"on {queue}")
    return problems


def check_http_apis(resources):
    """HTTP APIs and their stages (see the module docstring)."""
    problems = []

    def props(rid):
        return resources.get(rid, {}).get("Properties", {})

    for rid, res in resources.items():
        if res.get("Type") == "AWS::ApiGatewayV2::Api":
            for path, methods in props(rid).get("Body", {}).get("paths", {}).items():
                if path == "$default" or "{proxy+}" in path or "x-amazon-apigateway-any-method" in methods:
                    problems.append(f"{rid}: a catch-all route ({path}); name each route")
        if res.get("Type") != "AWS::ApiGatewayV2::Stage":
            continue
        p = props(rid)
        logs = p.get("AccessLogSettings", {})
        group = target_of(logs.get("DestinationArn"))
        if resources.get(group, {}).get("Type") != "AWS::Logs::LogGroup":
            problems.append(f"{rid}: no access logs to a log group of the template")
        elif "RetentionInDays" not in props(group):
            problems.append(f"{rid}: its access log group {group} has no RetentionInDays")
        fmt = logs.get("Format", "")
        if not isinstance(fmt, str) or any(x in fmt.lower() for x in ("body", "header", "$input")):
            problems.append(f"{rid}: the access log format must be a plain string without request "
                            "bodies or headers (they carry signatures and credentials)")
        routes = p.get("DefaultRouteSettings", {})
        for key in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
            if key not in routes:
                problems.append(f"{rid}: DefaultRouteSettings.{key} left to the account's default")
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())

    # Local paths, in a resource or in Globals, become placeholder S3 URIs.
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str) and not function_globals["CodeUri"].startswith("s3://"):
        function_globals["CodeUri"] = "s3://capstan-lint/code.zip"
    for name, resource in template.get("Resources", {}).items():
        prop = LOCAL_PATHS.get(resource.get("Type"))
        props = resource.get("Properties", {})
        if prop and isinstance(props.get(prop), str) and not props[prop].startswith("s3://"):
            props[prop] = f"s3://capstan-lint/{name}.zip"

    try:
        cfn = transform(template, {}, NoManagedPolicies())
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{path}: SAM transform: {cause.message}", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "transformed.json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(cfn, f, indent=1)
        cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
        result = subprocess.run(
            [cfn_lint, "--regions", os.environ["AWS_DEFAULT_REGION"], "--", out],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            # Findings point into the transformed JSON: name it in the message.
            print(f"{path}: cfn-lint on the transformed template:", file=sys.stderr)
            print(result.stdout + result.stderr, file=sys.stderr)
            return 1

    resources = cfn.get("Resources", {})
    problems = check_functions(resources) + check_queues(resources) + check_http_apis(resources)
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return 1
    functions = sorted(r for r, v in resources.items() if v.get("Type") == "AWS::Lambda::Function")
    print(f"{path}: SAM transform ok ({len(resources)} CloudFormation resources), cfn-lint clean")
    print(f"{path}: {len(functions)} functions ({', '.join(functions)}): own role, least "
          "privilege, log group, retries and dead letters, Errors and Throttles alarms")
    queues = sorted(r for r, v in resources.items() if v.get("Type") == "AWS::Lambda::EventSourceMapping")
    stages = sorted(r for r, v in resources.items() if v.get("Type") == "AWS::ApiGatewayV2::Stage")
    if queues or stages:
        print(f"{path}: queue-driven ({', '.join(queues) or 'none'}): partial batch failures, "
              "visibility, dead letters alarmed, encryption, polling grants; HTTP API stages "
              f"({', '.join(stages) or 'none'}): access logs without bodies or headers, throttling")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
