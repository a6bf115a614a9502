"""The dashboard in a real browser: Playwright driving Debian's headless Chromium against the dev
stack (embedded Redis, front end, worker). Screenshots go to test-output/dashboard/."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.auth import hash_token
from service.embedded_redis import free_port
from tests.processes import ROOT, descendants, spawn, wait_for

CHROMIUM = os.environ.get("WARMSTEP_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "test-output" / "dashboard"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.timeout(180)


def _run_stack(tmp: Path, extra_env: dict[str, str]) -> Iterator[str]:
    env = {
        k: v for k, v in os.environ.items() if not (k.startswith("WARMSTEP_") or k == "REDIS_URL")
    }
    port = free_port()
    env |= {
        "WARMSTEP_DATA_DIR": str(tmp / "data"),
        "WARMSTEP_HTTP_PORT": str(port),
        "WARMSTEP_GRPC_PORT": str(free_port()),
        "WARMSTEP_LOG_LEVEL": "warning",
        **extra_env,
    }
    dev = spawn(["dev"], env, tmp / "dev.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/readyz").json()["workers"] == 1 or None, "a worker")
        yield base
    finally:
        family = descendants(dev.pid)
        dev.terminate()
        try:
            dev.wait(30)
        except subprocess.TimeoutExpired:
            dev.kill()
        for pid in family:
            subprocess.run(["kill", "-9", str(pid)], check=False, capture_output=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _run_stack(tmp_path_factory.mktemp("dashboard"), {})


TOKEN = "dashboard-token-4b7e0c91d2a6"


@pytest.fixture(scope="module")
def auth_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dev stack with auth on: one token (configured as its sha256 digest)."""
    tokens = json.dumps({hash_token(TOKEN): "browser"})
    yield from _run_stack(
        tmp_path_factory.mktemp("dashboard-auth"), {"WARMSTEP_AUTH_TOKENS": tokens}
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _expected_points(
    base: str, t_max: int, steps: int, points: int, headers: dict[str, str] | None = None
) -> tuple[int, float]:
    body = {
        "schedule": {"type": "CosineAnnealingLR", "T_max": t_max, "eta_min": 0.0},
        "base_lr": 0.1,
        "steps": steps,
        "points": points,
    }
    answer = httpx.post(f"{base}/v1/schedules/evaluate", json=body, headers=headers)
    lr = answer.raise_for_status().json()["lr"][0]
    return len(lr), sum(lr)


def _chart_state(page: Any) -> dict[str, str]:
    state: dict[str, str] = page.eval_on_selector(
        "#explorer-chart",
        "e => ({...e.dataset, canvases: String(e.querySelectorAll('canvas').length)})",
    )
    return state


def test_explorer_redraws_with_the_downsampled_point_count(stack: str, page: Any) -> None:
    page.goto(f"{stack}/dashboard/#/explorer?kind=torch/CosineAnnealingLR")
    page.wait_for_selector("#explorer-chart[data-revision]")
    page.fill("#steps", "100000")
    page.fill("#points", "300")
    page.fill("[data-param=T_max]", "100000")
    count, total = _expected_points(stack, 100_000, 100_000, 300)
    assert 300 < count <= 600, "min and max of each bucket"
    page.wait_for_function(f"document.querySelector('#explorer-chart').dataset.points == '{count}'")
    before = _chart_state(page)
    assert before["canvases"] == "1" and abs(float(before["checksum"]) - total) < 1e-6 * total

    page.fill("[data-param=T_max]", "25000")  # a shorter period: a different curve
    count2, total2 = _expected_points(stack, 25_000, 100_000, 300)
    page.wait_for_function(
        f"document.querySelector('#explorer-chart').dataset.checksum != '{before['checksum']}'"
    )
    page.wait_for_function(
        f"document.querySelector('#explorer-chart').dataset.points == '{count2}'"
    )
    after = _chart_state(page)
    assert abs(float(after["checksum"]) - total2) < 1e-6 * total2
    assert int(after["revision"]) > int(before["revision"])
    assert page.is_hidden("#auth-box") and page.is_hidden("#auth-forget"), "auth off: no token"

    page.click("#pin")  # overlay the current curve, then a bad value shows next to its field
    page.wait_for_function("document.querySelector('#explorer-chart').dataset.series == '2'")
    page.fill("[data-param=T_max]", "")
    error = page.wait_for_selector("[data-error-for='schedule.T_max']:has-text('T_max')")
    assert "T_max" in error.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "explorer.png"), full_page=True)


