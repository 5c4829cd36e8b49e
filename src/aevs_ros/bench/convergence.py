"""Records and statistics of convergence benchmarks (table1, sweep-latent): one record per run,
summaries per test and method, the Markdown table and the criterion's wording.

A run counts as converged when the servo stopped at the goal with a final error under 1 cm and
1 deg (core.outcome); the loose rate also accepts a run that reduced both errors below 10 % of
their start values. End errors are over converged runs, as in the paper. Failures are counted
by their core.outcome.StopReason.
"""
from __future__ import annotations


#: Loose criterion: final errors below this share of the start errors also count.
LOOSE_REDUCTION = 0.10


def criterion_text() -> str:
    from ..core.outcome import CONVERGED_ROTATION_DEG, CONVERGED_TRANSLATION_M

    return (f"converged: the servo declared convergence and the final pose error is below "
            f"{CONVERGED_TRANSLATION_M * 100:g} cm and {CONVERGED_ROTATION_DEG:g} deg; converged_loose: "
            f"final errors below those bounds, or both below {LOOSE_REDUCTION:.0%} of the start errors "
            f"(servo verdict not needed). End errors (median/mean) are over converged runs.")


def case_record(case, result) -> dict:
    from ..core.outcome import CONVERGED_ROTATION_DEG, CONVERGED_TRANSLATION_M, outcome_from_simulation

    outcome = outcome_from_simulation(result)
    start_t, start_r = outcome["start_translation_error_m"], outcome["start_rotation_error_deg"]
    final_t, final_r = outcome["final_translation_error_m"], outcome["final_rotation_error_deg"]
    at_goal = final_t < CONVERGED_TRANSLATION_M and final_r < CONVERGED_ROTATION_DEG
    reduced = final_t < LOOSE_REDUCTION * start_t and final_r < LOOSE_REDUCTION * start_r
    return {"test": case.test, "case": case.index, "method": outcome["method"],
            "converged": outcome["converged"], "converged_loose": bool(at_goal or reduced),
            "stop_reason": outcome["stop_reason"], "stop": outcome["stop"], "iterations": outcome["iterations"],
            "start_error_mm": start_t * 1000, "start_error_deg": start_r,
            "end_error_mm": final_t * 1000, "end_error_deg": final_r,
            "wall_time_s": outcome["wall_time_s"]}


def failed_record(case, method: str, reason: str) -> dict:
    """The record of a run the simulator refused (its errors are the start errors)."""
    from ..core import se3
    from ..core.outcome import StopReason

    start_t, start_r = se3.pose_error(case.start_pose, case.goal_pose)
    return {"test": case.test, "case": case.index, "method": method, "converged": False,
            "converged_loose": False, "stop_reason": reason, "stop": StopReason.ERROR.value, "iterations": 0,
            "start_error_mm": start_t * 1000, "start_error_deg": start_r, "end_error_mm": start_t * 1000,
            "end_error_deg": start_r, "wall_time_s": 0.0, "cpu_time_s": 0.0}


#: How the summaries name each core.outcome.StopReason (the JSON's stop_reasons keys).
STOP_LABELS = {"converged": "converged", "budget_exhausted": "budget exhausted", "out_of_view": "scene out of view",
               "diverging": "feature error grew", "too_far": "camera too far", "stalled": "stalled (local minimum)",
               "fault": "other fault", "error": "simulator error"}


def summarize(records: list[dict], dropped: int) -> dict:
    import numpy as np

    converged = [r for r in records if r["converged"]]
    end_mm = np.array([r["end_error_mm"] for r in converged])
    end_deg = np.array([r["end_error_deg"] for r in converged])
    reasons: dict[str, int] = {}
    for record in records:
        category = STOP_LABELS[record["stop"]]
        reasons[category] = reasons.get(category, 0) + 1

    def statistic(function, values):
        return float(function(values)) if len(values) else None

    count = len(records)
    return {
        "cases": count, "dropped": dropped,
        "converged": len(converged),
        "converged_rate": len(converged) / count if count else None,
        "converged_rate_loose": sum(r["converged_loose"] for r in records) / count if count else None,
        "median_end_error_mm": statistic(np.median, end_mm),
        "median_end_error_deg": statistic(np.median, end_deg),
        "mean_end_error_mm": statistic(np.mean, end_mm),
        "mean_end_error_deg": statistic(np.mean, end_deg),
        "max_end_error_mm": statistic(np.max, end_mm),
        "mean_iterations": statistic(np.mean, [r["iterations"] for r in records]),
        "mean_iterations_converged": statistic(np.mean, [r["iterations"] for r in converged]),
        "wall_time_s": float(sum(r["wall_time_s"] for r in records)),
        "cpu_time_s": float(sum(r.get("cpu_time_s", 0.0) for r in records)),
        "stop_reasons": reasons,
    }


def summarize_all(records, cases: dict, dropped: dict, methods, summary=None) -> dict:
    """{test: {method: summary}}; ``summary`` (default summarize) makes each one."""
    summary = summary or summarize
    return {test: {method: summary([r for r in records if r["test"] == test and r["method"] == method],
                                   dropped[test])
                   for method in methods} for test in cases}


def markdown_table(results: dict, tests: list[str], methods: list[str]) -> str:
    """Table I layout: per test, convergence % (strict / loose) and median end error."""
    header = "| method |" + "".join(
        f" {test} conv. % (loose) | {test} end error mm, deg | {test} mean iter. |" for test in tests)
    lines = [header, "|---|" + "---|---|---|" * len(tests)]
    for method in methods:
        cells = []
        for test in tests:
            summary = results.get(test, {}).get(method)
            if not summary or not summary["cases"]:
                cells += ["-", "-", "-"]
                continue
            cells.append(f"{summary['converged_rate'] * 100:.1f} "
                         f"({summary['converged_rate_loose'] * 100:.1f})")
            cells.append("-" if summary["median_end_error_mm"] is None else
                         f"{summary['median_end_error_mm']:.3g}, {summary['median_end_error_deg']:.3g}")
            cells.append(f"{summary['mean_iterations']:.0f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def projected_full_run_s(results: dict, workers: int, cases_per_test: int = 500) -> float:
    """Wall time of the full default table on idle cores, from the CPU time per run measured here.

    CPU time rather than wall time, so that other load on the machine does not inflate it.
    """
    total = 0.0
    for summaries in results.values():
        for summary in summaries.values():
            if summary["cases"]:
                total += summary["cpu_time_s"] / summary["cases"] * cases_per_test
    return total / workers
