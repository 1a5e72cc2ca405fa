"""Time `campaigner preview` on 1,000,000 messy recipients against the naive single-process loop.

    .venv/bin/python benchmarks/preview_1m.py [--rows N] [--keep DIR] [--no-naive]

Generates the CSV (campaigner.examples.messy, several countries, personalised message) in a
temporary folder, runs `campaigner preview --format json` on it as a subprocess (peak RSS from
/proc, summed over the command and its worker processes, sampled every 50 ms, and the largest
single process from getrusage), then runs the naive loop in this process over the same file:
csv.reader + phonenumbers.parse + is_valid_number + number_type + format_number(E164) per row.
Prints rows/s, peak RSS and the ratio preview_time / naive_time (target ≤ 0.6, ≤ 300 MB), each
against its target with PASS/MISS. `--no-naive` skips the naive loop (minutes at 10M rows) and so
the ratio; `--keep DIR` reuses the CSV there when it has the same number of rows; `--json-out FILE`
keeps the preview's JSON (to check that a change leaves the results alone).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import phonenumbers

from campaigner.examples.messy import write_csv

MESSAGE = (
    "Hi {first_name}, this weekend our {city} store takes 20% off everything, online too with code "
    "SPRING20. See you there! Reply STOP to opt out."
)


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids.extend(_tree(int(child)))
    return pids


def _role(pid: int, parent: int) -> str:
    """What a process of the preview's tree is: the command, one of its workers, or a helper."""
    if pid == parent:
        return "parent"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    return "resource tracker" if "resource_tracker" in cmdline else "worker"


def run_preview(csv_path: Path) -> tuple[float, float, float, dict[str, object], str]:
    """(seconds, peak summed RSS in MB, sum of each process's own peak in MB, the JSON preview,
    the processes at that peak: `parent 120 + worker 40 + worker 41`)."""
    command = [sys.executable, "-m", "campaigner", "preview", str(csv_path), "--message", MESSAGE]
    command += ["--region", "NL", "--format", "json"]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        peak = 0
        at_peak = ""
        each: dict[int, int] = {}  # every process's own highest sample, summed after
        while proc.poll() is None:
            sample = {p: _rss_kb(p) for p in _tree(proc.pid)}
            if sum(sample.values()) > peak:
                peak = sum(sample.values())
                at_peak = " + ".join(f"{_role(p, proc.pid)} {kb / 1024:.0f}" for p, kb in sample.items())
            for p, kb in sample.items():
                each[p] = max(each.get(p, 0), kb)
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        _, stderr = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"preview failed ({proc.returncode}): {stderr.decode()}")
        out.seek(0)
        result = json.loads(out.read())
    return elapsed, peak / 1024, sum(each.values()) / 1024, result, at_peak


def run_naive(csv_path: Path, region: str = "NL") -> tuple[float, int]:
    """(seconds, sendable-looking rows) of the straightforward loop, one process."""
    start = time.perf_counter()
    good = 0
    with open(csv_path, encoding="utf-8", newline="") as file:
        reader = csv.reader(file)
        phone = next(reader).index("phone")
        for row in reader:
            try:
                number = phonenumbers.parse(row[phone], region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                phonenumbers.number_type(number)
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                good += 1
    return time.perf_counter() - start, good


def main() -> None:
    """Generate, time both, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the CSV here and keep it")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop (and the ratio)")
    parser.add_argument("--json-out", type=Path, help="write the preview's JSON here (to compare runs)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="campaigner-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"recipients_{args.rows}.csv"
    if not csv_path.exists() or args.keep is None:
        started = time.perf_counter()
        with open(csv_path, "w", encoding="utf-8", newline="") as out:
            write_csv(out, args.rows, seed=42)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s ({csv_path})")
    print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    preview_s, peak_mb, each_mb, result, at_peak = run_preview(csv_path)
    child_max_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    rows = int(result["rows"])  # type: ignore[call-overload]
    print(f"cpus: {len(os.sched_getaffinity(0))}")
    print(f"preview: {preview_s:.2f} s, {rows / preview_s:,.0f} rows/s, sendable {result['sendable']:,}")
    print(
        f"preview peak RSS: {peak_mb:.0f} MB (all processes at once) "
        f"[{'PASS' if peak_mb <= 300 else 'MISS'}: target <= 300 MB]; sum of each process's peak "
        f"{each_mb:.0f} MB; largest process {child_max_mb:.0f} MB"
    )
    print(f"at the peak (MB): {at_peak}")
    print("load average after the preview: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if not args.no_naive:
        naive_s, naive_good = run_naive(csv_path)
        ratio = preview_s / naive_s
        print(f"naive loop: {naive_s:.2f} s, {rows / naive_s:,.0f} rows/s ({naive_good:,} valid)")
        print(f"ratio preview / naive: {ratio:.2f} [{'PASS' if ratio <= 0.6 else 'MISS'}: target <= 0.6]")
    if args.keep is None:
        csv_path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
