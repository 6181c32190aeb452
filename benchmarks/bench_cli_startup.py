"""How long the ``naas`` command takes to answer, and what its imports cost.

Each command runs ``--rounds`` times as a fresh process, in alternating
rounds (floor, ``naas --help``, ``naas network list``, the import floor, then
again) so that a busy machine slows all of them alike. It prints the median
wall time of each, the ratio to the interpreter's own start (``python -c
pass``), and the target of issue 9 (``--help`` under 0.15 s, ``network list``
on the embedded SQLite file under 0.4 s on the reference machine).

``network list`` cannot start faster than importing the service it calls, so
the *import floor* (``python -c "import naas_lib.service"``) is measured too,
and ``-X importtime`` of one ``network list`` gives the import time per top
package (the sum of each module's own time): what the CLI can trim (its own
modules) and what it cannot (the service's dependencies).

    python -m benchmarks.bench_cli_startup [--rounds 15] [--networks 20]
        [--baseline-naas /other/checkout/.venv/bin/naas]

``--baseline-naas`` adds another installation's ``naas`` (e.g. the main
branch's) to the same rounds, for a before/after under the same load.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import statistics
import subprocess
import sys
import time

from benchmarks import _util

TARGETS = {"naas --help": 0.15, "naas network list": 0.4}


def _naas() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "naas")
    if not os.path.exists(path):
        sys.exit("the naas console script is not installed next to this python "
                 "(pip install -e .)")
    return path


def _run(argv: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one process, which must succeed.

    On a shared machine the CPU time moves less with the load than the wall time.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _prepare(url: str, networks: int) -> None:
    """A migrated embedded file with some networks, so the list has rows to print."""
    for i in range(networks):
        subprocess.run([_naas(), "--database-url", url, "network", "create", f"net-{i}"],
                       check=True, stdout=subprocess.DEVNULL)


def _import_costs(url: str) -> list[tuple[str, float]]:
    """Seconds of import per top-level package during one ``naas network list``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         "import sys; from naas_lib.cli.main import main; sys.exit(main(sys.argv[1:]))",
         "--database-url", url, "network", "list"],
        check=True, capture_output=True, text=True)
    per_package: dict[str, float] = collections.defaultdict(float)
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _cumulative, name = line[len("import time:"):].split("|")
        if not self_us.strip().isdigit():
            continue  # the header line
        parts = name.strip().split(".")
        package = ".".join(parts[:2]) if parts[0] == "naas_lib" else parts[0]
        per_package[package] += int(self_us) / 1e6
    return sorted(per_package.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--networks", type=int, default=20,
                        help="Networks in the embedded file the list prints.")
    parser.add_argument("--baseline-naas", metavar="PATH",
                        help="Another installation's naas command to time in the same rounds.")
    opts = parser.parse_args()

    url = _util.fresh_sqlite("cli-startup.sqlite")
    _prepare(url, opts.networks)
    naas = _naas()
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "naas --help": [naas, "--help"],
        "naas network list": [naas, "--database-url", url, "network", "list"],
        "import naas_lib.service (import floor)": [sys.executable, "-c",
                                                   "import naas_lib.service"],
    }
    if opts.baseline_naas:
        commands["baseline: naas --help"] = [opts.baseline_naas, "--help"]
        commands["baseline: naas network list"] = [opts.baseline_naas, "--database-url", url,
                                                   "network", "list"]
    walls: dict[str, list[float]] = {label: [] for label in commands}
    cpus: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(opts.rounds):
        for label, argv in commands.items():
            wall, cpu = _run(argv)
            walls[label].append(wall)
            cpus[label].append(cpu)

    floor = statistics.median(walls["python -c pass (floor)"])
    print(f"{opts.rounds} rounds, medians of a fresh process "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus)")
    print(f"{'command':<42} {'wall':>7}     {'ratio':>5}   {'cpu':>7}")
    for label, values in walls.items():
        median = statistics.median(values)
        line = (f"{label:<42} {median:7.3f} s   {median / floor:5.1f}x  "
                f"{statistics.median(cpus[label]):7.3f} s")
        if label in TARGETS:
            met = "met" if median < TARGETS[label] else "MISSED"
            line += f"   target < {TARGETS[label]} s wall: {met}"
        print(line)

    costs = _import_costs(url)
    total = sum(seconds for _, seconds in costs)
    print(f"\nimports of one 'naas network list': {total:.3f} s; by top package:")
    for package, seconds in costs[:15]:
        print(f"  {package:<30} {seconds:7.3f} s")


if __name__ == "__main__":
    main()
