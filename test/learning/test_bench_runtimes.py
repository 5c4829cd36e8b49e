"""`aevs bench runtimes`: every installed runtime's z and L_z checked against eager's, the
multiply-adds counted from the model, and a runtime that is not installed skipped by name."""
import importlib.util
import json

from aevs_ros.bench.runtimes import ForwardModeEncoder, multiply_adds
from aevs_ros.cli import main
from aevs_ros.core.network.linearize import EncoderLinearization


def test_the_traceable_pass_equals_the_servo_linearization(tiny_model, tiny_model_file):
    import torch

    linearization = EncoderLinearization(tiny_model.encoder)
    torch.manual_seed(1)
    image, interaction = torch.rand(32, 32), torch.randn(32 * 32, 6)
    latent, latent_interaction = linearization.latent_and_interaction(image, interaction)
    batch = torch.cat([image[None, None], interaction.T.reshape(6, 1, 32, 32)])
    with torch.inference_mode():
        out = ForwardModeEncoder(linearization)(batch)
    torch.testing.assert_close(out[0], latent, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[1:].T, latent_interaction, atol=1e-5, rtol=1e-5)
    assert multiply_adds(tiny_model_file) > 7 * 32 * 32  # at least the stem's work on each image


def test_runtimes_writes_exact_timings_and_skips_what_is_missing(tiny_model_file, tmp_path, capsys):
    path = tmp_path / "runtimes.json"
    assert main(["bench", "runtimes", "--runtimes", "eager,eager-channels-last,onnxruntime", "--threads", "1",
                 "--steps", "2", "--repeats", "1", "--model", str(tiny_model_file), "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    timed = {result["runtime"]: result for result in report["results"] if "ms" in result}
    assert {"eager", "eager-channels-last"} <= set(timed)
    assert all(result["exact"] and result["gmac_per_s"] > 0 for result in timed.values())
    assert report["multiply_adds"] > 0 and report["peak"]["peak_gmac_per_s"] > 0
    if importlib.util.find_spec("onnxruntime") is None:
        assert {"runtime": "onnxruntime", "skipped": "onnxruntime is not installed"} in report["results"]
        assert "onnxruntime is not installed" in capsys.readouterr().out


def test_the_peak_counts_zen4_avx512_as_one_fma_per_cycle_and_intel_as_two():
    from aevs_ros.bench.runtimes import cpu_peak, fma_units

    assert fma_units("AuthenticAMD", "avx512f") == 1  # two 256-bit pipes per 512-bit FMA
    assert fma_units("AuthenticAMD", "avx2") == fma_units("GenuineIntel", "avx512f") == 2
    peak = cpu_peak(units=1)
    if peak["fma_units_per_core"]:  # the CPU has FMA
        assert peak["peak_gmac_per_s"] == peak["cores"] * peak["clock_ghz"] * peak["fma_lanes"]
        assert f"{peak['fma_lanes']} float32 lanes" in peak["derivation"]
