"""The core stays headless and cheap to import: no textual, no torch until a run needs it."""

import os
import subprocess
import sys

import pytest

HEAVY = ("textual", "torch", "transformers", "chromadb", "sentence_transformers", "peft")


@pytest.mark.parametrize("module", ["advisor", "advisor.cli", "rag", "rag.retrieval", "finetune",
                                    "finetune.train", "advisor.verdict.render"])
def test_import_pulls_in_nothing_heavy(module):
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("package", ["rag", "finetune"])
def test_engines_do_not_import_the_advisor(package):
    code = f"import sys, pkgutil, importlib, {package}\n" \
           f"for m in pkgutil.iter_modules({package}.__path__): importlib.import_module('{package}.' + m.name)\n" \
           "print('advisor' in sys.modules, 'textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_importing_the_pretraining_module_leaves_the_kernels_alone():
    """Only `python -m advisor.calibration.pretrain` pins torch to AVX2 (to reproduce the shipped model): a process
    that merely imports the module, as the tests do, must keep its own kernels, or bfloat16 attention fails on an
    AVX-512 machine."""
    code = ("import os, advisor.calibration.pretrain, torch; "
            "print(os.environ.get('ATEN_CPU_CAPABILITY'), os.environ.get('MKL_CBWR'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")})
    assert out.stdout.split() == ["None", "None"]
