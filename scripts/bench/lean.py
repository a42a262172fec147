#!/usr/bin/env python3
"""The figures of scripts/bench-lean.sh: for every function, its sizes, init time and peak memory
as Lambda runs it, and the same for the naive Python/boto3 baseline (naive_alarm.py) in the
same run.

Each function (and the baseline) is started COLD times as a fresh process through a local Lambda
Runtime API (scripts/runtime_api.py), with the environment Lambda gives it plus the moto endpoint
and the CAPSTAN_* settings, and is handed INVOCATIONS events of its kind (the payloads of
tests/fixtures/aws-events/, dated now where the function reads the date; the Slack command signed
now with the fixtures' secret):
  - init: from process start to its first `GET .../invocation/next` (median over the cold
    starts; what Lambda bills as Init Duration, less the sandbox itself);
  - peak RSS: VmHWM after the invocations (the largest over the cold starts);
  - errors: invocations answered with an error (should be 0).
Seeds moto with boto3 first (the example policy's services, scalable target, group, topic, Slack
work queue, the state table). Prints a table; writes the numbers as JSON with --out.

usage: lean.py --endpoint URL --policy FILE --fixtures DIR --target-dir DIR
         [--cold N] [--invocations N] [--out FILE]
"""
import argparse
import datetime
import hashlib
import hmac
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from runtime_api import RuntimeApi  # noqa: E402

import boto3  # noqa: E402  (moto's virtualenv has it)

FUNCTIONS = ["alarm-handler", "schedule-handler", "budget-handler", "slack-handler"]
REGION = "us-east-1"
TABLE = "capstan-bench-lean"
QUEUE = "capstan-slack"
# The fixtures' Slack signing secret (tests/fixtures/aws-events/README.md).
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--endpoint", required=True)
p.add_argument("--policy", required=True)
p.add_argument("--fixtures", required=True)
p.add_argument("--target-dir", required=True)
p.add_argument("--cold", type=int, default=5, help="fresh processes per function")
p.add_argument("--invocations", type=int, default=10, help="events per process")
p.add_argument("--only", help="comma-separated functions to measure (default: all four)")
p.add_argument("--out")
p.add_argument("--log", help="append the functions' logs here")
args = p.parse_args()

AWS_ENV = {
    "AWS_ENDPOINT_URL": args.endpoint, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def client(name):
    return boto3.client(name, endpoint_url=args.endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def seed():
    ecs = client("ecs")
    ecs.create_cluster(clusterName="main-cluster")
    task = ecs.register_task_definition(
        family="capstan-bench",
        containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx:latest",
                               "memory": 128, "cpu": 64}],
    )["taskDefinition"]["taskDefinitionArn"]
    for service in ["api-service", "frontend-service", "ai-service"]:
        ecs.create_service(cluster="main-cluster", serviceName=service, taskDefinition=task,
                           desiredCount=4)
    client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId="service/main-cluster/ai-service",
        ScalableDimension="ecs:service:DesiredCount", MinCapacity=2, MaxCapacity=30)
    asg = client("autoscaling")
    asg.create_launch_configuration(LaunchConfigurationName="capstan-bench",
                                    ImageId="ami-12c6146b", InstanceType="t3.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName="aiwg-production-asg",
                                  LaunchConfigurationName="capstan-bench",
                                  AvailabilityZones=[f"{REGION}a"], MinSize=2, MaxSize=15,
                                  DesiredCapacity=2)
    topic = client("sns").create_topic(Name="capstan")["TopicArn"]
    queue_url = client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]
    # The state table as `capstan init` creates it (shared/store: pk/sk, on demand).
    client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}])
    return topic, queue_url


def fixture(name):
    with open(os.path.join(args.fixtures, name)) as f:
        return json.load(f)


def iso_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def dated_now(event):
    """An SNS delivery as if sent now (a budget alert's period comes from its Timestamp)."""
    for record in event.get("Records", []):
        record["Sns"]["Timestamp"] = iso_now()
    return event


def tick_now():
    event = fixture("schedule-scheduler-tick-input.json")
    event["scheduled_time"] = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime())
    return event


