"""Lint the CloudFormation that the SAM transform makes of a template, offline.

`sam validate --lint` runs cfn-lint on the SAM template, and cfn-lint leaves some rules out
when a template has the SAM transform: among them W3037, which checks every IAM action
name (a misspelt or nonexistent action would otherwise reach AWS, which accepts it and then
denies the call at run time). This script runs the SAM translator itself (the one
`sam validate` uses; local paths in CodeUri/ContentUri become placeholder S3 URIs, as in
`sam package`), then cfn-lint on the plain CloudFormation it produced.

Usage (with the SAM CLI's virtualenv, see scripts/check-infra.sh):
    python infra/lint-transformed.py infra/template.yaml
Exit code: 0 clean, 1 the translator or cfn-lint found problems, 2 usage.
"""

import json
import os
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


class NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs only for `Policies: [Name]`."""

    def load(self):
        return {}


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())

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
    count = len(cfn.get("Resources", {}))
    print(f"{path}: SAM transform ok ({count} CloudFormation resources), cfn-lint clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
