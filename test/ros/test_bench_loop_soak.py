"""`aevs bench loop --load` and `aevs bench soak` write their reports, and the CPU load they use
(bench/load.py) never outlives its block. Performance is reported by these benchmarks, never
asserted here.
"""
import json
import os
import time

import pytest

from aevs_ros.bench.load import busy_processes
from aevs_ros.bench.soak import normalise_reason
from aevs_ros.cli import main


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_busy_processes_are_killed_when_the_block_ends():
    with busy_processes(2) as pids:
        assert len(pids) == 2 and all(_running(pid) for pid in pids)
    assert not any(_running(pid) for pid in pids)

    with pytest.raises(RuntimeError), busy_processes(1) as pids:
        raise RuntimeError('the measurement failed')
    assert not _running(pids[0])


def test_a_busy_process_stops_on_its_own_after_its_time_bound():
    with busy_processes(1, max_seconds=0.5) as pids:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and open(f'/proc/{pids[0]}/stat').read().split()[2] != 'Z':
            time.sleep(0.1)  # exited, not reaped yet: a zombie
        assert open(f'/proc/{pids[0]}/stat').read().split()[2] == 'Z'
    assert not _running(pids[0])


def test_reasons_group_without_their_numbers():
    assert (normalise_reason('fault: stale camera: no image for 1.23 s')
            == normalise_reason('fault: stale camera: no image for 0.5 s')
            == 'fault: stale camera: no image for # s')
    assert normalise_reason('fault: unsupported encoding mono16') == 'fault: unsupported encoding mono16'


@pytest.mark.slow
def test_bench_loop_with_load_writes_the_new_keys(ros_domain_id, tmp_path, capsys):
    path = tmp_path / 'loop.json'
    assert main(['bench', 'loop', '--methods', 'dvs', '--frames', '20', '--load', '1', '--json', str(path)]) == 0
    report = json.loads(path.read_text())
    assert report['load'] == 1 and report['warm_up']['frames'] == 30 and 'cpu_count' in report['machine']
    dvs = report['methods']['dvs']
    for key in ('camera_rate', 'closed_loop', 'answered_share_after_warmup', 'closed_loop_rate_hz',
                'core_step_ms', 'closed_loop_to_core_ratio'):
        assert key in dvs, key
    assert set(dvs['latency_ms']) >= {'median', 'p95'}
    assert dvs['closed_loop_to_core_ratio'] == pytest.approx(
        dvs['closed_loop']['period_ms']['median'] / dvs['core_step_ms'])
    assert set(dvs['goals_met']) == {'answered', 'latency_p95', 'closed_loop_to_core', 'all'}
    assert 'closed/core' in capsys.readouterr().out


@pytest.mark.slow
def test_bench_soak_runs_the_sim_graph_and_writes_one_row(ros_domain_id, tmp_path, capsys):
    path = tmp_path / 'soak.json'
    assert main(['bench', 'soak', '--runs', '1', '--method', 'dvs', '--json', str(path),
                 '--out', str(tmp_path)]) == 0
    report = json.loads(path.read_text())
    assert report['method'] == 'dvs' and report['load'] == 0 and len(report['runs']) == 1
    row = report['runs'][0]
    assert row['run'] == 0 and isinstance(row['converged'], bool) and row['reason']
    assert row['domain_id'] != ros_domain_id
    for key in ('iterations', 'final_error_mm', 'final_error_deg', 'wall_s', 'no_command_while_servoing'):
        assert key in row, key
    assert report['converged'] + report['not_converged'] == 1
    assert sum(report['reasons'].values()) == 1
    assert set(report['goals_met']) == {'all_converged', 'no_command_while_servoing'}
    assert (tmp_path / 'soak.png').is_file()
    assert 'NO_COMMAND while SERVOING' in capsys.readouterr().out
