"""TensorFlow's start-up without its "no GPU here" lines (pitot_tf/tensorflow_import.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from pitot_tf import tensorflow_import
from pitot_tf.tensorflow_import import (
    RAW_VARIABLE,
    filtered_stderr,
    hidden_messages,
    install_import_hook,
    split_lines,
)

REPO = Path(__file__).resolve().parents[1]
# As the CUDA build of TensorFlow 2.21 writes them on a machine without a GPU.
BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
NO_DRIVERS = (b"I0000 00:00:1796035071.402115   19444 cudart_stub.cc:31] Could not find cuda "
              b"drivers on your machine, GPU will not be used.\n")
NO_CUINIT = (b"E0000 00:00:1796035079.861251   19444 cuda_platform.cc:52] failed call to cuInit: "
             b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")
FACTORY = (b"E0000 00:00:1796035071.5   19444 cuda_dnn.cc:8579] Unable to register cuDNN "
           b"factory: Attempting to register factory for plugin cuDNN when one has already been "
           b"registered\n")
ONEDNN = (b"I0000 00:00:1796035083.438984   19463 port.cc:153] oneDNN custom operations are on.\n")


def test_only_the_known_lines_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    others = [ONEDNN, b"error: data.npz: key 't', row 3: negative runtime\n",
              b"Traceback (most recent call last):\n",
              b"W0000 cuda_executor.cc:1] Could not find cuda drivers, but something else too\n",
              b"E0000 cuda_dnn.cc:1] Unable to register cuDNN factory: plugin cuFFT clash\n",
              b"no line break at the end"]
    captured = b"".join([BANNER, NO_DRIVERS, others[0], NO_CUINIT, *others[1:-1], FACTORY,
                         others[-1]])
    kept, dropped = split_lines(captured)
    assert kept == b"".join(others)
    assert dropped == [line.decode().rstrip("\n") for line in (BANNER, NO_DRIVERS, NO_CUINIT,
                                                                FACTORY)]
    monkeypatch.setattr(tensorflow_import, "hidden_lines", [*dropped, *dropped])
    assert hidden_messages() == [
        "Could not find cuda drivers on your machine, GPU will not be used.",
        "failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
        "Unable to register cuDNN factory: Attempting to register factory for plugin cuDNN when "
        "one has already been registered"]


def _python(code: str, env: dict[str, str] | None = None,
            path: list[Path] | None = None) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join(str(p) for p in [*(path or []), REPO])
    environment = {name: value for name, value in os.environ.items() if name != RAW_VARIABLE}
    environment.update({"PYTHONPATH": pythonpath, **(env or {})})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=300)


def test_lines_written_from_c_level_are_filtered_and_the_rest_kept_in_order() -> None:
    first, second = BANNER + NO_DRIVERS + b"kept 1\n" + NO_CUINIT, FACTORY + b"kept 3\n"
    code = f"""
import os, sys
from pitot_tf.tensorflow_import import filtered_stderr
with filtered_stderr():
    os.write(2, {first!r})
    print("kept 2", file=sys.stderr)
    os.write(2, {second!r})
os.write(2, b"after\\n")
"""
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "kept 1\nkept 2\nkept 3\nafter\n"


def test_descriptor_2_is_restored_and_kept_lines_written_when_the_block_raises(
    capfd: pytest.CaptureFixture[str]
) -> None:
    before = os.fstat(2)
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError, match="boom"), filtered_stderr():
        os.write(2, NO_DRIVERS + b"kept on error\n")
        raise RuntimeError("boom")
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert len(os.listdir("/proc/self/fd")) == open_before, "no descriptor leaked"
    os.write(2, b"then as usual\n")
    assert capfd.readouterr().err == "kept on error\nthen as usual\n"


FAKE_TENSORFLOW = f"""
import os
os.write(2, {BANNER + NO_DRIVERS!r})
os.write(2, b"a real warning\\n")
listed = []

class config:
    @staticmethod
    def list_physical_devices():
        listed.append(1)
        os.write(2, {NO_CUINIT!r})
        return []
