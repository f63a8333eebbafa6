"""``pitot-tf info``: the TensorFlow this installation trains with.

Prints the TensorFlow version and which distribution provides it (``tensorflow-cpu`` or
``tensorflow``; both at once means an install that overwrote itself), whether it was built
with CUDA, the devices it finds (and, when it finds no GPU, what it said about that while
starting), the threads training uses (``PITOT_THREADS``) and whether the gradient step is
XLA-compiled (``training.jit_compile``).
"""

from __future__ import annotations

import json

import typer

from pitot_tf.cli.app import app


@app.command("info")
def info(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Show the TensorFlow build, devices, threads and XLA setting."""
    from pitot_tf.training.runtime import runtime_info

    facts = runtime_info()
    if as_json:
        typer.echo(json.dumps(facts))
        return
    for line in describe(facts):
        typer.echo(line)


def describe(facts: dict[str, object]) -> list[str]:
    """The facts as short lines for people."""
    distributions = list(facts["distributions"]) or ["(unknown)"]  # type: ignore[call-overload]
    cuda = (f"built with CUDA {facts['cuda_version']} / cuDNN {facts['cudnn_version']}"
            if facts["cuda_build"] else "CPU-only build")
    lines = [
        f"tensorflow {facts['tensorflow']} ({', '.join(distributions)}; {cuda})",
        f"devices: {', '.join(facts['devices'])}"  # type: ignore[arg-type]
        + ("" if facts["gpus"] else " (no GPU found)"),
        f"threads: intra-op {facts['intra_op_threads']}, inter-op {facts['inter_op_threads']} "
        f"of {facts['cpu_count']} cores (PITOT_THREADS={facts['threads_variable'] or 'unset'})",
        f"XLA: gradient step {'compiled' if facts['xla_jit_compile'] else 'not compiled'} "
        "(training.jit_compile)"
        + (f"; TF_XLA_FLAGS={facts['tf_xla_flags']}" if facts["tf_xla_flags"] else ""),
    ]
    notes = list(facts.get("startup_notes") or [])  # type: ignore[call-overload]
    if notes and not facts["gpus"]:
        lines.insert(2, "  TensorFlow, starting: " + "; ".join(n.rstrip(".") for n in notes))
    if len(facts["distributions"]) > 1:  # type: ignore[arg-type]
        lines.append("warning: several TensorFlow distributions are installed and overwrite "
                     "each other; uninstall them all and reinstall pitot-tf (see README: GPU)")
    return lines
