"""``pitot-tf info``: the TensorFlow build, devices, threads and XLA setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pitot_tf.cli import app, register_commands
from pitot_tf.cli.info import describe


def test_info_reports_this_installation() -> None:
    """In a fresh process (in this one, an earlier test may have started TensorFlow with its
    default threads before the thread settings could apply)."""
    pitot_tf = str(Path(sys.executable).with_name("pitot-tf"))
    done = subprocess.run([pitot_tf, "info", "--json"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(facts["distributions"]) == 1, "one TensorFlow distribution, not two"
    assert facts["intra_op_threads"] >= 1 and facts["inter_op_threads"] >= 1
    assert facts["xla_jit_compile"] is True
    assert facts["gpus"] == len([d for d in facts["devices"] if d.startswith("GPU:")])
    register_commands()
    lines = CliRunner().invoke(app, ["info"]).output
    assert "tensorflow " in lines and "threads: intra-op" in lines and "XLA:" in lines


def test_describe_a_gpu_build_and_a_doubled_install() -> None:
    facts = {"tensorflow": "2.21.0", "distributions": ["tensorflow", "tensorflow-cpu"],
             "cuda_build": True, "cuda_version": "12.5", "cudnn_version": "9",
             "devices": ["CPU:/physical_device:CPU:0", "GPU:/physical_device:GPU:0"], "gpus": 1,
             "threads_variable": "4", "intra_op_threads": 4, "inter_op_threads": 2,
             "cpu_count": 16, "xla_jit_compile": False, "tf_xla_flags": ""}
    lines = describe(facts)
    assert lines[0] == ("tensorflow 2.21.0 (tensorflow, tensorflow-cpu; built with CUDA 12.5 / "
                        "cuDNN 9)")
    assert "no GPU" not in lines[1]
    assert lines[2] == "threads: intra-op 4, inter-op 2 of 16 cores (PITOT_THREADS=4)"
    assert lines[3].startswith("XLA: gradient step not compiled")
    assert lines[-1].startswith("warning: several TensorFlow distributions")


def test_without_a_gpu_info_says_what_tensorflow_said_while_starting() -> None:
    """The start-up lines hidden elsewhere (pitot_tf/tensorflow_import.py) explain a missing
    GPU; with a GPU found they are not shown."""
    facts = {"tensorflow": "2.21.0", "distributions": ["tensorflow"], "cuda_build": True,
             "cuda_version": "12.5.1", "cudnn_version": "9",
             "devices": ["CPU:/physical_device:CPU:0"], "gpus": 0,
             "startup_notes": ["Could not find cuda drivers on your machine, GPU will not be "
                               "used.", "failed call to cuInit: UNKNOWN ERROR (303)"],
             "threads_variable": "", "intra_op_threads": 2, "inter_op_threads": 2,
             "cpu_count": 2, "xla_jit_compile": True, "tf_xla_flags": ""}
    lines = describe(facts)
    assert lines[1].endswith("(no GPU found)")
    assert lines[2] == ("  TensorFlow, starting: Could not find cuda drivers on your machine, "
                        "GPU will not be used; failed call to cuInit: UNKNOWN ERROR (303)")
    with_gpu = describe({**facts, "gpus": 1})
    assert not any("starting" in line for line in with_gpu)
