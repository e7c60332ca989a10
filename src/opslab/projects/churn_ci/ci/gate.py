"""The quality gate: may this model become the challenger? And the Markdown summary of the decision."""

from __future__ import annotations


def decide(candidate: dict, champion: dict | None, gate: dict, failed_tests: list[str]) -> tuple[bool, list[str]]:
    """(passed, reasons). Fails on a failed test, an AUC below the floor, or an AUC drop beyond the margin.

    With no champion yet (a fresh project), the floor and the tests decide alone: the first model
    that passes them becomes the first challenger, and promoting it writes champion.json.
    """
    reasons = [f"test failed: {name}" for name in failed_tests]
    auc = candidate["roc_auc"]
    if auc < gate["min_auc"]:
        reasons.append(f"AUC {auc:.4f} is below the floor {gate['min_auc']:.4f}")
    if champion is not None and auc < champion["roc_auc"] - gate["max_auc_drop"]:
        reasons.append(f"AUC {auc:.4f} is {champion['roc_auc'] - auc:.4f} below the champion's "
                       f"{champion['roc_auc']:.4f} (allowed drop: {gate['max_auc_drop']:.4f})")
    return not reasons, reasons


def summary_table(metrics: dict, champion: dict | None, passed: bool, reasons: list[str], version) -> str:
    """The job summary: the metrics next to the champion's, and the gate's decision."""
    old = (champion or {}).get("metrics", {})
    who = f"champion (version {champion.get('version', '?')})" if champion else "champion (none yet)"
    lines = ["## Quality gate: " + ("passed ✅" if passed else "failed ❌"), "",
             f"| metric | {who} | this commit | change |", "| --- | ---: | ---: | ---: |"]
    for name, value in metrics.items():
        before = old.get(name)
        change = f"{value - before:+.4f}" if before is not None else "new"
        lines.append(f"| {name} | {before if before is not None else '-'} | {value} | {change} |")
    lines.append("")
    lines += [f"- {reason}" for reason in reasons] or ["- every test passed and no metric fell past its margin"]
    if version is not None:
        lines.append(f"- registered as `churn-ci` version {version}, alias `@challenger`")
    return "\n".join(lines) + "\n"
