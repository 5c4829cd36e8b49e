"""A tiny `aevs bench table1` run writes the JSON contract, the Markdown table and the PNGs."""
import json

import pytest

from aevs_ros.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def table1_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("table1")
    code = main(["bench", "table1", "--cases", "2", "--methods", "dvs,dct", "--iterations", "25",
                 "--size", "64", "--workers", "2", "--servo", "gain=12", "--out", str(out),
                 "--json", str(out / "result.json")])
    return code, out


def test_writes_the_json_contract(table1_run):
    code, out = table1_run
    assert code == 0
    report = json.loads((out / "result.json").read_text())
    assert report["iterations"] == 25 and "1 cm" in report["criterion"]
    assert report["servo_config"]["gain"] == 12 and report["sim_config"]["max_iterations"] == 25
    for test in ("look_at", "screw"):
        for method in ("dvs", "dct"):
            summary = report["results"][test][method]
            for key in ("converged_rate", "converged_rate_loose", "median_end_error_mm",
                        "median_end_error_deg", "mean_end_error_mm", "mean_end_error_deg",
                        "mean_iterations", "wall_time_s", "cases", "dropped"):
                assert key in summary
            assert summary["cases"] + summary["dropped"] == 2
            assert 0 <= summary["converged_rate"] <= summary["converged_rate_loose"] <= 1
    records = report["records"]
    assert len(records) == 2 * 2 * 2
    assert all(0 < r["iterations"] <= 25 and r["stop_reason"] for r in records)
    for test in ("look_at", "screw"):
        for method in ("dvs", "dct"):
            counted = report["results"][test][method]["stop_reasons"]
            kept = [r for r in records if r["test"] == test and r["method"] == method]
            assert sum(counted.values()) == len(kept)
            assert counted.get("converged", 0) == sum(r["stop"] == "converged" for r in kept)
    assert {"converged", "stop_reason", "iterations", "end_error_mm", "end_error_deg"} <= records[0].keys()


def test_writes_table_and_figures(table1_run):
    _, out = table1_run
    assert "| dvs |" in (out / "table1.md").read_text()
    for name in ("table1_convergence.png", "table1_end_errors.png"):
        assert (out / name).stat().st_size > 1000
    assert len(list(out.glob("table1_example_*.png"))) == 2 * 2


@pytest.mark.parametrize("method, missing", [("pca", "none.npz"), ("siame", "none.pt")])
def test_missing_model_is_skipped_with_a_message(tmp_path, capsys, method, missing):
    code = main(["bench", "table1", "--cases", "1", "--methods", method, f"--{method}", str(tmp_path / missing),
                 "--out", str(tmp_path)])
    assert code == 2
    output = capsys.readouterr().out
    assert f"skipping {method}" in output and missing in output


def test_every_stop_reason_has_a_label_in_the_summaries():
    from aevs_ros.bench.convergence import STOP_LABELS
    from aevs_ros.core.outcome import StopReason

    assert set(STOP_LABELS) == {reason.value for reason in StopReason}