SMALL_JOB = {
    "name": "browser-test",
    "model": {"name": "mlp"},
    "data": {"name": "iris"},
    "optimizer": {"type": "AdamW", "lr": 0.01},
    "schedule": {"type": "get_cosine_schedule_with_warmup"},
    "batch_size": 16,
    "epochs": 3,
    "warmup_ratio": 0.1,
    "eval_every_steps": 6,
}


def test_submitted_job_live_chart_runs_to_completion(stack: str, page: Any) -> None:
    page.goto(f"{stack}/dashboard/#/jobs")
    page.wait_for_selector("#submit-job")
    page.fill("#spec", json.dumps({**SMALL_JOB, "batch_size": 0}, indent=2))
    page.click("#submit-job")
    mark = page.wait_for_selector("#spec-errors .mark")
    assert "batch_size" in mark.inner_text()

    page.fill("#spec", json.dumps(SMALL_JOB, indent=2))
    page.click("#submit-job")
    page.wait_for_url("**/dashboard/#/jobs/*")
    job_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("[data-done]", timeout=120_000)
    job = httpx.get(f"{stack}/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded"
    total = job["totals"]["total_updates"]
    page.wait_for_function(f"document.querySelector('#job-progress').dataset.steps == '{total}'")
    assert page.inner_text("#job-progress") == f"{total}/{total} steps"
    assert (
        page.eval_on_selector_all(
            "#chart-lr canvas, #chart-loss canvas, #chart-grad canvas", "c => c.length"
        )
        == 3
    )
    assert page.inner_text("#job-status") == "succeeded"
    page.wait_for_selector("#artifacts a:has-text('model')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "job.png"), full_page=True)
    page.goto(f"{stack}/dashboard/#/jobs")
    page.wait_for_selector(f"tr[data-job='{job_id}'] [data-status=succeeded]")


def _enter_token(page: Any, token: str, *, rejected: bool) -> None:
    page.wait_for_selector(f"#auth-box[data-rejected='{int(rejected)}']:not([hidden])")
    page.fill("#auth-token", token)
    page.click("#auth-submit")


def test_explorer_and_job_page_ask_for_a_token_when_auth_is_on(auth_stack: str, page: Any) -> None:
    assert httpx.get(f"{auth_stack}/v1/schedules/kinds").status_code == 401, "auth is on"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    page.goto(f"{auth_stack}/dashboard/#/explorer?kind=torch/CosineAnnealingLR")
    _enter_token(page, "not-a-configured-token", rejected=False)
    _enter_token(page, TOKEN, rejected=True)  # the wrong one is refused: asked again
    assert "not accepted" in page.inner_text("#auth-message")
    page.wait_for_selector("#explorer-chart[data-revision]")
    assert page.is_hidden("#auth-box") and page.is_visible("#auth-forget")
    assert page.evaluate("localStorage.getItem('warmstep.token')") == TOKEN
    count, total = _expected_points(auth_stack, 10_000, 10_000, 1000, auth)
    page.wait_for_function(f"document.querySelector('#explorer-chart').dataset.points == '{count}'")
    assert abs(float(_chart_state(page)["checksum"]) - total) < 1e-6 * total

    page.goto(f"{auth_stack}/dashboard/#/jobs")  # the stored token serves the other pages
    page.fill("#spec", json.dumps(SMALL_JOB, indent=2))
    page.click("#submit-job")
    page.wait_for_url("**/dashboard/#/jobs/*")
    job_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("[data-done]", timeout=120_000)  # SSE with ?access_token=
    job = httpx.get(f"{auth_stack}/v1/jobs/{job_id}", headers=auth).json()
    assert job["status"] == "succeeded"
    total_updates = job["totals"]["total_updates"]
    page.wait_for_function(
        f"document.querySelector('#job-progress').dataset.steps == '{total_updates}'"
    )
    assert page.is_hidden("#auth-box"), "asked once"
    with page.expect_download() as download:  # artifact links fetch with the header
        page.click("#artifacts a:has-text('model')")
    assert download.value.suggested_filename == f"{job_id}-model.pt"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "job-auth.png"), full_page=True)

    page.evaluate("localStorage.setItem('warmstep.token', 'a-stale-token')")
    page.reload()  # a stored token that the server refuses: asked again
    _enter_token(page, TOKEN, rejected=True)
    page.wait_for_selector(f"#job-progress[data-steps='{total_updates}']")
    page.click("#auth-forget")
    assert page.evaluate("localStorage.getItem('warmstep.token')") is None


def test_vendored_chart_library_has_its_licence() -> None:
    vendor = ROOT / "service" / "static" / "vendor" / "uplot"
    assert "MIT" in (vendor / "LICENSE").read_text()
    assert (vendor / "uPlot.iife.min.js").stat().st_size > 10_000
