#!/usr/bin/env python3
"""Slack's acknowledgement and the Slack worker, timed through the Lambda Runtime API against moto.

Starts the release `slack-handler` binary as Lambda does (scripts/runtime_api.py plays the
Runtime API), sends it API Gateway HTTP API (payload 2.0) requests signed as Slack signs them
(HMAC-SHA256 of `v0:{timestamp}:{body}`, timestamped now), and times, from handing the event
out to receiving the response:
  - cold: fresh processes, each its init (start to first `next`) and its first
    acknowledgement, for `/capstan status` (reads answered inline) and `/capstan scale api 6`
    (one SQS send); also with the signing secret in Secrets Manager, as the template deploys it;
  - warm: one process, many acknowledgements of each kind;
  - slow AWS: the same through a proxy that holds every AWS call for DELAY seconds (the
    acknowledgement must still come back under 3 s);
  - the worker: one SQS job each (`scale TARGET N`, one task up or down on each target in
    turn, queued by an acknowledgement, received from the queue and handed over as an SQS
    event): the runner against moto and the post to `response_url` (here, the Runtime API's
    port). Each target changes 10 times, then its limit of 10 actions an hour holds it back.
    moto's DynamoDB copies the whole table for every item of a TransactWriteItems (to roll it
    back on failure), so the worker's time grows as the run fills the table: its p50 is given
    for each fifth of the run, and the first jobs are the closest to DynamoDB's behaviour.

Seeds moto first (the example policy's ECS services, Auto Scaling group, topic, the work
queue); the state table must exist (`capstan init`). Prints a table and writes the numbers as
JSON. Python 3's standard library only.

usage: bench-slack-ack.py BINARY --endpoint URL --policy FILE [--table NAME] [--out FILE]
         [--log FILE] [--cold N] [--warm N] [--jobs N] [--slow-cold N] [--slow-warm N]
         [--delay SECONDS]
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_api import RuntimeApi, SlowProxy, summary  # noqa: E402

# The example policy's [slack] grant: the on-call operator in #ops-scaling.
USER, CHANNEL, TEAM = "U2147483697", "C2147483705", "T0CAPSTAN1"
REGION, ACCOUNT = "us-east-1", "123456789012"
QUEUE = "capstan-slack"
DEADLINE_S = 3.0  # Slack gives up after 3 s
KINDS = {"status": "status", "scale": "scale api 6"}

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("binary")
p.add_argument("--endpoint", required=True, help="moto, e.g. http://127.0.0.1:5000")
p.add_argument("--policy", required=True)
p.add_argument("--table", default="capstan-state")
p.add_argument("--out", default="bench/slack-ack.json")
p.add_argument("--log", help="append the function's log here")
p.add_argument("--cold", type=int, default=10, help="fresh processes per kind")
p.add_argument("--warm", type=int, default=200, help="warm acknowledgements per kind")
p.add_argument("--jobs", type=int, default=200, help="worker jobs")
p.add_argument("--slow-cold", type=int, default=3, help="fresh processes per kind, slow AWS")
p.add_argument("--slow-warm", type=int, default=20, help="warm acknowledgements per kind, slow AWS")
p.add_argument("--delay", type=float, default=5.0, help="seconds the slow proxy holds each call")
args = p.parse_args()


# --- moto, through its HTTP APIs --------------------------------------------------------------

def aws(service, action, params, endpoint=None):
    """One AWS call to moto: JSON protocols for ECS, Application Auto Scaling, SQS and Secrets
    Manager, the query protocol (form in, XML out) for Auto Scaling and SNS."""
    json_targets = {
        "ecs": ("AmazonEC2ContainerServiceV20141113", "1.1"),
        "application-autoscaling": ("AnyScaleFrontendService", "1.1"),
        "sqs": ("AmazonSQS", "1.0"),
        "secretsmanager": ("secretsmanager", "1.1"),
    }
    versions = {"autoscaling": "2011-01-01", "sns": "2010-03-31"}
    day = time.strftime("%Y%m%d", time.gmtime())
    headers = {"Authorization": f"AWS4-HMAC-SHA256 Credential=testing/{day}/{REGION}/{service}"
                                f"/aws4_request, SignedHeaders=host, Signature=00"}
    if service in json_targets:
        prefix, version = json_targets[service]
        headers["X-Amz-Target"] = f"{prefix}.{action}"
        headers["Content-Type"] = f"application/x-amz-json-{version}"
        data = json.dumps(params).encode()
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        form = {"Action": action, "Version": versions[service], **params}
        data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request((endpoint or args.endpoint) + "/", data, headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read().decode()
    except urllib.error.HTTPError as e:
        sys.exit(f"{service}:{action} failed: HTTP {e.code}: {e.read().decode()[:500]}")
    return json.loads(text or "{}") if service in json_targets else text


def xml_value(text, tag):
    return text.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]


def seed():
    """What bench-alarm seeds: the example policy's services (api at 4, so that `scale api 6`
    changes it), ai's scalable target, the web group; the topic and the work queue."""
    aws("ecs", "CreateCluster", {"clusterName": "main-cluster"})
    task = aws("ecs", "RegisterTaskDefinition", {
        "family": "capstan-bench",
        "containerDefinitions": [{"name": "app", "image": "public.ecr.aws/nginx/nginx:latest",
                                  "memory": 128, "cpu": 64}],
    })["taskDefinition"]["taskDefinitionArn"]
    for service, desired in [("api-service", 4), ("frontend-service", 2), ("ai-service", 2)]:
        aws("ecs", "CreateService", {"cluster": "main-cluster", "serviceName": service,
                                     "taskDefinition": task, "desiredCount": desired})
    aws("application-autoscaling", "RegisterScalableTarget", {
        "ServiceNamespace": "ecs", "ResourceId": "service/main-cluster/ai-service",
        "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": 2, "MaxCapacity": 30,
    })
    aws("autoscaling", "CreateLaunchConfiguration", {
        "LaunchConfigurationName": "capstan-bench", "ImageId": "ami-12c6146b",
        "InstanceType": "t3.micro",
    })
    aws("autoscaling", "CreateAutoScalingGroup", {
        "AutoScalingGroupName": "aiwg-production-asg", "LaunchConfigurationName": "capstan-bench",
        "AvailabilityZones.member.1": f"{REGION}a", "MinSize": "2", "MaxSize": "15",
        "DesiredCapacity": "2",
    })
    topic = xml_value(aws("sns", "CreateTopic", {"Name": "capstan"}), "TopicArn")
    queue_url = aws("sqs", "CreateQueue", {"QueueName": QUEUE})["QueueUrl"]
    aws("secretsmanager", "CreateSecret", {"Name": "capstan/slack-signing-secret",
                                           "SecretString": json.dumps({"signing_secret": SECRET})})
    return topic, queue_url


