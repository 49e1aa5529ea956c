"""The core stays headless and cheap to import: no textual, no torch until a run needs it."""

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
