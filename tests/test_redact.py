"""Secret redaction: every family of secret is masked before any engine sees it, and the rest stays readable.

The token formats come from the vendored gitleaks rules; the structural families (quoted passwords with
spaces, literal defaults, PHP define, URLs with credentials, DSN keys, connection strings) from narrator's
own rules. Each family has a test; the end-to-end tests send real commits and real ``narrate explain`` code
to a local OpenAI-compatible server and look at what it received.
"""

from __future__ import annotations

import json
import logging
import time

import pytest

from narrator.engines import redact as redact_module
from narrator.engines.redact import MASK, is_secrets_file, is_secrets_text, redact, redact_files
from narrator.prompts import FileDiff

# Fake credentials in the real formats, built from pieces so that this file is not itself a leak report.
AWS_ID = "AKIA" + "Q3EGRT5LZ7X2WPHN"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq8Hb3vL"
GITHUB_PAT = "ghp_" + "Zx9Kq2Lm4Np6Rt8Vw0Yb1Dc3Fg5Hj7Kl9Mn2"
GITHUB_FINE = "github_pat_" + "11ABCDEFG0" + "q8W2e4R6t8Y0u2I4o6P8a0S2d4F6g8H0j2K4l6Z8x0C2v4B6n8M0q2W4e6R8t0Y2u4I6o8P0a2S4"
SLACK_BOT = "xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "https://hooks.slack.com/services/" + "T0A1B2C3D/B0A1B2C3D/" + "aB3dE5fG7hJ9kL1mN3pQ5rS7"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSJ9."
       + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
STRIPE_LIVE = "sk_live_" + "51HqLyjWDarjtT1zdp7dc0Ab9Cd"
STRIPE_WEBHOOK = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SENTRY_KEY = "4f2a9c1e7b3d48e6a0f5c2b9d1e8a7f3"


def _assert_masked(text: str, *secrets: str) -> str:
    out = redact(text)
    for secret in secrets:
        assert secret not in out, (secret, out)
    assert MASK in out
    assert redact(out) == out  # idempotent
    return out


# -- one test per family -------------------------------------------------------------------------------------

def test_django_secret_key_with_a_literal_default_in_parentheses():
    out = _assert_masked("+SECRET_KEY = get_env('DJANGO_SECRET_KEY', 'django-insecure-9x!k2@vq#l0w$e7r')\n",
                         "django-insecure-9x!k2@vq#l0w$e7r")
    assert "get_env('DJANGO_SECRET_KEY'" in out  # the variable's name stays: the model can say what changed
    out = _assert_masked('SECRET_KEY = os.environ.get("SECRET_KEY", "dev only, not for prod")\n',
                         "dev only, not for prod")
    assert 'os.environ.get("SECRET_KEY"' in out
    _assert_masked('DB_PASSWORD = env("DB_PASSWORD", default="pa ss, word")\n', "pa ss, word")
    _assert_masked('API_TOKEN = os.getenv("API_TOKEN") or "fallback-token-123"\n', "fallback-token-123")


def test_passwords_with_spaces_or_commas_in_quotes():
    _assert_masked('+DB_PASSWORD = "correct horse battery staple"\n', "correct horse battery staple")
    _assert_masked('{"password": "a, b, and c"}\n', "a, b, and c")
    _assert_masked("password: 'with spaces, and commas'\n", "with spaces, and commas")
    _assert_masked('connect(host="db", password="it\'s a secret")\n', "it's a secret")
    _assert_masked("$config['db_pass'] = 'two words';\n", "two words")
    _assert_masked("return ['db_pass' => 'two, words'];\n", "two, words")


def test_php_define_constants():
    _assert_masked("define('DB_PASSWORD', 'my secret pw');\n", "my secret pw")
    _assert_masked('define( "AUTH_KEY", "x9#Lq@2!vR ^7z" );\n', "x9#Lq@2!vR ^7z")
    out = _assert_masked("define('DB_PASSWORD', 'hunter2');\ndefine('DB_NAME', 'shop');\n", "hunter2")
    assert "'shop'" in out  # only secret-named constants


def test_stripe_keys_and_webhook_secrets():
    _assert_masked(f'stripe.api_key = "{STRIPE_LIVE}"\n', STRIPE_LIVE)
    _assert_masked(f"endpoint_secret = '{STRIPE_WEBHOOK}'\n", STRIPE_WEBHOOK)
    _assert_masked(f"construct_event(payload, sig, {STRIPE_WEBHOOK})\n", STRIPE_WEBHOOK)  # bare, no name