# --- Slack requests, as API Gateway hands them to the function ---------------------------------

SECRET = secrets.token_hex(16)
sequence = iter(range(1, 10**9))


def slack_command(text, hooks):
    """A signed `/capstan TEXT` (signed now, with a fresh trigger id) as an API Gateway HTTP
    API 2.0 event; its response_url points at `hooks`."""
    n = next(sequence)
    body = urllib.parse.urlencode({
        "token": "legacy-verification-token-unused",
        "team_id": TEAM, "team_domain": "capstan-bench",
        "channel_id": CHANNEL, "channel_name": "ops-scaling",
        "user_id": USER, "user_name": "oncall",
        "command": "/capstan", "text": text,
        "api_app_id": "A0CAPSTAN1", "is_enterprise_install": "false",
        "response_url": f"{hooks}{n}",
        "trigger_id": f"{n}.{int(time.time())}.{uuid.uuid4().hex}",
    })
    now = time.time()
    stamp = str(int(now))
    signature = "v0=" + hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(),
                                 hashlib.sha256).hexdigest()
    return {
        "version": "2.0",
        "routeKey": "POST /slack/commands",
        "rawPath": "/slack/commands",
        "rawQueryString": "",
        "headers": {
            "accept": "application/json,*/*",
            "content-type": "application/x-www-form-urlencoded",
            "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "x-slack-request-timestamp": stamp,
            "x-slack-signature": signature,
        },
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {"method": "POST", "path": "/slack/commands", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10",
                     "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)"},
            "requestId": uuid.uuid4().hex[:16], "routeKey": "POST /slack/commands",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        # API Gateway hands form bodies over base64-encoded.
        "body": base64.b64encode(body.encode()).decode(),
        "isBase64Encoded": True,
    }


