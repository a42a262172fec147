"""Print the CloudFormation that SAM's translator makes of a template, as JSON (offline).

For test/sam-transform.test.ts, which checks the tests' model of SAM's transform (test/sam.ts,
samExpansion) against the real translator. Needs the SAM CLI's Python (aws-sam-translator);
scripts/check-cdk.sh runs it with the virtualenv scripts/check-infra.sh makes, when it exists.
Local paths (CodeUri, ContentUri) become placeholder S3 URIs, as in infra/lint-transformed.py.

    python infra/cdk/scripts/sam-transform.py infra/template.yaml > transformed.json
"""

import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class NoManagedPolicies:
    def load(self):
        return {}


def main(path):
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    function_globals = template.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = "s3://capstan-cdk-test/code.zip"
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://capstan-cdk-test/{name}.zip"
    json.dump(transform(template, {}, NoManagedPolicies()), sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