def test_sentry_dsn_keys():
    dsn = f"https://{SENTRY_KEY}@o123456.ingest.sentry.io/4504"
    out = _assert_masked(f'sentry_sdk.init("{dsn}")\n', SENTRY_KEY)
    assert "ingest.sentry.io" in out
    _assert_masked(f"SENTRY_DSN={dsn}\n", SENTRY_KEY)


def test_aws_keys():
    _assert_masked(f"aws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n", AWS_ID, AWS_SECRET)
    _assert_masked(f"boto3.client('s3', aws_access_key_id='{AWS_ID}')\n", AWS_ID)
    _assert_masked(f"creds: {AWS_ID}\n", AWS_ID)  # the key id alone, under any name


def test_github_tokens():
    _assert_masked(f"git clone https://{GITHUB_PAT}@github.com/acme/app.git\n", GITHUB_PAT)
    _assert_masked(f"headers = {{'Authorization': 'token {GITHUB_PAT}'}}\n", GITHUB_PAT)
    _assert_masked(f"GH = '{GITHUB_FINE}'\n", GITHUB_FINE)


def test_slack_tokens_and_webhooks():
    out = _assert_masked(f"client = WebClient(token='{SLACK_BOT}')\nrequests.post('{SLACK_HOOK}', json=msg)\n",
                         SLACK_BOT, SLACK_HOOK.rsplit("/", 1)[-1])
    assert "requests.post(" in out


def test_jwts():
    _assert_masked(f"curl -H 'x-session: {JWT}' https://api.example.com\n", JWT)
    _assert_masked(f'const session = "{JWT}";\n', JWT)


def test_private_key_blocks_in_diffs_and_cut_off():
    body = "\n".join("+" + "MIIEowIBAAKCAQEA7bq" * 3 for _ in range(4))
    block = f"+-----BEGIN RSA PRIVATE KEY-----\n{body}\n+-----END RSA PRIVATE KEY-----\n"
    out = _assert_masked("+# deploy key\n" + block + "+DONE = 1\n", "MIIEowIBAAKCAQEA7bq")
    assert "+# deploy key" in out and "+DONE = 1" in out
    # a diff cut by the prompt budget may hold only the start of a key
    _assert_masked("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n",
                   "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ")


def test_urls_with_user_and_password():
    out = _assert_masked('DATABASE_URL = "postgres://app:s3cr3t-pw@db.example.com:5432/app"\n', "s3cr3t-pw")
    assert "db.example.com" in out
    out = _assert_masked("broker = amqp://guest:Gu3st%21pw@rabbit:5672//\n", "Gu3st%21pw")
    assert "amqp://guest:" in out and "@rabbit" in out


def test_connection_strings():
    ado = "Server=tcp:db;Database=app;User Id=app;Password=P@ss w0rd!x;Encrypt=True;"
    out = _assert_masked(f'conn = "{ado}"\n', "P@ss w0rd!x")
    assert "Database=app" in out
    azure = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + "q1W2e3R4t5Y6u7I8o9P0" * 4 + "==;"
    _assert_masked(azure, "q1W2e3R4t5Y6u7I8o9P0")


def test_cli_flags_and_auth_headers():
    _assert_masked('mysql --password="two words" -h db\n', "two words")
    _assert_masked("login --token=abcd1234efgh5678\n", "abcd1234efgh5678")
    _assert_masked("Authorization: Basic dXNlcjpwYXNzd29yZA==\n", "dXNlcjpwYXNzd29yZA==")
    _assert_masked("curl -H 'Authorization: Bearer 0a1b2c3d4e5f6a7b8c9d' api\n", "0a1b2c3d4e5f6a7b8c9d")


def test_ordinary_code_stays_readable():
    text = ('password = os.environ["DB_PASSWORD"]\ntoken = request_token\ntimeout = 30\n'
            'api_version = "2024-06-01"\nauthor = "Ada Lovelace"\ndef check_password(user, given):\n'
            "    return verify(user.password_hash, given)\n")
    text += "# Test basic arithmetic functions\nBearer tokens are described in RFC 6750.\n"
    out = redact(text)
    assert out == text


