"""docs/deploy.md and docs/pilot_runbook.md name only commands, settings, paths and files
that exist, and the configuration reference lists every setting, with its real default.

The docs are checked as text: every ``cei …`` command line is run with ``--help`` through
the real CLI (an unknown subcommand or option fails), every ``factory_client.py …`` line is
parsed by the client's own argument parser, every API and page path is matched against the
app's routes, and every ``CEI_*`` variable must be one that CEI, its client or its tests
read.
"""

import re
import runpy
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from werkzeug.exceptions import MethodNotAllowed, NotFound

from cei import config as cei_config
from cei.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy.md"
RUNBOOK = ROOT / "docs" / "pilot_runbook.md"
DEPLOY_FILES = sorted((ROOT / "docs" / "deploy").iterdir())
DOCS = [DEPLOY, RUNBOOK, *DEPLOY_FILES, ROOT / "Procfile"]

SERVER_VARIABLES = {f"CEI_{name}" for name in cei_config.ENV_KEYS}
# Where `cei` starts a command: a line or inline-code start, after a path's /bin/, or after
# a Procfile process name.
CEI_COMMAND = re.compile(r"(?:^|/bin/|^[a-z]+: )cei ([a-z][^`#;&|)\"'\n]*)")
CLIENT_COMMAND = re.compile(r"factory_client\.py((?: [^`#;&|)\"'\n]*)?)")
FENCED = r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```"
NOT_APP_PATHS = ("/opt/", "/etc/", "/var/", "/srv/", "/usr/", "/tmp/", "/dev/", "/bin/")


def text_of(path):
    return path.read_text(encoding="utf-8")


def code_fragments(text):
    """Every code block line and every inline code span (whitespace collapsed)."""
    fragments = []
    blocks = re.findall(FENCED, text, flags=re.S | re.M)
    for block in blocks:
        fragments.extend(line.strip() for line in _join_continued(block).splitlines())
    prose = re.sub(FENCED, "", text, flags=re.S | re.M)
    fragments.extend(" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose))
    return fragments


def _join_continued(block):
    return re.sub(r"\\\n\s*", " ", block)


def unit_and_procfile_lines():
    lines = []
    for path in [*DEPLOY_FILES, ROOT / "Procfile"]:
        for line in text_of(path).splitlines():
            if line.startswith("ExecStart="):
                lines.append(line.removeprefix("ExecStart="))
            elif re.match(r"^[a-z]+: ", line):
                lines.append(line)
    return lines


def cei_commands():
    """``[(document, [words])]`` of every ``cei`` command the docs and unit files name."""
    found = []
    for path in (DEPLOY, RUNBOOK):
        for fragment in code_fragments(text_of(path)):
            found.extend((path.name, words) for words in _cei_words(fragment))
    for line in unit_and_procfile_lines():
        found.extend(("unit files/Procfile", words) for words in _cei_words(line))
    return found


def _cei_words(fragment):
    for match in CEI_COMMAND.finditer(fragment):
        words = [word for word in shlex.split(match.group(1)) if not word.startswith("$")]
        if words:
            yield words


@pytest.fixture
def run_cei(app):
    """Run ``cei <words> --help`` through the real CLI group, bound to the test app."""
    runner = CliRunner()
    info = ScriptInfo(create_app=lambda: app)

    def run(words):
        return runner.invoke(cli, [*words, "--help"], obj=info, catch_exceptions=False)

    return run


def test_the_docs_name_the_commands_an_operator_needs():
    named = {" ".join(words[:2]) for _, words in cei_commands()}
    for command in (
        "init-db",
        "worker --no-dispatcher",
        "dispatch",
        "db current",
        "db heads",
        "plugins",
        "rollups rebuild",
        "reports weekly",
        "reports generate",
    ):
        assert any(name.startswith(command) for name in named), command


def test_every_cei_command_in_the_docs_exists(run_cei):
    commands = cei_commands()
    assert len(commands) >= 15
    for where, words in commands:
        result = run_cei(words)
        assert result.exit_code == 0, f"{where}: cei {' '.join(words)}\n{result.output}"
        assert "Usage: " in result.output


def test_the_command_check_catches_a_wrong_command_or_option(run_cei):
    assert run_cei(["worker", "--no-such-option"]).exit_code != 0
    assert run_cei(["no-such-command"]).exit_code != 0
    assert list(_cei_words("cei dispatch --once   # one pass")) == [["dispatch", "--once"]]
    assert list(_cei_words("sudo -u cei sh -c 'x'")) == []


def client_parser():
    namespace = runpy.run_path(str(ROOT / "client" / "factory_client.py"))
    return namespace["build_parser"]()


def test_every_factory_client_command_in_the_docs_parses():
    parser = client_parser()
    checked = 0
    for path in (DEPLOY, RUNBOOK):
        for fragment in code_fragments(text_of(path)):
            for match in CLIENT_COMMAND.finditer(fragment):
                words = [w for w in shlex.split(match.group(1)) if not w.startswith("$")]
                if "--help" in words:
                    continue
                try:
                    parser.parse_args(words)
                except SystemExit as exc:
                    pytest.fail(f"{path.name}: factory_client.py {' '.join(words)} ({exc})")
                checked += 1
    assert checked >= 6
    # The client's options the runbook names on their own, e.g. `--timezone Europe/Rome`.
    flags = [f for f in code_fragments(text_of(RUNBOOK)) if re.match(r"--[a-z]", f)]
    assert len(flags) >= 5
    options = {o for action in parser._actions for o in action.option_strings}
    for fragment in flags:
        words = shlex.split(fragment)
        assert words[0] in options, f"pilot_runbook.md: no client option {words[0]}"
        if len(words) > 1:  # given with its value: the whole must parse
            try:
                parser.parse_args(words)
            except SystemExit as exc:
                pytest.fail(f"pilot_runbook.md: client option {fragment} ({exc})")
    with pytest.raises(SystemExit):
        parser.parse_args(["--no-such-flag"])


def documented_variables(path):
    return set(re.findall(r"\bCEI_[A-Z][A-Z0-9_]*[A-Z0-9]\b", text_of(path)))


def client_variables():
    """What the client reads, and what its scheduler files set (``CEI_CLIENT_ARGS``)."""
    names = set(re.findall(r"\"(CEI_[A-Z0-9_]+)\"", text_of(ROOT / "client" / "factory_client.py")))
    for path in (ROOT / "client" / "systemd").iterdir():
        names |= set(re.findall(r"^#?\s*(CEI_[A-Z0-9_]+)=", text_of(path), flags=re.M))
    return names


def test_every_cei_variable_in_the_docs_is_read_by_cei_or_its_client():
    known = SERVER_VARIABLES | client_variables()
    assert {"CEI_BASE_URL", "CEI_INT_TOKEN", "CEI_FACTORY_CSV_PATH"} <= known
    for path in DOCS:
        unknown = documented_variables(path) - known
        assert not unknown, f"{path.relative_to(ROOT)} names unknown settings {sorted(unknown)}"


def test_the_unit_files_and_the_example_settings_use_server_settings_only():
    for path in [*DEPLOY_FILES, ROOT / "Procfile"]:
        assert documented_variables(path) <= SERVER_VARIABLES, path.name


def reference_rows():
    section = text_of(DEPLOY).split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(CEI_[A-Z_]+)` \| ([^|]+) \|", section, flags=re.M)
    return section, dict(rows)


