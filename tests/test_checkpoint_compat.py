"""Checkpoints holding nerfstudio's scheduler state load under torch's weights_only rule."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # the project's commands, run end to end


def test_nerfstudio_scheduler_state_round_trips_only_with_the_allowlist(tmp_path):
    script = textwrap.dedent(
        f"""
        import pickle, torch
        from nerfstudio.engine.schedulers import ExponentialDecaySchedulerConfig
        param = torch.nn.Parameter(torch.zeros(3))
        optimizer = torch.optim.Adam([param], lr=5e-3)
        scheduler = ExponentialDecaySchedulerConfig(lr_final=5e-4, max_steps=100).setup().get_scheduler(optimizer, 5e-3)
        for _ in range(3):
            optimizer.step(); scheduler.step()
        path = r"{tmp_path / "step-3.ckpt"}"
        torch.save({{"optimizers": {{"fields": optimizer.state_dict()}},
                    "schedulers": {{"fields": scheduler.state_dict()}}}}, path)
        try:
            torch.load(path, map_location="cpu")
            raise SystemExit("expected nerfstudio's numpy learning rates to be refused")
        except pickle.UnpicklingError:
            pass
        import rad_nerfstudio.method_configs  # what nerfstudio imports through our entry point
        state = torch.load(path, map_location="cpu")
        assert abs(float(state["optimizers"]["fields"]["param_groups"][0]["lr"]) - scheduler.get_last_lr()[0]) < 1e-12
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip().endswith("ok")