# -- files that are never sent -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    ".env", "config/prod.env", ".env.local", ".env.production", ".envrc", "public/.htpasswd",
    "home/.docker/config.json", "kubeconfig", "deploy/kubeconfig.yaml", "home/.kube/config", "certs/server.pem",
    "tls/server.key", "deploy/id_rsa", "keys/id_ed25519", ".netrc", ".pgpass", ".git-credentials",
    "infra/terraform.tfstate", "secrets.yaml", "aws/credentials", "signing/release.p12",
])
def test_secrets_files_by_name(path):
    assert is_secrets_file(path)
    [safe] = redact_files([FileDiff(path, "+anything=at all\n")])
    assert safe.diff == ""


@pytest.mark.parametrize("path", ["docs/env.md", "src/environment.py", "config.json", "app/keys.py",
                                  "deploy/service.yaml", "id_rsa.pub", "README.md"])
def test_ordinary_files_are_sent(path):
    assert not is_secrets_file(path)


def test_credentials_files_by_content():
    kube = ("apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
            "    client-certificate-data: LS0tLS1CRUdJTiBDRVJU\n    client-key-data: LS0tLS1CRUdJTiBSU0Eg\n")
    docker = '{\n  "auths": {\n    "registry.example.com": {\n      "auth": "dXNlcjpodW50ZXIy"\n    }\n  }\n}\n'
    assert is_secrets_text(kube) and is_secrets_text(docker)
    files = redact_files([FileDiff("deploy/cluster.yaml", kube), FileDiff("ci/config.json", docker),
                          FileDiff("deploy/app.yaml", "replicas: 3\n")])
    assert [f.diff for f in files] == ["", "", "replicas: 3\n"]


# -- safety of the scanner itself ------------------------------------------------------------------------------

def test_secrets_are_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    text = f'SECRET_KEY = "{STRIPE_WEBHOOK}"\n{AWS_ID}\n'
    redact(text)
    redact_files([FileDiff("a.py", text), FileDiff(".env", text)])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert STRIPE_WEBHOOK not in logged and AWS_ID not in logged


def test_a_scan_that_runs_out_of_time_withholds_the_text(monkeypatch):
    monkeypatch.setattr(redact_module, "SCAN_TIMEOUT_S", 1e-9)
    text = ("api_key token secret password " * 2000 + "\n") * 20
    assert redact(text) == MASK


def test_hostile_text_is_scanned_in_linear_time():
    lines = ["password=" + "a" * 200_000, "token " * 50_000, "x" * 300_000 + "@", "-----BEGIN PRIVATE KEY-----" * 2000,
             ("key=" + "b" * 90 + " ") * 5000]
    for text in lines:
        start = time.perf_counter()
        redact(text)
        assert time.perf_counter() - start < 10, text[:20]


# -- end to end: what a model server receives ------------------------------------------------------------------

SECRET_SOURCE = f"""import os
SECRET_KEY = get_env('DJANGO_SECRET_KEY', 'django-insecure-9x!k2@vq#l0w$e7r')
DB_PASSWORD = "correct horse, battery staple"
STRIPE = "{STRIPE_WEBHOOK}"
SENTRY = "https://{SENTRY_KEY}@o1.ingest.sentry.io/1"


def connect(retries=3):
    \"\"\"Open the shop database.\"\"\"
    password = "hunter2 hunter2"
    return open_db("shop", password, retries)
"""
SENT_SECRETS = ["django-insecure-9x!k2@vq#l0w$e7r", "correct horse, battery staple", STRIPE_WEBHOOK, SENTRY_KEY,
                "hunter2 hunter2"]