def test_the_configuration_reference_lists_every_setting_once():
    section, rows = reference_rows()
    assert set(rows) == SERVER_VARIABLES
    for name in SERVER_VARIABLES:
        assert section.count(f"| `{name}` |") == 1, name


def test_the_configuration_reference_gives_the_real_defaults():
    _, rows = reference_rows()
    defaults = cei_config.DefaultConfig
    checked = 0
    for variable, cell in rows.items():
        key = cei_config.ENV_KEYS[variable.removeprefix("CEI_")]
        shown = re.match(r"\s*`([^`]+)`", cell)
        if key in cei_config.INT_KEYS:
            assert int(shown.group(1)) == getattr(defaults, key), variable
        elif key in cei_config.BOOL_KEYS:
            assert shown.group(1) == str(getattr(defaults, key)).lower(), variable
        elif shown and isinstance(getattr(defaults, key, None), str):
            assert shown.group(1) == getattr(defaults, key), variable
        else:
            continue
        checked += 1
    assert checked >= 10


def test_fixed_settings_in_the_docs_exist_with_the_values_given():
    section = text_of(DEPLOY).split("Fixed in `cei/config.py`", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", section, flags=re.M)
    assert len(rows) >= 9
    for name, value in rows:
        actual = getattr(cei_config.DefaultConfig, name)
        if isinstance(actual, str):
            assert actual.startswith(value.strip()), name
        else:
            assert actual == float(value), name


def app_paths(text):
    paths = set(re.findall(r"(/api/v1/[A-Za-z0-9_/<>.-]*[A-Za-z0-9_>])", text))
    paths |= set(re.findall(r"https://cei\.example\.com(/[a-z][a-z0-9_/<>-]*)", text))
    for span in re.findall(r"`(/[a-z][A-Za-z0-9_/<>-]*)`", text):
        if not span.startswith(NOT_APP_PATHS) and span != "/api/v1":
            paths.add(span)
    return paths


def test_every_api_path_and_page_in_the_docs_exists(app):
    adapter = app.url_map.bind("cei.example.com")
    checked = 0
    for path in (DEPLOY, RUNBOOK):
        for route in sorted(app_paths(text_of(path))):
            concrete = re.sub(r"<[^>]+>", "1", route)
            try:
                adapter.match(concrete, method="GET")
            except MethodNotAllowed:
                pass  # the path exists for other methods (POST …)
            except NotFound:
                pytest.fail(f"{path.name}: no route for {route}")
            checked += 1
    assert checked >= 25
    with pytest.raises(NotFound):
        adapter.match("/api/v1/no-such-thing", method="GET")


def test_every_repository_file_the_docs_name_exists():
    names = set()
    for path in DOCS:
        text = text_of(path)
        names |= {f"docs/deploy/{name}" for name in re.findall(r"docs/deploy/([\w.@-]+)", text)}
        names |= set(re.findall(r"/opt/cei/((?!\.venv)[\w.@/-]*[\w])", text))
        names |= set(re.findall(r"\b(client/[\w./-]*[\w])", text))
    assert len(names) >= 12
    missing = sorted(name for name in names if not (ROOT / name).exists())
    assert not missing


def test_the_gunicorn_settings_are_valid_and_log_no_query_strings():
    from gunicorn.config import Config

    settings = runpy.run_path(str(ROOT / "docs" / "deploy" / "gunicorn.conf.py"))
    config = Config()
    names = [name for name in settings if name in config.settings]
    assert {"workers", "threads", "timeout", "access_log_format"} <= set(names)
    for name in names:
        config.set(name, settings[name])
    makefile = text_of(ROOT / "Makefile")
    make_format = re.search(r"^ACCESS_LOG_FORMAT := '(.*)'$", makefile, flags=re.M).group(1)
    assert config.access_log_format == make_format
    assert "%(U)s" in config.access_log_format and "%(r)s" not in config.access_log_format


def test_the_readme_links_both_documents():
    readme = text_of(ROOT / "README.md")
    assert "(docs/deploy.md)" in readme and "(docs/pilot_runbook.md)" in readme


def test_the_runbook_keeps_the_pilot_scenarios_sections_in_order():
    headings = re.findall(r"^## (\d+)\. (.+)$", text_of(RUNBOOK), flags=re.M)
    assert [int(number) for number, _ in headings] == list(range(1, len(headings) + 1))
    titles = " / ".join(title.lower() for _, title in headings)
    order = [
        "requirements",
        "organization",
        "token",
        "client",
        "schedule",
        "validate",
        "troubleshoot",
        "success",
    ]
    positions = [titles.find(word) for word in order]
    assert -1 not in positions and positions == sorted(positions), titles