"""


@pytest.fixture
def fake_tensorflow(tmp_path: Path) -> Path:
    """A ``tensorflow`` package, ahead of the real one on the path, as noisy as the CUDA
    build without a GPU plus one line that must be kept."""
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(FAKE_TENSORFLOW)
    return tmp_path


def test_the_first_import_from_anywhere_is_filtered_and_finds_devices_once(
    fake_tensorflow: Path
) -> None:
    code = """
import pitot_tf, tensorflow
print(len(tensorflow.listed), type(tensorflow.__loader__).__name__,
      type(tensorflow.__spec__.loader).__name__)
tensorflow.config.list_physical_devices()  # after start-up: written as usual
"""
    result = _python(code, path=[fake_tensorflow])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "SourceFileLoader", "SourceFileLoader"]
    assert result.stderr == "a real warning\n" + NO_CUINIT.decode()


def test_the_raw_variable_turns_the_filter_off(fake_tensorflow: Path) -> None:
    result = _python("import pitot_tf, tensorflow; print(len(tensorflow.listed))",
                     env={RAW_VARIABLE: "1"}, path=[fake_tensorflow])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
    assert result.stderr == (BANNER + NO_DRIVERS).decode() + "a real warning\n"


def test_an_import_that_fails_restores_stderr_and_keeps_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(
        f"import os\nos.write(2, {NO_DRIVERS!r})\nraise ImportError('broken build')\n")
    code = """
import os, pitot_tf
try:
    import tensorflow
except ImportError as error:
    os.write(2, f"caught: {error}\\n".encode())
"""
    result = _python(code, path=[tmp_path])
    assert result.returncode == 0, result.stderr
    assert result.stderr == "caught: broken build\n"


def test_a_device_look_up_that_fails_at_import_fails_later_in_the_open(tmp_path: Path) -> None:
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(
        "class config:\n    @staticmethod\n    def list_physical_devices():\n"
        "        raise RuntimeError('no platform')\n")
    result = _python("import pitot_tf, tensorflow; tensorflow.config.list_physical_devices()",
                     path=[tmp_path])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "RuntimeError: no platform"


def test_the_hook_is_a_no_op_once_tensorflow_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    finders = [f for f in sys.meta_path
               if not isinstance(f, tensorflow_import._TensorFlowFinder)]
    monkeypatch.setattr(sys, "meta_path", list(finders))
    monkeypatch.delenv(RAW_VARIABLE, raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    install_import_hook()
    assert sys.meta_path == finders
    monkeypatch.delitem(sys.modules, "tensorflow")
    install_import_hook()
    install_import_hook()
    assert [type(f).__name__ for f in sys.meta_path].count("_TensorFlowFinder") == 1


def test_the_installed_tensorflow_starts_and_trains_without_a_word_on_stderr() -> None:
    """Whichever build is installed (``tensorflow`` or ``tensorflow-cpu``), on any machine:
    import through Keras, find devices, run an XLA-compiled fit, then report the threads."""
    code = """
import numpy as np, pitot_tf, keras, tensorflow as tf
from pitot_tf.training.runtime import configure_threads
configure_threads()
tf.config.list_physical_devices()
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse", jit_compile=True)
model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=1, verbose=0)
print(tf.config.threading.get_intra_op_parallelism_threads())
"""
    result = _python(code, env={"PITOT_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert result.stderr == ""


def test_keras_optional_libraries_are_not_loaded_with_tensorflow_but_import_after() -> None:
    """scikit-learn and matplotlib, which Keras would load for features pitot-tf never uses,
    stay out of TensorFlow's import (whichever of Keras and TensorFlow comes first) and still
    import afterwards for whoever needs them."""
    for first in ("keras", "tensorflow"):
        code = f"""
import sys, pitot_tf, {first}, tensorflow, keras
print(sorted({{"sklearn", "matplotlib"}} & set(sys.modules)))
import sklearn.ensemble, matplotlib
print(sorted({{"sklearn", "matplotlib"}} & set(sys.modules)))
"""
        result = _python(code)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split("\n")[:2] == ["[]", "['matplotlib', 'sklearn']"]


def test_the_extras_variable_lets_tensorflow_load_them() -> None:
    code = "import sys, pitot_tf, tensorflow; print(sorted({'sklearn'} & set(sys.modules)))"
    result = _python(code, env={tensorflow_import.EXTRAS_VARIABLE: "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['sklearn']"