@pytest.fixture
def serve():
    from test_engine_openai import FakeServer

    servers = []

    def start(script):
        servers.append(FakeServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _server(serve):
    from test_engine_openai import answer

    return serve(lambda i, body: (200, answer("Opens the shop database with the stored password."), 0, None))


def test_report_diffs_sent_to_the_server_are_redacted(serve, git_repo):
    from narrator.engines.base import NarrationRequest
    from narrator.git.classify import Classifier
    from narrator.git.walker import GitDiffs, Repository, read_facts
    from test_engine_openai import engine_for

    server = _server(serve)
    sha = git_repo.commit(f"feat: connect to the shop database (token {GITHUB_PAT})",
                          {"shop/settings.py": SECRET_SOURCE, "config/prod.env": "STRIPE=sk_live_x\n",
                           ".envrc": "export API=1\n", "deploy/kube.yaml": "client-key-data: QUJDREVGR0hJSktM\n"})
    repo = Repository.open(git_repo.path)
    [facts] = list(read_facts(repo, [sha]))
    engine_for(server.url).narrate([NarrationRequest(facts, Classifier().classify(facts))], diffs=GitDiffs(repo))
    sent = json.dumps(server.requests)
    assert server.requests
    for secret in SENT_SECRETS + [GITHUB_PAT, "sk_live_x", "QUJDREVGR0hJSktM"]:
        assert secret not in sent, secret
    assert "def connect" in sent


def test_narrate_explain_with_the_openai_engine_redacts_the_code(serve, git_repo):
    from narrator.explain import explain
    from narrator.git.walker import Repository
    from test_engine_openai import engine_for

    server = _server(serve)
    git_repo.commit("feat: settings", {"shop/settings.py": SECRET_SOURCE})
    repo = Repository.open(git_repo.path)
    for target in ("shop/settings.py", "shop/settings.py:connect"):
        explain(repo, target, engine=engine_for(server.url))
    sent = json.dumps(server.requests)
    assert len(server.requests) == 2
    for secret in SENT_SECRETS:
        assert secret not in sent, secret
    assert "def connect" in sent


def test_explain_refuses_credentials_files_by_name_and_content(git_repo):
    from narrator.errors import UsageError
    from narrator.explain import explain
    from narrator.git.walker import Repository

    git_repo.commit("chore", {"config/prod.env": "A=1\n", "deploy/cluster.yaml": "client-key-data: QUJD\n"})
    repo = Repository.open(git_repo.path)
    for target in ("config/prod.env", "deploy/cluster.yaml"):
        with pytest.raises(UsageError, match="holds secrets"):
            explain(repo, target)


def test_every_family_of_the_issue_through_the_real_commands(serve, git_repo, tmp_path):
    """`narrate report --engine openai` and `narrate explain --engine openai`, as a user runs them: the local
    server receives none of the secrets of the families the issue names (secrets files by name and content,
    Django SECRET_KEY with parentheses, passwords with spaces or commas, PHP define, Stripe whsec_, Sentry DSN)."""
    from conftest import run_narrate

    server = _server(serve)
    htpasswd = "admin:$apr1$" + "Qx7zP2mB$k9VfT3wYhR1sLc0Ju8nEa/"
    docker_auth = "ZGVwbG95Omh1bnRlcjJodW50ZXIy"
    kube_key = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo="
    php = "define('DB_PASSWORD', 'php-define-S3cret!');\n"
    git_repo.commit("feat: start", {"shop/__init__.py": "\n"})
    git_repo.commit("chore: deployment files", {
        "config/prod.env": "DB_PASSWORD=prod-env-S3cret\n", ".envrc": "export API_TOKEN=envrc-S3cret\n",
        "public/.htpasswd": htpasswd + "\n",
        "ops/.docker/config.json": '{"auths": {"registry.example.com": {"auth": "' + docker_auth + '"}}}\n',
        "ci/registry.json": '{"auths": {"r.example.com": {"auth": "' + docker_auth[::-1] + '"}}}\n',
        "deploy/cluster.yaml": "users:\n- name: ci\n  user:\n    client-key-data: " + kube_key + "\n"})
    git_repo.commit("feat: shop settings", {"shop/settings.py": SECRET_SOURCE, "web/config.php": "<?php\n" + php})
    config = tmp_path / "user.toml"
    config.write_text(f'[engines.openai]\nbase_url = "{server.url}"\nmodel = "tiny"\napi_key_env = ""\n',
                      encoding="utf-8")
    env = {"NARRATOR_CONFIG_FILE": str(config)}
    report = run_narrate("report", "--repo", str(git_repo.path), "--since", "2026-11-01", "--engine", "openai",
                         "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    for target in ("shop/settings.py", "shop/settings.py:connect", "web/config.php"):
        proc = run_narrate("explain", target, "--repo", str(git_repo.path), "--engine", "openai", env=env)
        assert proc.returncode == 0, proc.stderr
    for target in ("config/prod.env", ".envrc", "public/.htpasswd", "ops/.docker/config.json", "ci/registry.json",
                   "deploy/cluster.yaml"):
        proc = run_narrate("explain", target, "--repo", str(git_repo.path), "--engine", "openai", env=env)
        assert proc.returncode == 2 and "holds secrets" in proc.stderr, (target, proc.stderr)
    sent = json.dumps(server.requests)
    assert len(server.requests) >= 4 and "def connect" in sent
    for secret in SENT_SECRETS + ["prod-env-S3cret", "envrc-S3cret", htpasswd, docker_auth, docker_auth[::-1],
                                  kube_key, "php-define-S3cret!"]:
        assert secret not in sent, secret
        assert secret not in report.stdout, secret