def answer_kind(inv):
    """What Slack would show, in a word."""
    if inv.error:
        return "function-error"
    out = inv.json() or {}
    if out.get("statusCode") != 200:
        return f"http-{out.get('statusCode')}"
    text = json.loads(out.get("body") or "{}").get("text", "")
    for phrase, kind in [
        ("Working on", "queued"),
        ("could not confirm in time", "queue-unconfirmed"),
        ("Reading the status (AWS is slow)", "status-queued"),
        ("the status could not be read in time", "status-too-slow"),
        ("refused", "refused"),
    ]:
        if phrase in text:
            return kind
    return "status-inline" if "api" in text else text[:60]


def tally(kinds):
    out = {}
    for k in kinds:
        out[k] = out.get(k, 0) + 1
    return out


# --- the measurements --------------------------------------------------------------------------

def function_env(endpoint, hooks, secret_source=None):
    return {
        "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CAPSTAN_POLICY": os.path.abspath(args.policy), "CAPSTAN_TABLE": args.table,
        "CAPSTAN_TOPIC_ARN": TOPIC,
        "CAPSTAN_SLACK_SIGNING_SECRET": secret_source or SECRET,
        "CAPSTAN_SLACK_QUEUE_URL": QUEUE_URL,
        "CAPSTAN_SLACK_RESPONSE_PREFIX": hooks,
    }


def function(endpoint, secret_source=None):
    """A Runtime API for a new process, and the environment to start it with."""
    api = RuntimeApi(args.binary, "slack-handler", memory_mb=256, timeout_s=30)
    hooks = f"{api.url}/hooks/"
    return api, hooks, function_env(endpoint, hooks, secret_source)


def cold(kind, n, endpoint, secret_source=None):
    """n fresh processes: each its init and its first acknowledgement of `kind`."""
    runs = []
    for _ in range(n):
        api, hooks, env = function(endpoint, secret_source)
        with api:
            started = time.perf_counter()
            try:
                init = api.start(env, log=args.log)
            except RuntimeError as e:
                runs.append({"init_failed": f"{e} after {time.perf_counter() - started:.1f} s"})
                continue
            inv = api.invoke(slack_command(KINDS[kind], hooks))
            runs.append({"init": init, "ack": inv.latency, "kind": answer_kind(inv)})
    ok = [r for r in runs if "ack" in r]
    return {
        "processes": n,
        "init": summary([r["init"] for r in ok]),
        "first_ack": summary([r["ack"] for r in ok]),
        "init_plus_first_ack": summary([r["init"] + r["ack"] for r in ok]),
        "answers": tally(r["kind"] for r in ok),
        "init_failures": [r["init_failed"] for r in runs if "init_failed" in r],
        "over_3s": sum(r["ack"] > DEADLINE_S for r in ok),
    }


def warm(n, endpoint):
    """One process, n acknowledgements of each kind, interleaved (after one of each unmeasured)."""
    api, hooks, env = function(endpoint)
    with api:
        init = api.start(env, log=args.log)
        for text in KINDS.values():
            api.invoke(slack_command(text, hooks))
        out = {k: [] for k in KINDS}
        for _ in range(n):
            for kind, text in KINDS.items():
                out[kind].append(api.invoke(slack_command(text, hooks)))
        rss = api.peak_rss_mib()
    return {
        "init_ms": round(init * 1000, 1),
        "peak_rss_mib": round(rss, 1),
        **{kind: {**summary([i.latency for i in invs]),
                  "answers": tally(answer_kind(i) for i in invs),
                  "over_3s": sum(i.latency > DEADLINE_S for i in invs)}
           for kind, invs in out.items()},
    }


