#!/usr/bin/env python3
"""Time from process start to the first 200 from /health: committed generated code (TypeLoadMode.Static)
against the same binary generating its code at start-up (TypeLoadMode.Dynamic). Runs alternate so that
machine noise falls on both modes alike; prints each run, the medians and their ratio.

Wolverine compiles an HTTP endpoint's code on its first request, and /health is not a Wolverine endpoint, so
the script also times the first 200 from GET /api/me (a Wolverine endpoint over Marten), which is where the
two modes differ.

Usage: bench/startup.py [--runs 5]   (after ./test.sh or ./run.sh has started PostgreSQL and Docker)
"""
import argparse, base64, hashlib, hmac, json, os, socket, statistics, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLISH = os.path.join(ROOT, ".pantheon", "bench", "startup")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SIGNING_KEY = "benchmark-signing-key-0123456789abcdef"


def token():
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()
    now = int(time.time())
    head = part({"alg": "HS256", "typ": "JWT"}) + "." + part(
        {"sub": "bench-user", "iss": "pantheon-bench", "aud": "pantheon", "iat": now, "nbf": now, "exp": now + 3600})
    signature = hmac.new(SIGNING_KEY.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def first_200(process, mode, url, started, headers=None):
    deadline = started + 120
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            sys.exit(f"backend exited ({mode}): {process.stderr.read().decode()[-2000:]}")
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.005)
    sys.exit(f"no 200 from {url} within 120 s ({mode})")


def one_run(mode):
    port = free_port()
    env = dict(os.environ)
    env.update({
        "ASPNETCORE_ENVIRONMENT": "Production",
        "Urls": f"http://127.0.0.1:{port}",
        "Codegen__TypeLoadMode": mode,
        "MCP_MASTER_SECRET": "benchmark-master-secret-0123456789abcdef",
        "Auth__Issuer": "pantheon-bench",
        "Auth__SigningKey": SIGNING_KEY,
        "Auth__AllowSymmetricKey": "true",
        "ConnectionStrings__Marten": env.get("ConnectionStrings__Marten",
            "Host=127.0.0.1;Port=5433;Database=pantheon;Username=postgres;Password=postgres"),
        "Logging__LogLevel__Default": "Warning",
    })
    started = time.perf_counter()
    process = subprocess.Popen([os.path.join(PUBLISH, "Pantheon.Web")], env=env, cwd=PUBLISH,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        health = first_200(process, mode, f"http://127.0.0.1:{port}/health", started)
        api = first_200(process, mode, f"http://127.0.0.1:{port}/api/me", started, {"Authorization": "Bearer " + token()})
        return health, api
    finally:
        process.terminate()
        process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    subprocess.run(["dotnet", "publish", os.path.join(ROOT, "src", "Pantheon.Web"), "-c", "Release", "-o", PUBLISH,
                    "--nologo", "-v", "quiet"], check=True)
    one_run("Static")  # warm the file cache and the database schema once, unmeasured
    times = {("Static", 0): [], ("Dynamic", 0): [], ("Static", 1): [], ("Dynamic", 1): []}
    for i in range(args.runs):
        for mode in ("Static", "Dynamic"):
            health, api = one_run(mode)
            times[(mode, 0)].append(health)
            times[(mode, 1)].append(api)
            print(f"run {i + 1} {mode:<7} /health {health * 1000:6.0f} ms   first /api/me {api * 1000:6.0f} ms", flush=True)
    for index, what in ((0, "first 200 from /health"), (1, "first 200 from /api/me")):
        static, dynamic = statistics.median(times[("Static", index)]), statistics.median(times[("Dynamic", index)])
        print(f"{what}: median Static (committed code) {static * 1000:.0f} ms, "
              f"median Dynamic (generated at start) {dynamic * 1000:.0f} ms, ratio Dynamic/Static {dynamic / static:.2f}x")

if __name__ == "__main__":
    main()
