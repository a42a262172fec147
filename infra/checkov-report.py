"""Reads a checkov JSON report (checkov -o json) of one template and fails unless it is clean:
no failed check, no parsing error, at least one check passed (the template was scanned), and
every skipped check with its reason (the `comment` of `Metadata: checkov: skip:`). Given the
template file, also every IAM role and policy of it scanned: checkov silently leaves out a
policy it cannot read (an Fn::If around a statement), which would pass unseen. Prints one
summary line. Used by scripts/check-infra.sh and scripts/check-cdk.sh.

    python infra/checkov-report.py NAME REPORT.json CHECKOV_EXIT_STATUS [TEMPLATE_FILE]
"""
import json
import sys

IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def template_resources(path):
    """The template's resources ({id: resource}), from JSON or from YAML with CloudFormation's
    short tags (`!Ref`, `!If`, ...) read as plain values."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("{"):
        return json.loads(text).get("Resources", {})
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def any_tag(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", any_tag)
    return yaml.load(text, Loader=Loader).get("Resources", {})


def unscanned_iam(resources, results):
    """The IAM roles and policies of the template that no check of the report is about."""
    seen = {c["resource"] for kind in ("passed_checks", "failed_checks", "skipped_checks")
            for c in results.get(kind, [])}
    return sorted(f"{r['Type']}.{rid}" for rid, r in resources.items()
                  if r.get("Type") in IAM_TYPES and f"{r['Type']}.{rid}" not in seen)


def main(argv):
    scanned, report, status = argv[1], argv[2], int(argv[3])
    with open(report, encoding="utf-8") as f:
        text = f.read().strip()
    data = json.loads(text) if text else {}
    if isinstance(data, list):
        data = data[0] if data else {}
    summary = data.get("summary", {})
    results = data.get("results", {})
    failed = results.get("failed_checks", [])
    skipped = results.get("skipped_checks", [])
    problems = [f"{c['check_id']} {c['resource']}: {c.get('check_name', '')}" for c in failed]
    problems += [
        f"{c['check_id']} {c['resource']}: skipped without a reason (comment)"
        for c in skipped
        if not (c.get("check_result", {}).get("suppress_comment") or "").strip()
    ]
    if summary.get("parsing_errors"):
        problems.append(f"{summary['parsing_errors']} parsing error(s)")
    if not summary.get("passed"):
        problems.append("no check passed: checkov did not scan the template")
    if len(argv) > 4:
        problems += [f"{r}: not scanned (checkov could not read it)"
                     for r in unscanned_iam(template_resources(argv[4]), results)]
    if status not in (0, 1) or (status == 1 and not failed):
        problems.append(f"checkov exited {status}")
    ids = ", ".join(sorted({c["check_id"] for c in skipped})) or "none"
    print(f"{scanned}: checkov passed {summary.get('passed', 0)}, failed {summary.get('failed', 0)}, "
          f"skipped {summary.get('skipped', 0)} ({ids})")
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
