"""Load and validate incentive policy files (YAML, one policy per file).

A file is accepted whole or refused whole: every problem found is reported as a
`PolicyIssue` naming the file, the line and column, and the path inside the document
(`measures[3].benefit.cap`), and `PolicyLoadError` is raised with all of them. Known zone
codes and levels are passed in, so the reference data stays data.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path as FilePath

from crm.incentives.model import Policy
from crm.incentives.policy_schema import (
    MONEY_UNIT,
    NO_CAP,
    PolicyIssue,
    PolicyLoadError,
    PolicyValidator,
    format_path,
)
from crm.incentives.yamlsource import YamlSourceError, load_located

__all__ = [
    "MONEY_UNIT",
    "NO_CAP",
    "PolicyIssue",
    "PolicyLoadError",
    "format_path",
    "load_policies",
    "load_policy_file",
    "parse_policy",
]


def parse_policy(
    text: str,
    source: str,
    *,
    zone_codes: Collection[str],
    zone_levels: Collection[str],
) -> Policy:
    """Validate and compile one policy document.

    `source` names the document in error messages (a file name). Returns the compiled
    `Policy`, or raises `PolicyLoadError` listing every problem with its line, column and
    path: YAML errors, unknown keys, facts, operators, zone codes or levels, caps or amounts
    without the 万元 unit, malformed dates, duplicate measure ids, and so on.
    """
    try:
        located = load_located(text)
    except YamlSourceError as error:
        line = error.position.line if error.position else None
        column = error.position.column if error.position else None
        raise PolicyLoadError(
            [PolicyIssue(source, error.message, format_path(error.path), line, column)]
        ) from None
    validator = PolicyValidator(located, source, zone_codes, zone_levels)
    policy = validator.policy()
    if policy is None:
        raise PolicyLoadError(validator.issues or [PolicyIssue(source, "not a policy")])
    return policy


def load_policy_file(
    path: str | FilePath, *, zone_codes: Collection[str], zone_levels: Collection[str]
) -> Policy:
    """Read, validate and compile one policy file (UTF-8 YAML); see `parse_policy`."""
    file_path = FilePath(path)
    return parse_policy(
        file_path.read_text(encoding="utf-8"),
        str(file_path),
        zone_codes=zone_codes,
        zone_levels=zone_levels,
    )


def load_policies(
    directory: str | FilePath,
    *,
    zone_codes: Collection[str],
    zone_levels: Collection[str],
) -> tuple[Policy, ...]:
    """Load every `*.yaml` file of `directory`, in file-name order.

    All files are checked; if any is refused, or two files share a policy id,
    `PolicyLoadError` lists the problems of every file and nothing is returned.
    """
    policies: list[Policy] = []
    issues: list[PolicyIssue] = []
    seen: dict[str, str] = {}
    for file_path in sorted(FilePath(directory).glob("*.yaml")):
        try:
            policy = load_policy_file(file_path, zone_codes=zone_codes, zone_levels=zone_levels)
        except PolicyLoadError as error:
            issues.extend(error.issues)
            continue
        if policy.id in seen:
            issues.append(
                PolicyIssue(
                    str(file_path),
                    f"policy id {policy.id!r} is also used by {seen[policy.id]}",
                    "id",
                )
            )
            continue
        seen[policy.id] = str(file_path)
        policies.append(policy)
    if issues:
        raise PolicyLoadError(issues)
    return tuple(policies)
