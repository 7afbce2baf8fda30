#!/usr/bin/env python3
"""Runs one command as the root of its own process tree and prints, as the last line of stdout, a JSON object with
its wall time and the CPU seconds (user + system) of every process of that tree.

The wrapper makes itself a child subreaper, so processes that daemonize on the way (ssh's ControlPersist masters,
which Ansible starts by default) are re-parented to it instead of to init: when the command ends they are stopped and
reaped, and their CPU time is counted too. The command's own stdout goes to stderr so it cannot spoil the JSON line.
"""
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def orphans_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def main():
    command = sys.argv[1:]
    if not command:
        print("usage: measure_tree.py command [args...]", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("prctl(PR_SET_CHILD_SUBREAPER) failed", file=sys.stderr)
        return 2
    started = time.monotonic()
    child = subprocess.Popen(command, stdout=sys.stderr)
    code = child.wait()
    wall = time.monotonic() - started
    # Whatever outlived the command (a persisted ssh master) is part of the tool's cost: stop it and count it.
    deadline = time.monotonic() + 10
    for pid in orphans_of(os.getpid()):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if time.monotonic() > deadline:
                for leftover in orphans_of(os.getpid()):
                    os.kill(leftover, signal.SIGKILL)
            time.sleep(0.05)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": wall, "cpuSeconds": usage.ru_utime + usage.ru_stime, "exitCode": code}))
    # A failed command fails the measurement, so the caller reports it with the command's own output.
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
