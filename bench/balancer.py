"""Debian's nginx in front of workers on this machine, from the shipped deploy/nginx.conf.template, for the
benchmarks that go through the balancer (bench/surge.py, the voice benchmark).

    run_dir = Path(tempfile.mkdtemp())
    nginx = start_nginx(run_dir, listen_port, [8001, 8002])   # answers /healthz when it returns
    ...
    stop_nginx(nginx)
"""
from __future__ import annotations

import shutil
import signal
import string
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def render_nginx(run_dir: Path, listen_port: int, upstream_ports: list[int]) -> Path:
    """The shipped template, filled in as envsubst fills it in the nginx image; loopback only."""
    text = string.Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        FRONTDOOR_NGINX_RUN=str(run_dir), FRONTDOOR_LISTEN=f"127.0.0.1:{listen_port}",
        FRONTDOOR_UPSTREAMS=" ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in upstream_ports))
    config = run_dir / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    return config


def start_nginx(run_dir: Path, listen_port: int, upstream_ports: list[int], timeout: float = 30) -> subprocess.Popen:
    """nginx in the foreground on 127.0.0.1:`listen_port`, once it passes /healthz on to a worker."""
    if not Path(NGINX).exists():
        raise SystemExit(f"nginx is not installed at {NGINX} (apt-get install nginx)")
    config = render_nginx(run_dir, listen_port, upstream_ports)
    checked = subprocess.run([NGINX, "-t", "-c", str(config), "-e", "stderr"], capture_output=True, text=True)
    if checked.returncode != 0:
        raise SystemExit(f"nginx refused the rendered template: {checked.stderr}")
    log = open(run_dir / "nginx.stderr", "w")
    process = subprocess.Popen([NGINX, "-c", str(config), "-e", "stderr", "-g", "daemon off;"],
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"nginx exited: {(run_dir / 'nginx.stderr').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{listen_port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_nginx(process)
    raise SystemExit(f"nginx did not pass /healthz on within {timeout:.0f} s")


def stop_nginx(process: subprocess.Popen) -> None:
    """A graceful stop (SIGQUIT: requests in flight finish)."""
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
