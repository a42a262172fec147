"""Check infra/slack-manifest.yaml against the Slack app manifest's shape and the template, offline.

The manifest is pasted into Slack by hand, so a mistake shows only then. This checks what can be
checked here: the sections and keys Slack's manifest schema (version 1) knows, with its length
limits; exactly one slash command, /capstan, with a description, a usage hint, should_escape
false and a request URL on the path of the template's commands route; interactivity on, at the
interactions route's path; the bot scope `commands` and nothing else (no user scopes, no
events, no socket mode); and that the template's SlackCommandsUrl and SlackInteractionsUrl
outputs end in those same paths.

Usage (with the SAM CLI's virtualenv, which has PyYAML; see scripts/check-infra.sh):
    python infra/check-slack-manifest.py infra/slack-manifest.yaml infra/template.yaml
Exit code: 0 clean, 1 problems found, 2 usage.
"""

import sys

import yaml
from samtranslator.yaml_helper import yaml_parse

# The keys of the manifest schema (version 1) per section; anything else Slack rejects.
KNOWN = {
    "": {"_metadata", "display_information", "features", "oauth_config", "settings"},
    "_metadata": {"major_version", "minor_version"},
    "display_information": {"name", "description", "long_description", "background_color"},
    "features": {"app_home", "bot_user", "shortcuts", "slash_commands", "unfurl_domains", "workflow_steps"},
    "features.bot_user": {"display_name", "always_online"},
    "features.slash_commands[]": {"command", "description", "should_escape", "url", "usage_hint"},
    "oauth_config": {"redirect_urls", "scopes"},
    "oauth_config.scopes": {"bot", "user"},
    "settings": {"allowed_ip_address_ranges", "event_subscriptions", "interactivity",
                 "org_deploy_enabled", "socket_mode_enabled", "token_rotation_enabled"},
    "settings.interactivity": {"is_enabled", "request_url", "message_menu_options_url"},
}

# (where, key, most characters) as the schema limits them.
LIMITS = [
    ("display_information", "name", 35),
    ("display_information", "description", 140),
    ("display_information", "long_description", 4000),
    ("features.slash_commands[]", "command", 32),
    ("features.slash_commands[]", "description", 2000),
    ("features.slash_commands[]", "usage_hint", 1000),
]

COMMANDS_PATH = "/slack/commands"
INTERACTIONS_PATH = "/slack/interactions"


def section(manifest, where):
    """The mapping at a dotted path (`[]` on the last part: every item of that list)."""
    if where == "":
        return [manifest]
    node = manifest
    parts = where.split(".")
    for part in parts:
        many = part.endswith("[]")
        node = node.get(part[:-2] if many else part) if isinstance(node, dict) else None
        if node is None:
            return []
        if many:
            return [n for n in node if isinstance(n, dict)] if isinstance(node, list) else []
    return [node] if isinstance(node, dict) else []


def check_manifest(m):
    problems = []
    if not isinstance(m, dict):
        return ["the manifest is not a mapping"]
    for where, keys in KNOWN.items():
        for node in section(m, where):
            for key in sorted(set(node) - keys):
                problems.append(f"{where or 'top level'}: unknown key {key!r}")
    for where, key, most in LIMITS:
        for node in section(m, where):
            value = node.get(key)
            if isinstance(value, str) and len(value) > most:
                problems.append(f"{where}.{key}: {len(value)} characters, Slack allows {most}")
    if not m.get("display_information", {}).get("name"):
        problems.append("display_information.name is required")

    commands = m.get("features", {}).get("slash_commands", [])
    if [c.get("command") for c in commands if isinstance(c, dict)] != ["/capstan"]:
        problems.append("features.slash_commands: exactly one command, /capstan")
    for c in section(m, "features.slash_commands[]"):
        for key in ("description", "usage_hint", "url"):
            if not c.get(key):
                problems.append(f"slash command {c.get('command')}: no {key}")
        if c.get("should_escape") is not False:
            problems.append(f"slash command {c.get('command')}: should_escape must be false")
        url = str(c.get("url", ""))
        if not (url.startswith("https://") and url.endswith(COMMANDS_PATH)):
            problems.append(f"slash command url {url!r}: an https URL ending in {COMMANDS_PATH}")

    interactivity = m.get("settings", {}).get("interactivity", {})
    if interactivity.get("is_enabled") is not True:
        problems.append("settings.interactivity.is_enabled must be true (confirmation buttons)")
    url = str(interactivity.get("request_url", ""))
    if not (url.startswith("https://") and url.endswith(INTERACTIONS_PATH)):
        problems.append(f"settings.interactivity.request_url {url!r}: an https URL ending in {INTERACTIONS_PATH}")

    scopes = m.get("oauth_config", {}).get("scopes", {})
    if scopes.get("bot") != ["commands"]:
        problems.append(f"oauth_config.scopes.bot is {scopes.get('bot')!r}: only ['commands']")
    if scopes.get("user"):
        problems.append("oauth_config.scopes.user: Capstan needs no user scope")
    if "event_subscriptions" in m.get("settings", {}):
        problems.append("settings.event_subscriptions: Capstan subscribes to no events")
    if m.get("settings", {}).get("socket_mode_enabled") is True:
        problems.append("settings.socket_mode_enabled: Capstan is reached over HTTPS, not Socket Mode")
    return problems


def check_template(template):
    """The template's routes and URL outputs are on the manifest's paths."""
    problems = []
    resources = template.get("Resources", {})
    fn = resources.get("SlackHandlerFunction", {}).get("Properties", {})
    paths = sorted(e.get("Properties", {}).get("Path")
                   for e in fn.get("Events", {}).values() if e.get("Type") == "HttpApi")
    if paths != sorted([COMMANDS_PATH, INTERACTIONS_PATH]):
        problems.append(f"SlackHandlerFunction's HttpApi routes are {paths}, the manifest's "
                        f"{[COMMANDS_PATH, INTERACTIONS_PATH]}")
    outputs = template.get("Outputs", {})
    for name, path in (("SlackCommandsUrl", COMMANDS_PATH), ("SlackInteractionsUrl", INTERACTIONS_PATH)):
        value = outputs.get(name, {}).get("Value", {})
        text = value.get("Fn::Sub") if isinstance(value, dict) else value
        if not (isinstance(text, str) and text.startswith("https://") and text.endswith(path)):
            problems.append(f"output {name}: should be an https URL ending in {path}")
    return problems


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    manifest_path, template_path = argv[1], argv[2]
    with open(manifest_path, encoding="utf-8") as f:
        manifest = yaml.safe_load(f)
    with open(template_path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    problems = [f"{manifest_path}: {p}" for p in check_manifest(manifest)]
    problems += [f"{template_path}: {p}" for p in check_template(template)]
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        return 1
    print(f"{manifest_path}: /capstan -> {COMMANDS_PATH}, interactivity -> {INTERACTIONS_PATH}, "
          "bot scope commands only; the template's routes and outputs match")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
