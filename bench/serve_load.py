#!/usr/bin/python3
"""Loopback load test of `strata serve`: N streaming clients x M requests each, for several
--parallel settings. Reports aggregate generation throughput, time to first token (TTFT) and
inter-token latency (ITL) percentiles. Bounded: every request has a fixed max_tokens (ignore_eos)
and a timeout; the server is started and stopped by the script.

  /usr/bin/python3 bench/serve_load.py --strata build/strata --model /tmp/tiny.gguf \
      [--parallel 1,4,16] [--requests 4] [--max-tokens 32] [--threads 2] [--ctx 512]

Without --model a qwen3moe-tiny model is generated with `strata make-model`. Standard library only.
Not a test: prints figures only.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("server did not become ready")


def model_id(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/v1/models")
    return json.loads(c.getresponse().read())["data"][0]["id"]


def one_request(port, model, prompt, max_tokens, out):
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                       "ignore_eos": True, "logprobs": 0, "stream": True, "stream_options": {"include_usage": True}})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {r.read()[:200]!r}")
    times = []
    tokens = 0
    while True:
        line = r.readline()
        if not line:
            break
        if not line.startswith(b"data: "):
            continue
        data = line[6:].strip()
        if data == b"[DONE]":
            break
        chunk = json.loads(data)
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        elif chunk["choices"] and chunk["choices"][0]["logprobs"]:
            # logprobs: 0 makes every step's chunk carry its tokens, even tokens with no text
            # (random models emit many), so chunk times are token times.
            now = time.perf_counter()
            times.extend([now] * len(chunk["choices"][0]["logprobs"]["tokens"]))
    c.close()
    out.append({"ttft": times[0] - t0 if times else None,
                "itl": [b - a for a, b in zip(times, times[1:])],
                "tokens": tokens})


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def run_level(args, parallel, model_path):
    port = free_port()
    cmd = [args.strata, "serve", "-m", model_path, "--port", str(port), "--parallel", str(parallel),
           "--ctx", str(args.ctx), "--queue", str(parallel * 2)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(port, proc)
        model = model_id(port)
        results = []
        errors = []

        def client(i):
            for j in range(args.requests):
                try:
                    one_request(port, model, f"Request {i}.{j}: tell a long story about the number {i * 100 + j}.",
                                args.max_tokens, results)
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(str(e))

        # Warm-up: one request alone, so page faults and first-touch allocations are not timed.
        one_request(port, model, "warm up", 4, [])
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    tokens = sum(r["tokens"] for r in results)
    ttft = [r["ttft"] for r in results if r["ttft"] is not None]
    itl = [x for r in results for x in r["itl"]]
    return {"parallel": parallel, "requests": len(results), "errors": len(errors), "tokens": tokens, "wall_s": wall,
            "tok_s": tokens / wall if wall > 0 else 0.0, "req_s": len(results) / wall if wall > 0 else 0.0,
            "ttft_ms": [1000 * pct(ttft, p) for p in (50, 90, 99)],
            "itl_ms": [1000 * pct(itl, p) for p in (50, 90, 99)], "first_error": errors[0] if errors else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strata", default="build/strata")
    ap.add_argument("--model", default="")
    ap.add_argument("--parallel", default="1,4,16")
    ap.add_argument("--requests", type=int, default=4, help="requests per client")
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--json", action="store_true", help="print one JSON line per level")
    args = ap.parse_args()

    model = args.model
    tmp = None
    if not model:
        tmp = tempfile.TemporaryDirectory()
        model = os.path.join(tmp.name, "tiny.gguf")
        subprocess.run([args.strata, "make-model", "--preset", "qwen3moe-tiny", "-o", model], check=True,
                       stdout=subprocess.DEVNULL)
    print(f"{'par':>4} {'reqs':>5} {'err':>4} {'tokens':>7} {'wall s':>7} {'tok/s':>8} {'req/s':>6} "
          f"{'TTFT p50/p90/p99 ms':>22} {'ITL p50/p90/p99 ms':>22}")
    for p in [int(x) for x in args.parallel.split(",")]:
        r = run_level(args, p, model)
        if args.json:
            print(json.dumps(r))
            continue
        print(f"{r['parallel']:>4} {r['requests']:>5} {r['errors']:>4} {r['tokens']:>7} {r['wall_s']:>7.2f} "
              f"{r['tok_s']:>8.1f} {r['req_s']:>6.2f} {'/'.join(f'{x:.1f}' for x in r['ttft_ms']):>22} "
              f"{'/'.join(f'{x:.1f}' for x in r['itl_ms']):>22}")
        if r["first_error"]:
            print(f"     first error: {r['first_error']}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
