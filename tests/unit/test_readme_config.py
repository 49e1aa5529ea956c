"""The README's example settings file is valid: every key is a setting and every value passes its checks."""

import re
import tomllib
from pathlib import Path

from advisor.config import AdvisorConfig


def test_the_readme_toml_example_loads(tmp_path):
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    path = tmp_path / "advisor.toml"
    path.write_text("\n".join(line.removeprefix("  ") for line in block.splitlines()), encoding="utf-8")
    assert tomllib.loads(path.read_text())["constraints"]
    config = AdvisorConfig.from_toml(path, corpus="docs")
    assert config.finetune_rag and config.constraints.must_cite_sources
    assert config.constraints.data_may_leave_machine is False