def sqs_event(message):
    attributes = message.get("Attributes", {})
    return {"Records": [{
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", ACCOUNT),
            "ApproximateFirstReceiveTimestamp":
                attributes.get("ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", hashlib.md5(message["Body"].encode()).hexdigest()),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}",
        "awsRegion": REGION,
    }]}


def receive_one():
    for _ in range(20):
        got = aws("sqs", "ReceiveMessage", {"QueueUrl": QUEUE_URL, "MaxNumberOfMessages": 1,
                                            "WaitTimeSeconds": 1, "AttributeNames": ["All"]})
        if got.get("Messages"):
            return got["Messages"][0]
    sys.exit("the acknowledgement's job never reached the queue")


def outcome_kind(post):
    if post is None:
        return "no-post"
    text = json.loads(post[1] or b"{}").get("text", "")
    for phrase, kind in [("→", "changed"), ("actions in the last hour", "rate-limited"),
                         ("already", "already-there"), ("Nothing to do", "nothing-to-do"),
                         ("Nothing changed", "held-back"), ("Confirm", "confirmation")]:
        if phrase in text:
            return kind
    return text[:60]


# The worker's jobs: one task up or down on each target in turn (never more than confirm_above,
# within every bound the example policy sets at any hour), so that each target changes until
# its limit of 10 actions an hour holds the rest back.
WORKER_JOBS = [("api", 5, 6), ("frontend", 3, 4), ("ai", 3, 4), ("web", 3, 4)]


def worker(n):
    """n jobs, each queued by an acknowledgement, received and handed to the same (warm)
    process as a one-record SQS event: the runner against moto and the post."""
    aws("sqs", "PurgeQueue", {"QueueUrl": QUEUE_URL})
    api, hooks, env = function(args.endpoint)
    runs, failures, samples = [], 0, {}
    with api:
        api.start(env, log=args.log)
        for j in range(n):
            target, low, high = WORKER_JOBS[j % len(WORKER_JOBS)]
            text = f"scale {target} {low if (j // len(WORKER_JOBS)) % 2 == 0 else high}"
            api.invoke(slack_command(text, hooks))
            message = receive_one()
            before = len(api.posts)
            inv = api.invoke(sqs_event(message))
            failed = inv.error or bool((inv.json() or {}).get("batchItemFailures"))
            failures += failed
            post = api.posts[before] if len(api.posts) > before else None
            kind = outcome_kind(post)
            if post is not None:
                samples.setdefault(kind, json.loads(post[1]).get("text", "")[:300])
            runs.append((inv.latency, kind))
            aws("sqs", "DeleteMessage", {"QueueUrl": QUEUE_URL,
                                         "ReceiptHandle": message["ReceiptHandle"]})
    lat = [r[0] for r in runs]
    by_kind = {}
    for latency, kind in runs:
        by_kind.setdefault(kind, []).append(latency)
    fifth = max(1, len(lat) // 5)
    return {
        "jobs": [f"scale {t} {lo}|{hi}" for t, lo, hi in WORKER_JOBS],
        "first_job_ms": round(lat[0] * 1000, 1),
        **summary(lat),
        # moto's DynamoDB slows as the table fills: the trend over the run.
        "p50_by_fifth_ms": [summary(lat[i:i + fifth])["p50_ms"]
                            for i in range(0, fifth * 5, fifth)],
        "failed_jobs": failures,
        "by_outcome": {k: summary(v) for k, v in by_kind.items()},
        "sample_posts": samples,
    }


def row(name, s, extra=""):
    if not s.get("n"):
        return f"  {name:<38} (none)"
    return (f"  {name:<38} n={s['n']:<4} p50 {s['p50_ms']:>8.1f}  p99 {s['p99_ms']:>8.1f}  "
            f"max {s['max_ms']:>8.1f} ms{extra}")


TOPIC, QUEUE_URL = seed()
print(f"moto {args.endpoint}: seeded; queue {QUEUE_URL}", file=sys.stderr)
results = {
    "binary": {"name": os.path.basename(args.binary), "bytes": os.path.getsize(args.binary)},
    # Other work on the machine (builds) shows in the numbers: the load says how much.
    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                "kernel": platform.release(),
                "load_before": [round(x, 2) for x in os.getloadavg()]},
    "run_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commands": KINDS,
}
try:
    results["commit"] = subprocess.run(["git", "describe", "--always", "--dirty"], text=True,
                                       capture_output=True).stdout.strip()