def slack_status_now():
    """`/capstan status` (plain body), signed now with the fixtures' secret."""
    event = fixture("slack-command-status-plain-body.json")
    stamp = str(int(time.time()))
    body = event["body"]
    event["headers"]["x-slack-request-timestamp"] = stamp
    event["headers"]["x-slack-signature"] = "v0=" + hmac.new(
        SLACK_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return event


ALARMS = ["alarm-eventbridge-state-change.json", "alarm-lambda-action.json",
          "alarm-sns-single-metric.json", "alarm-sns-metric-math.json",
          "alarm-composite-lambda-action.json"]
BUDGETS = ["budget-sns-actual-80pct.json", "budget-sns-forecasted-100pct.json"]
EVENTS = {
    "alarm-handler": lambda i: fixture(ALARMS[i % len(ALARMS)]),
    "schedule-handler": lambda i: tick_now(),
    "budget-handler": lambda i: dated_now(fixture(BUDGETS[i % len(BUDGETS)])),
    "slack-handler": lambda i: slack_status_now(),
    "python-naive": lambda i: fixture(ALARMS[i % len(ALARMS)]),
}


def measure(name, binary, env):
    inits, hwms, errors, first = [], [], 0, []
    for _ in range(args.cold):
        with RuntimeApi(binary, name, memory_mb=256, timeout_s=30) as api:
            full = dict(env)
            if name == "slack-handler":
                full["CAPSTAN_SLACK_RESPONSE_PREFIX"] = f"{api.url}/hooks/"
            inits.append(api.start(full, log=args.log))
            for i in range(args.invocations):
                inv = api.invoke(EVENTS[name](i))
                errors += inv.error
                if i == 0:
                    first.append(inv.latency)
            hwms.append(api.peak_rss_mib())
    return {
        "init_ms": round(statistics.median(inits) * 1000, 1),
        "init_ms_all": [round(x * 1000, 1) for x in inits],
        "first_invocation_ms": round(statistics.median(first) * 1000, 1),
        "peak_rss_mib": round(max(hwms), 1),
        "errors": errors,
    }


def size_mb(path):
    return round(os.path.getsize(path) / 1e6, 2) if os.path.exists(path) else None


topic, queue_url = seed()
common = dict(AWS_ENV)
common.update({
    "CAPSTAN_POLICY": os.path.abspath(args.policy), "CAPSTAN_TABLE": TABLE,
    "CAPSTAN_TOPIC_ARN": topic,
    "CAPSTAN_SLACK_SIGNING_SECRET": SLACK_SECRET, "CAPSTAN_SLACK_QUEUE_URL": queue_url,
})
naive_env = dict(AWS_ENV)
naive_env.update({"NAIVE_TOPIC_ARN": topic,
                  # the naive function's shebang finds this python3 (the one with boto3)
                  "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})

only = args.only.split(",") if args.only else FUNCTIONS
results = {}
# The baseline first and last: the machine is shared, so its figure is the median of both runs.
naive_runs = [measure("python-naive", os.path.join(HERE, "naive_alarm.py"), naive_env)]
for name in only:
    binary = os.path.join(args.target_dir, "release", name)
    r = measure(name, binary, common)
    # Skipped arm64 builds report no zip, not one left over from an earlier build.
    r["zip_arm64_mb"] = None if os.environ.get("BENCH_LEAN_NO_ARM64") == "1" else size_mb(
        os.path.join(args.target_dir, "lambda", name, "bootstrap.zip"))
    r["binary_x86_64_mb"] = size_mb(binary)
    results[name] = r
naive_runs.append(measure("python-naive", os.path.join(HERE, "naive_alarm.py"), naive_env))
naive = {
    "init_ms": round(statistics.median(
        [x for r in naive_runs for x in r["init_ms_all"]]), 1),
    "peak_rss_mib": max(r["peak_rss_mib"] for r in naive_runs),
    "errors": sum(r["errors"] for r in naive_runs),
}

print(f"{args.cold} cold starts x {args.invocations} invocations each; init = median, "
      f"peak RSS = max VmHWM")
head = (f"{'function':<18} {'zip arm64':>9} {'bin x86_64':>10} {'init':>8} {'python/init':>11} "
        f"{'1st call':>9} {'peak RSS':>9} {'errors':>6}")
print(head)
print("-" * len(head))
for name, r in results.items():
    ratio = naive["init_ms"] / r["init_ms"]
    r["init_ratio_vs_python"] = round(ratio, 1)
    zip_s = f"{r['zip_arm64_mb']:.2f} MB" if r["zip_arm64_mb"] is not None else "-"
    print(f"{name:<18} {zip_s:>9} {r['binary_x86_64_mb']:>7.2f} MB {r['init_ms']:>5.1f} ms "
          f"{ratio:>10.1f}x {r['first_invocation_ms']:>6.1f} ms {r['peak_rss_mib']:>5.1f} MiB "
          f"{r['errors']:>6}")
print(f"{'python-naive':<18} {'':>9} {'':>10} {naive['init_ms']:>5.1f} ms {'1.0x':>11} "
      f"{'':>9} {naive['peak_rss_mib']:>5.1f} MiB {naive['errors']:>6}")
if args.out:
    with open(args.out, "w") as f:
        json.dump({"functions": results, "python_naive": naive, "cold": args.cold,
                   "invocations": args.invocations}, f, indent=2)
        f.write("\n")
