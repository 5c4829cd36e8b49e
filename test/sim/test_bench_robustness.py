"""`aevs bench robustness`: every condition on the same cases, the JSON keys the issue names."""
import json

import pytest

from aevs_ros.bench import config_overrides
from aevs_ros.cli import main
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.servo import ServoConfig


def test_boolean_and_enum_settings_parse_from_text():
    assert config_overrides(ServoConfig, ["robust=false", "normalization=histogram"]) == {
        "robust": False, "normalization": "histogram"}
    assert config_overrides(ServoConfig, ["robust=true"]) == {"robust": True}
    with pytest.raises(ConfigurationError):
        config_overrides(ServoConfig, ["robust=maybe"])


@pytest.mark.slow
def test_robustness_runs_each_condition_on_the_same_cases(tmp_path, capsys):
    path = tmp_path / "robustness.json"
    assert main(["bench", "robustness", "--cases", "2", "--tests", "look_at", "--methods", "dvs",
                 "--only", "clean,occlusion", "--iterations", "300", "--workers", "1",
                 "--json", str(path), "--out", str(tmp_path)]) == 0
    report = json.loads(path.read_text())
    results = report["results"]
    assert list(results) == ["clean", "occlusion"] and list(results["occlusion"]) == ["10%", "20%", "20% moving"]
    clean = results["clean"]["-"]["look_at"]["dvs"]
    assert clean["cases"] == 2 and 0 <= clean["converged_rate"] <= clean["reached_rate"] <= 1
    starts = {level: [r["start_error_mm"] for r in runs] for level, runs in report["records"]["occlusion"].items()}
    assert starts["10%"] == starts["20%"] == [r["start_error_mm"] for r in report["records"]["clean"]["-"]]
    assert (tmp_path / "robustness.png").is_file() and "| occlusion | 20% |" in (tmp_path / "robustness.md").read_text()


def test_unknown_perturbation_is_a_one_line_error(capsys):
    assert main(["bench", "robustness", "--only", "fog"]) == 2
    assert "unknown perturbation(s) fog" in capsys.readouterr().out
