"""The kd-studio command: what it prints, and one-line errors with non-zero exits."""

import os
import subprocess
import sys

import pytest

from kd_core.cli import main


def run_cli(*args, timeout=300):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "kd_core.cli", *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_models_check_prints_each_role(tiny_llama_dir, tiny_llama_adapter, tiny_gpt2_dir):
    out = run_cli("models", "check", "--base", str(tiny_llama_dir), "--adapter", str(tiny_llama_adapter),
                  "--target", str(tiny_gpt2_dir), "--max-new-tokens", "4")
    assert out.returncode == 0, out.stderr[-2000:]
    for role in ("[base]", "[finetuned]", "[target]"):
        assert role in out.stdout
    for field in ("class", "parameters", "dtype", "device", "memory_mb", "greedy"):
        assert out.stdout.count(f"    {field}") == 3
    assert "GPT2LMHeadModel" in out.stdout and "KD Studio default" in out.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--base", "/no/such/model"], "model path does not exist: /no/such/model"),
        (["--base", "{tmp}"], "is not a model directory"),
        (["--base", "{llama}", "--adapter", "{other}"], "is not a PEFT adapter"),
        (["--target", "{bad_gguf}"], "is not a GGUF model file"),
        (["--base", "{llama}", "--dtype", "float8"], "unknown dtype 'float8'"),
        (["--base", "{llama}", "--device", "cuda"], "no CUDA GPU is available"),
    ],
    ids=["missing", "not-model", "not-adapter", "bad-gguf", "bad-dtype", "no-cuda"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, tiny_llama_dir, args, expected, capsys):
    bad_gguf = tmp_path / "fake.gguf"
    bad_gguf.write_bytes(b"\x00" * 64)
    (tmp_path / "empty").mkdir()
    subs = {"{tmp}": str(tmp_path / "empty"), "{llama}": str(tiny_llama_dir), "{other}": str(tmp_path / "empty"), "{bad_gguf}": str(bad_gguf)}
    args = [subs.get(a, a) for a in args]
    if "--target" in args and "--base" not in args:
        args = ["--base", str(tiny_llama_dir), *args]
    # In-process (the subprocess path is covered above): same main(), no 5 s import per case.
    code = main(["models", "check", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("kd-studio: error: ") and expected in lines[0], err


def test_help_imports_no_torch_and_says_nothing_on_stderr():
    """`kd-studio --help` (and every command's) builds the parser only: no torch, transformers
    or bitsandbytes (seconds of imports and their warnings) until a command runs."""
    import subprocess
    import sys

    from kd_core.cli import recipes
    from kd_core.tuneshift.recipe_config import STAGES

    assert recipes.RECIPE_STAGES == STAGES  # the help's copy of the stages
    code = ("import sys; from kd_core.cli import build_parser; p = build_parser()\n"
            "heavy = [m for m in ('torch', 'transformers', 'bitsandbytes', 'peft') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "" and out.stderr == "", (out.stdout, out.stderr)
    for argv in (["--help"], ["serve", "--help"], ["train", "--help"], ["users", "add", "--help"]):
        out = subprocess.run([sys.executable, "-m", "kd_core.cli", *argv], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and out.stderr == "" and "usage: kd-studio" in out.stdout, (argv, out.stderr[-500:])


def test_a_command_that_loads_models_says_nothing_on_stderr_about_hub_kernels():
    """bitsandbytes' and kernels' notices that a Hub kernel could not be fetched (AVX-512
    bf16 CPUs; `kernels` is installed with transformers >= 5.25) are dropped, since KD
    Studio never downloads at run time; their other warnings are kept.  The notices are
    logged by hand too, so that the filter is checked where neither library tries."""
    import subprocess
    import sys

    code = ("import logging, kd_core, peft, bitsandbytes\n"
            "log = logging.getLogger('bitsandbytes.backends.cpu.ops')\n"
            "log.warning('Failed to load CPU gemm_4bit_forward from kernels-community: No module named kernels. Please make sure')\n"
            "logging.getLogger('kernels._internals.hf_hub').warning(\n"
            "    \"Skipping publisher trust check for 'kernels-community/quantization-bitsandbytes' because offline\")\n"
            "log.warning('another bitsandbytes warning')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "kernels" not in out.stderr and out.stderr.strip() == "another bitsandbytes warning", out.stderr


def test_the_expand_help_names_every_generator():
    from kd_core.cli import build_parser
    from kd_core.tuneshift.generators import GENERATORS

    parser = build_parser()
    expand = parser._subparsers._group_actions[0].choices["expand"]
    said = next(a.help for a in expand._actions if "--generators" in a.option_strings)
    assert all(name in said for name in GENERATORS), said
