#!/usr/bin/env python3
"""A naive Python/boto3 alarm remediation: the COMPARISON BASELINE of scripts/bench-lean.sh only.

Not part of Capstan and never deployed. It is what a hand-written Python Lambda function that
"adds two tasks when the alarm fires" typically looks like, so that the Rust functions' init
time and memory can be compared with it in the same run, on the same machine, against the same
moto world:

  - at init: import boto3, create the ECS and SNS clients (as such functions do, outside the
    handler);
  - then the Lambda Runtime API loop (urllib, as a custom runtime does; the managed Python
    runtime's loop is the same HTTP calls), and per event one remediation: DescribeServices,
    UpdateService with desiredCount + 2, SNS Publish.

No policy, no bounds, no cooldowns, no idempotency, no state: it does much less than
alarm-handler, which only makes the comparison kinder to it.

Settings: AWS_LAMBDA_RUNTIME_API (given by Lambda, or by scripts/runtime_api.py), the standard
AWS variables (AWS_ENDPOINT_URL for moto), NAIVE_CLUSTER, NAIVE_SERVICE, NAIVE_TOPIC_ARN.
"""
import json
import os
import urllib.request

import boto3

CLUSTER = os.environ.get("NAIVE_CLUSTER", "main-cluster")
SERVICE = os.environ.get("NAIVE_SERVICE", "api-service")
TOPIC = os.environ["NAIVE_TOPIC_ARN"]

ecs = boto3.client("ecs")
sns = boto3.client("sns")


def handler(event):
    service = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    desired = service["desiredCount"] + 2
    ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=desired)
    alarm = event.get("detail", {}).get("alarmName") or event.get("alarmData", {}).get(
        "alarmName", "alarm")
    sns.publish(TopicArn=TOPIC, Subject="scaled", Message=f"{alarm}: {SERVICE} to {desired}")
    return {"desired": desired}


def main():
    base = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
    while True:
        with urllib.request.urlopen(f"{base}/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(r.read())
        try:
            body, path = json.dumps(handler(event)).encode(), "response"
        except Exception as e:  # noqa: BLE001 - reported to the Runtime API, as Lambda does
            body, path = json.dumps({"errorMessage": str(e)}).encode(), "error"
        urllib.request.urlopen(urllib.request.Request(
            f"{base}/{request_id}/{path}", body, {"Content-Type": "application/json"})).read()


if __name__ == "__main__":
    main()
