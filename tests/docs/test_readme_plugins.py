"""The README lists every built-in analytics plugin registered in setup.cfg."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_built_in_plugin_is_in_the_readme_table():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    lines = setup["options.entry_points"]["cei.analytics"].strip().splitlines()
    names = [line.split("=")[0].strip() for line in lines]
    assert len(names) == 6
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Analytics plugins", 1)[1].split("\n## ", 1)[0]
    for name in names:
        assert f"| `{name}` |" in section, name
