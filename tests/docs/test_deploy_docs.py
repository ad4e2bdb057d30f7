"""docs/deploy.md and docs/pilot_runbook.md name only commands, settings, paths and files
that exist, and the configuration reference lists every setting, with its real default.

The docs are checked as text: every ``cei …`` command line is run with ``--help`` through
the real CLI (an unknown subcommand or option fails), every ``factory_client.py …`` line is
parsed by the client's own argument parser, every API and page path is matched against the
app's routes, and every ``CEI_*`` variable must be one that CEI, its client or its tests
read (a configuration key, or a ``cei`` command option's environment variable).
"""

import re
import runpy
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from werkzeug.exceptions import MethodNotAllowed, NotFound

from cei import config as cei_config
from cei import gunicorn_config
from cei.cli import cli, register_commands

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy.md"
RUNBOOK = ROOT / "docs" / "pilot_runbook.md"
DEPLOY_FILES = sorted((ROOT / "docs" / "deploy").iterdir())
DOCS = [DEPLOY, RUNBOOK, *DEPLOY_FILES, ROOT / "Procfile"]



def command_options_with_variables():
    """``{variable: click option}`` of every ``cei`` command option an environment variable sets."""
    host = Flask("cei-commands")
    register_commands(host)
    found = {}
    pending = list(host.cli.commands.values())
    while pending:
        command = pending.pop()
        if isinstance(command, click.Group):
            pending.extend(command.commands.values())
        for param in command.params:
            names = [param.envvar] if isinstance(param.envvar, str) else param.envvar or []
            found.update((name, param) for name in names if name.startswith("CEI_"))
    return found