except OSError:
    pass

print("cold starts...", file=sys.stderr)
results["cold"] = {k: cold(k, args.cold, args.endpoint) for k in KINDS}
results["cold_secretsmanager"] = {
    k: cold(k, max(1, args.cold // 2), args.endpoint,
            "secretsmanager:capstan/slack-signing-secret") for k in KINDS}
print("warm...", file=sys.stderr)
results["warm"] = warm(args.warm, args.endpoint)
print("worker...", file=sys.stderr)
results["worker"] = worker(args.jobs)
print(f"slow AWS ({args.delay:g} s per call)...", file=sys.stderr)
proxy = SlowProxy(args.endpoint, args.delay)
results["slow"] = {
    "delay_s": args.delay,
    "cold": {k: cold(k, args.slow_cold, proxy.url) for k in KINDS},
    "warm": warm(args.slow_warm, proxy.url),
    "cold_secretsmanager": cold("scale", 1, proxy.url,
                                "secretsmanager:capstan/slack-signing-secret"),
}
results["slow"]["aws_calls_held"] = proxy.calls
proxy.stop()

results["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
slow = results["slow"]
acks_over = sum(results["cold"][k]["over_3s"] + results["warm"][k]["over_3s"]
                + slow["cold"][k]["over_3s"] + slow["warm"][k]["over_3s"] for k in KINDS)
results["acks_over_3s"] = acks_over

os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
with open(args.out, "w") as f:
    json.dump(results, f, indent=2, ensure_ascii=False)
    f.write("\n")

load = results["machine"]["load_before"][0], results["machine"]["load_after"][0]
print(f"slack-handler {os.path.getsize(args.binary) / 1e6:.1f} MB, through the Runtime API "
      f"against moto ({os.cpu_count()} cpus, load {load[0]:.1f} before, {load[1]:.1f} after); "
      f"milliseconds")
for label, block in [("cold (plain secret)", results["cold"]),
                     ("cold (secretsmanager: secret)", results["cold_secretsmanager"])]:
    print(label)
    for k in KINDS:
        c = block[k]
        print(row(f"{k}: init", c["init"]))
        print(row(f"{k}: first ack", c["first_ack"], f"  {c['answers']}"))
        print(row(f"{k}: init + first ack", c["init_plus_first_ack"]))
w = results["warm"]
print(f"warm (one process, peak RSS {w['peak_rss_mib']} MiB)")
for k in KINDS:
    print(row(f"{k}: ack", w[k], f"  {w[k]['answers']}"))
wk = results["worker"]
print("worker (one SQS job each: runner against moto + post)")
print(row("scale TARGET N job", wk, f"  first {wk['first_job_ms']} ms, "
                                    f"{wk['failed_jobs']} failed"))
print(f"  {'':<38} p50 by fifth of the run: {wk['p50_by_fifth_ms']}")
for kind, s in wk["by_outcome"].items():
    print(row(f"  {kind}", s))
print(f"slow AWS (every call held {args.delay:g} s)")
for k in KINDS:
    c = slow["cold"][k]
    print(row(f"{k}: cold init", c["init"]))
    print(row(f"{k}: cold first ack", c["first_ack"],
              f"  {c['answers']}, over 3 s: {c['over_3s']}"))
    print(row(f"{k}: cold init + first ack", c["init_plus_first_ack"]))
    print(row(f"{k}: warm ack", slow["warm"][k],
              f"  {slow['warm'][k]['answers']}, over 3 s: {slow['warm'][k]['over_3s']}"))
sm = slow["cold_secretsmanager"]
if sm["init_failures"]:
    print(f"  secretsmanager: secret, cold: init failed: {sm['init_failures'][0][:120]}")
else:
    print(row("secretsmanager: cold init", sm["init"]))
    print(row("secretsmanager: init + first ack", sm["init_plus_first_ack"]))
print(f"acknowledgements over {DEADLINE_S:g} s: {acks_over}")
print(f"numbers: {args.out}")
