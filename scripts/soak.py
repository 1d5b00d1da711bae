#!/usr/bin/env python3
"""`make soak`: the e-commerce application under faults on a 3-broker cluster, then the verifier.

  1. a 3-broker KRaft cluster (replication 3, min.insync.replicas 2) started by scripts/kafka/broker.sh
  2. the webhook receiver (5% random failures) and 3 instances of ecommerce_topology (exactly_once_v2)
  3. steady load from ecommerce_loadgen for the whole run; event time runs SPEED x the wall clock so
     analytics windows close (and are emitted) all along the run
  4. faults during the load, one after the other: instance SIGKILLs + restarts, clean restarts, a scale
     3 -> 1 -> 3, broker SIGKILLs + restarts (the first one of the transaction coordinator of an instance's
     producer), a freeze (SIGSTOP) of one broker
  5. ecommerce_verify (read_committed): every invariant of the contract, every closed analytics window
     exactly once with the right content, each order's notification in exactly one place

One line per fault: what was injected, when (seconds into the load), and how long until every running
instance was RUNNING again with tasks. Exit status 0 only if every fault recovered and the verifier passed.
Not part of `make test` (it takes ~20 minutes). Settings: environment variables SOAK_* below.
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build/release"
BIN = os.path.join(ROOT, BUILD, "apps", "ecommerce_topology")
WORK = os.environ.get("SOAK_DIR", "/tmp/kstreams-soak")
PORT = int(os.environ.get("SOAK_KAFKA_PORT", "29092"))
RATE = int(os.environ.get("SOAK_RATE", "200"))  # orders per second
SPEED = int(os.environ.get("SOAK_SPEED", "5"))  # event time / wall clock
GRACE_MS = int(os.environ.get("SOAK_GRACE_MS", "900000"))  # analytics grace, event time
INSTANCE_KILLS = int(os.environ.get("SOAK_INSTANCE_KILLS", "20"))
CLEAN_RESTARTS = int(os.environ.get("SOAK_CLEAN_RESTARTS", "5"))
BROKER_KILLS = int(os.environ.get("SOAK_BROKER_KILLS", "3"))
FREEZE_S = int(os.environ.get("SOAK_FREEZE_S", "150"))
SEED = int(os.environ.get("SOAK_SEED", str(int(time.time()))))
APP = "soak"
HTTP_BASE = 18180
WEBHOOK_PORT = 18189
RECOVERY_TIMEOUT_S = 180

ENV = dict(os.environ, KAFKA_MODE="cluster", KAFKA_PORT=str(PORT), KAFKA_RUN_DIR=os.path.join(WORK, "kafka"))
BOOTSTRAP = ",".join(f"127.0.0.1:{PORT + 10 * i}" for i in range(3))
rng = random.Random(SEED)
t0 = None  # monotonic time the load started


def log(msg):
    at = "" if t0 is None else f"[{time.monotonic() - t0:7.1f} s] "
    print(f"soak: {at}{msg}", flush=True)


def broker(*args, check=True):
    r = subprocess.run([os.path.join(ROOT, "scripts/kafka/broker.sh"), *args], env=ENV, cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"broker.sh {' '.join(args)} failed: {r.stderr.strip()[-2000:]}")
    return r.stdout.strip()


def http_json(port, path, timeout=2.0):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return json.loads(resp.read())
    except Exception:  # noqa: BLE001 - any failure means "not answering yet"
        return None


class Instance:
    def __init__(self, index):
        self.index = index
        self.port = HTTP_BASE + index
        self.state_dir = os.path.join(WORK, f"state-{index}")
        self.proc = None

    def start(self):
        logf = open(os.path.join(WORK, f"instance-{self.index}.log"), "a")
        logf.write(f"==== start at {time.strftime('%H:%M:%S')}\n")
        logf.flush()
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "ecommerce_topology"), "--config", os.path.join(ROOT, "config/ecommerce-local.properties"),
             "--set", f"application.id={APP}", "--set", f"bootstrap.servers={BOOTSTRAP}",
             "--set", f"state.dir={self.state_dir}", "--set", f"application.server=127.0.0.1:{self.port}",
             "--set", "replication.factor=3", "--set", f"analytics.grace.ms={GRACE_MS}",
             "--set", f"notifications.webhook.url=http://127.0.0.1:{WEBHOOK_PORT}/notifications"],
            stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=60):
        """SIGTERM and wait; returns the exit code (None: had to be killed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def state(self):
        body = http_json(self.port, "/healthz")
        return body.get("state") if body else None

    def transactional_id(self):
        with open(os.path.join(self.state_dir, APP, "kstreams.process.id")) as f:
            return f"{APP}-{f.read().strip()}-0"


instances = [Instance(i) for i in (1, 2, 3)]
results = []  # (fault, recovered seconds or None)
stalls = []  # (fault, longest processing stall of an instance the fault did not touch, seconds)


class ProgressSampler(threading.Thread):
    """Every 100 ms: each running instance's records processed (sum of its threads'
    kstreams_thread_process_records_total), kept as (monotonic time, total) per instance."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = {i.index: [] for i in instances}
        self.lock = threading.Lock()
        self.done = False

    def run(self):
        while not self.done:
            for inst in instances:
                if not inst.running():
                    continue
                total = processed(inst.port)
                if total is not None:
                    with self.lock:
                        self.samples[inst.index].append((time.monotonic(), total))
            time.sleep(0.1)

    def longest_stall(self, index, since, until):
        """Longest time between two samples of `index` in [since, until] that showed no progress."""
        with self.lock:
            points = [(t, v) for t, v in self.samples[index] if since <= t <= until]
        longest, last_change = 0.0, None
        for n, (t, v) in enumerate(points):
            if n == 0 or v != points[n - 1][1]:
                last_change = t
            longest = max(longest, t - last_change)
        return longest


def processed(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1.0) as resp:
            text = resp.read().decode()
    except Exception:  # noqa: BLE001
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("kstreams_thread_process_records_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


sampler = ProgressSampler()


def recovered(deadline_s=RECOVERY_TIMEOUT_S):
    """Seconds until every running instance is RUNNING and the group metadata lists all of them with
    tasks; None if that did not happen within deadline_s."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        live = [i for i in instances if i.running()]
        if live and all(i.state() == "RUNNING" for i in live):
            md = http_json(live[0].port, "/v1/metadata")
            if md:
                with_tasks = {m.get("application_server") for m in md.get("instances", []) if m.get("tasks")}
                if all(f"127.0.0.1:{i.port}" in with_tasks for i in live):
                    return time.monotonic() - start
        time.sleep(0.25)
    return None


def fault(name, action, settle_s=5, touched=()):
    """Runs one fault; `touched`: the instances it stops (the others are its survivors)."""
    log(f"fault: {name}")
    began = time.monotonic()
    action()
    lasted = time.monotonic() - began
    took = recovered()
    time.sleep(settle_s)
    results.append((name, took))
    survivors = [i for i in instances if i not in touched]
    stall = max(sampler.longest_stall(i.index, began, time.monotonic()) for i in survivors)
    stalls.append((name, stall))
    if took is None:
        log(f"  NOT recovered within {RECOVERY_TIMEOUT_S} s of the end of the fault ({lasted:.1f} s)")
    else:
        log(f"  recovered: every instance RUNNING with tasks {took:.1f} s after the fault ended ({lasted:.1f} s); "
            f"longest processing stall of an untouched instance {stall:.1f} s")


def sigkill_instance(inst):
    def act():
        inst.kill()
        time.sleep(2)
        inst.start()
    return act


def clean_restart(inst):
    def act():
        code = inst.stop()
        if code != 0:
            log(f"  instance {inst.index} exited with {code} on SIGTERM")
            results.append((f"clean exit of instance {inst.index}", None))
        inst.start()
    return act


def scale_down_up():
    for inst in instances[1:]:
        code = inst.stop()
        if code != 0:
            results.append((f"clean exit of instance {inst.index}", None))
    took = recovered()
    log(f"  scaled to 1 instance: RUNNING with all tasks after {took if took is None else round(took, 1)} s")
    results.append(("scale 3 -> 1", took))
    time.sleep(30)
    for inst in instances[1:]:
        inst.start()


def broker_kill(node):
    def act():
        broker("crash", str(node))
        time.sleep(10)
        broker("revive", str(node))
    return act


def broker_freeze(node):
    def act():
        broker("freeze", str(node))
        time.sleep(FREEZE_S)
        broker("thaw", str(node))
    return act


def main():
    global t0
    os.makedirs(WORK, exist_ok=True)
    for name in os.listdir(WORK):
        if name != "kafka":
            subprocess.run(["rm", "-rf", os.path.join(WORK, name)], check=True)
    log(f"seed {SEED}; 3-broker cluster on {BOOTSTRAP}")
    broker("stop", check=False)
    broker("start")
    procs = []
    try:
        r = subprocess.run([os.path.join(BIN, "ecommerce_topology"), "--config",
                            os.path.join(ROOT, "config/ecommerce-local.properties"), "--set", f"application.id={APP}",
                            "--set", f"bootstrap.servers={BOOTSTRAP}", "--set", "replication.factor=3", "--set",
                            f"state.dir={WORK}/state-1", "--reset-all"], cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"--reset-all failed: {r.stderr[-2000:]}")
        webhook = subprocess.Popen([os.path.join(BIN, "ecommerce_webhook"), "--listen", f"127.0.0.1:{WEBHOOK_PORT}",
                                    "--fail-share", "0.05"], stdout=open(os.path.join(WORK, "webhook.log"), "w"),
                                   stderr=subprocess.STDOUT)
        procs.append(webhook)
        for inst in instances:
            inst.start()
        if recovered(120) is None:
            raise RuntimeError("the 3 instances did not reach RUNNING")
        log("3 instances RUNNING")

        faults = ([("sigkill", i) for i in range(INSTANCE_KILLS)] + [("restart", i) for i in range(CLEAN_RESTARTS)])
        rng.shuffle(faults)
        # Instance faults first, then the scale, then the broker faults (each needs a full group).
        plan_s = 30 + 4 * 25 + len(faults) * 25 + 120 + BROKER_KILLS * 60 + FREEZE_S + 120
        orders = RATE * plan_s
        step = max(1, SPEED * 1000 // RATE)
        now_ms = int(time.time() * 1000)
        loadgen = subprocess.Popen(
            [os.path.join(BIN, "ecommerce_loadgen"), "--bootstrap", BOOTSTRAP, "--orders", str(orders), "--rate",
             str(RATE), "--seed", str(SEED), "--created-at-start", str(now_ms), "--time-step-ms", str(step),
             "--summary-json", os.path.join(WORK, "load.json")],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(WORK, "loadgen.err"), "w"))
        procs.append(loadgen)
        t0 = time.monotonic()
        log(f"load: {orders} orders at {RATE}/s (~{plan_s} s), event time {SPEED}x the wall clock, "
            f"grace {GRACE_MS} ms")
        sampler.start()
        time.sleep(30)

        # The pause a rebalance costs the instances that stay: a third instance leaves, then joins.
        for _ in range(2):
            fault("instance 3 leaves (SIGTERM)", lambda: instances[2].stop(), settle_s=5, touched=(instances[2],))
            fault("instance 3 joins", instances[2].start, settle_s=5, touched=(instances[2],))

        for kind, _ in faults:
            inst = rng.choice(instances)
            if kind == "sigkill":
                fault(f"SIGKILL instance {inst.index}, restart 2 s later", sigkill_instance(inst), settle_s=8,
                      touched=(inst,))
            else:
                fault(f"SIGTERM instance {inst.index} (clean close), restart", clean_restart(inst), settle_s=8,
                      touched=(inst,))
        fault("scale 3 -> 1 (SIGTERM instances 2 and 3), 30 s, -> 3", scale_down_up, settle_s=10,
              touched=tuple(instances[1:]))

        nodes = []
        try:
            nodes.append(int(broker("coordinator", instances[0].transactional_id())))
        except (RuntimeError, ValueError, OSError) as e:
            log(f"cannot name the transaction coordinator ({e}); killing node 1 first")
            nodes.append(1)
        while len(nodes) < BROKER_KILLS:
            nodes.append((nodes[-1] % 3) + 1)
        for n, node in enumerate(nodes[:BROKER_KILLS]):
            what = " (transaction coordinator of instance 1)" if n == 0 else ""
            fault(f"SIGKILL broker {node}{what}, restart 10 s later", broker_kill(node), settle_s=20)
        if FREEZE_S > 0:
            frozen = nodes[min(BROKER_KILLS, len(nodes)) - 1] % 3 + 1 if BROKER_KILLS > 0 else 1
            fault(f"freeze (SIGSTOP) broker {frozen} for {FREEZE_S} s", broker_freeze(frozen), settle_s=10)

        log("faults done; waiting for the load to finish")
        if loadgen.wait() != 0:
            raise RuntimeError("the load generator failed: see loadgen.err")
        with open(os.path.join(WORK, "load.json")) as f:
            expected = json.load(f)["expected"]["terminal_statuses"]
        log(f"load finished; verifying {expected} terminal statuses (read_committed)")
        verdict = subprocess.run(
            [os.path.join(BIN, "ecommerce_verify"), "--bootstrap", BOOTSTRAP, "--wait-for-orders", str(expected),
             "--timeout-ms", "600000", "--grace-ms", str(GRACE_MS), "--summary-json", os.path.join(WORK, "verify.json")],
            stdout=open(os.path.join(WORK, "verify.txt"), "w"), stderr=open(os.path.join(WORK, "verify.err"), "w"))
        with open(os.path.join(WORK, "verify.txt")) as f:
            for line in f:
                if not line.startswith(("waiting", "%")):
                    print("  " + line.rstrip())
        for inst in instances:
            if inst.running() and inst.stop() != 0:
                results.append((f"final clean exit of instance {inst.index}", None))
    finally:
        for inst in instances:
            if inst.running():
                inst.kill()
        for p in procs:
            if p.poll() is None:
                p.kill()
        if os.environ.get("SOAK_KEEP_BROKER") != "1":
            broker("stop", check=False)

    sampler.done = True
    failed = [name for name, took in results if took is None]
    took = sorted(t for _, t in results if t is not None)
    print(f"soak: {len(results)} faults, {len(failed)} not recovered; recovery median "
          f"{took[len(took) // 2]:.1f} s, max {took[-1]:.1f} s" if took else "soak: no fault recovered")
    for kind in ("leaves", "joins"):
        pauses = [f"{st:.1f}" for name, st in stalls if name.startswith("instance 3 " + kind)]
        print(f"soak: rebalance when instance 3 {kind[:-1]}s: longest stall of instances 1 and 2: {', '.join(pauses)} s")
    ok = verdict.returncode == 0 and not failed
    print(f"soak: VERDICT {'PASS' if ok else 'FAIL'} (verifier exit {verdict.returncode}; seed {SEED}; "
          f"logs in {WORK})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