CONFIG_VARIABLES = {f"CEI_{name}" for name in cei_config.ENV_KEYS}
COMMAND_VARIABLES = command_options_with_variables()
SERVER_VARIABLES = CONFIG_VARIABLES | set(COMMAND_VARIABLES)
# Where `cei` starts a command: a line or inline-code start, after a path's /bin/, or after
# a Procfile process name.
CEI_COMMAND = re.compile(r"(?:^|/bin/|^[a-z]+: )cei ([a-z][^`#;&|)\"'\n]*)")
CLIENT_COMMAND = re.compile(r"factory_client\.py((?: [^`#;&|)\"'\n]*)?)")
FENCED = r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```"
NOT_APP_PATHS = ("/opt/", "/etc/", "/var/", "/srv/", "/usr/", "/tmp/", "/dev/", "/bin/", "/run/")


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
        # %i: a template unit's instance name, here instance 1.
        for line in text_of(path).replace("%i", "1").splitlines():
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
    assert {"CEI_LOG_FORMAT", "CEI_METRICS_TOKEN", "CEI_WORKER_METRICS_PORT"} <= SERVER_VARIABLES
    assert set(rows) == SERVER_VARIABLES
    for name in SERVER_VARIABLES:
        assert section.count(f"| `{name}` |") == 1, name


def test_the_configuration_reference_gives_the_real_defaults():
    _, rows = reference_rows()
    # The defaults as a process sees them with no CEI_* variable set (LOG_FORMAT settled).
    defaults = cei_config.settings_from_environment({})
    production = cei_config.settings_from_environment({"CEI_ENV": "production"})
    checked = 0
    for variable, cell in rows.items():
        shown = re.match(r"\s*`([^`]+)`", cell)
        if variable in COMMAND_VARIABLES:
            default = COMMAND_VARIABLES[variable].default
            if isinstance(default, (str, int)):
                assert shown.group(1) == str(default), variable
            else:  # None, or click's marker for "no default"
                assert cell.strip().startswith("unset"), variable
            checked += 1
            continue
        key = cei_config.ENV_KEYS[variable.removeprefix("CEI_")]
        if key != "CEI_ENV" and production[key] != defaults[key]:  # `text`; `json` when …
            assert shown.group(1) == defaults[key], variable
            assert f"`{production[key]}` when `CEI_ENV=production`" in cell, variable
        elif key in cei_config.INT_KEYS:
            assert int(shown.group(1)) == defaults[key], variable
        elif key in cei_config.BOOL_KEYS:
            assert shown.group(1) == str(defaults[key]).lower(), variable
        elif shown and isinstance(defaults[key], str):
            assert shown.group(1) == defaults[key], variable
        elif defaults[key] is None and cell.strip().startswith("unset"):
            pass
        else:
            continue
        checked += 1
    assert checked >= 15


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


QUERY_ATOMS = ("%(q)s", "%(r)s", "%(u)s")  # the query string, the request line holding it


def deploy_gunicorn_settings():
    return runpy.run_path(str(ROOT / "docs" / "deploy" / "gunicorn.conf.py"))


def test_the_gunicorn_settings_are_valid_and_log_no_query_strings():
    from gunicorn.config import Config

    settings = deploy_gunicorn_settings()
    config = Config()
    names = [name for name in settings if name in config.settings]
    assert {"workers", "threads", "timeout", "logger_class", "on_starting", "child_exit"} <= set(
        names
    )
    for name in names:
        config.set(name, settings[name])
    # CEI's logger and hooks (JSON lines, the metrics directory), not copies of them.
    assert config.logger_class is gunicorn_config.CeiLogger
    assert config.on_starting is gunicorn_config.on_starting
    assert config.child_exit is gunicorn_config.child_exit
    # The app writes the access log; gunicorn's stays off unless --access-logfile asks.
    assert "accesslog" not in settings and config.accesslog is None
    for log_format in (config.access_log_format, gunicorn_config.access_log_format):
        assert "%(U)s" in log_format
        assert not [atom for atom in QUERY_ATOMS if atom in log_format], log_format
    assert config.workers == 2 and config.threads == 4 and config.timeout == 120


def test_the_gunicorn_check_catches_a_query_string_format():
    from gunicorn.config import Config

    config = Config()
    assert "%(r)s" in config.access_log_format  # gunicorn's default writes the request line
    assert "%(U)s" not in config.access_log_format


def unit_file(name):
    return text_of(ROOT / "docs" / "deploy" / name)


def test_each_gunicorn_gets_a_metrics_directory_of_its_own_and_workers_none():
    web = unit_file("cei-web.service")
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/cei-web\n" in web
    assert "RuntimeDirectory=cei-web\n" in web  # systemd creates it for this unit alone
    procfile = {
        line.split(": ", 1)[0]: line.split(": ", 1)[1]
        for line in text_of(ROOT / "Procfile").splitlines()
        if re.match(r"^[a-z]+: ", line)
    }
    # One directory per gunicorn: honcho gives each web process its own $PORT.
    assert procfile["web"].startswith("PROMETHEUS_MULTIPROC_DIR=/tmp/cei-metrics-$PORT gunicorn ")
    assert "-c docs/deploy/gunicorn.conf.py" in procfile["web"]
    for name in ("cei-worker@.service", "cei-scheduler.service", "cei.env.example"):
        assert "PROMETHEUS_MULTIPROC_DIR" not in unit_file(name), name
    for process in ("worker", "scheduler"):
        assert "PROMETHEUS_MULTIPROC_DIR" not in procfile[process]
    worker = unit_file("cei-worker@.service")
    assert "cei worker --no-dispatcher --metrics-port 910%i\n" in worker
    assert re.search(r"`cei-worker@N` uses port 910N", text_of(DEPLOY))


def test_the_deploy_guide_shows_a_prometheus_scrape_config_for_web_and_workers():
    section = text_of(DEPLOY).split("## 11. Logs and metrics", 1)[1].split("\n## ", 1)[0]
    config = re.search(r"```yaml\n(.*?)```", section, flags=re.S).group(1)
    assert "scrape_configs:" in config and config.count("credentials_file:") == 2
    targets = re.findall(r'"[\w.-]+:(\d+)"', config)
    assert "8000" in targets and "9101" in targets
    for setting in ("CEI_METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR", "CEI_LOG_FORMAT"):
        assert setting in section, setting


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
