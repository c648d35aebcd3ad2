"""The warm aws:executeScript worker: a fork server that runs each script in a fresh child process.

Started by engine/actions/script.py as `python script_worker.py CONTROL_FD [LABEL]` (by path, like the
runner it replaces, so a script sees the same sys.path). It imports what scripts import (boto3, and what
botocore loads when a client is first built) once; then, for every script, it forks a child from that
clean, single-threaded state: the engine itself runs in a threaded server, where fork is unsafe.

Protocol. CONTROL_FD is a unix stream socket to the engine; every byte it sends carries one socket
(SCM_RIGHTS) for one job. On a job socket the engine sends a line: the path of a scratch directory
holding job.json ({"request", "env", "cwd"}); the worker answers "pid N" when the child runs and
"exit CODE" once it ended and was reaped. "kill" from the engine kills the child's process group
(its own session, so whatever the script started goes with it). When the control socket closes, or the
worker gets SIGTERM, every running child's group is killed and the worker exits: no orphans.
LABEL only names the worker's owner in `ps` (the endpoint passes its state directory).
"""

import atexit
import contextlib
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import threading
import traceback

import script_runner

_CHILD_FILES = ("stdout", "stderr")


# The services the release runbooks' scripts call: their models are loaded before any script runs.
WARM_SERVICES = ("ec2", "ssm", "elbv2")


def _preload() -> None:
    """Import what scripts import, and load what botocore loads when a script builds its clients.

    botocore reads a client's models (JSON files of up to megabytes, ~70 ms for ec2 here) through its
    session's Loader, which caches them per Loader. Sessions built in a child with the default data path
    get the Loader warmed here, so a script's boto3.client() finds its models parsed; its session,
    credentials, region and endpoint still come from the child's own environment. A session with a data
    path of its own (AWS_DATA_PATH, data_path in the config file) gets a fresh Loader, as before.
    """
    try:
        import boto3  # noqa: F401  (the import is the point)
        import botocore.loaders
        import botocore.session
    except ImportError:  # scripts without boto3 still run; they just do not start warm
        return
    warm = botocore.loaders.create_loader()
    # A throwaway session, not boto3's default one: nothing of this session reaches a script.
    session = botocore.session.Session()
    session.register_component("data_loader", warm)
    session.set_credentials("warm", "warm")
    for service in WARM_SERVICES:
        session.create_client(service, region_name="us-east-1")
    create_loader = botocore.session.create_loader

    def warm_or_new(search_path_string=None):
        return warm if search_path_string is None else create_loader(search_path_string)

    botocore.session.create_loader = warm_or_new


class Job:
    """One script: the engine's socket for it and, once forked, the child's pid."""

    def __init__(self, connection: socket.socket):
        self.connection = connection
        self.buffer = b""
        # The engine's scratch directory for the job, once it asked for the fork; the worker removes it
        # when the engine hung up before the child ended (it gave up, or died) and so will not read it.
        self.scratch: str | None = None
        self.abandoned = False
        self.pid: int | None = None
        self.pidfd: int | None = None
        self.reaped = False

    def send(self, line: str) -> None:
        # OSError: the engine gave up on this job; its child is still killed and reaped.
        with contextlib.suppress(OSError):
            self.connection.sendall(line.encode() + b"\n")

    def kill(self) -> None:
        if self.pid is not None and not self.reaped:
            # The child is not reaped yet, so its pid (and group id) cannot have been reused.
            for kill, target in ((os.killpg, self.pid), (os.kill, self.pid)):
                try:
                    kill(target, signal.SIGKILL)
                    return
                except ProcessLookupError:
                    continue  # forked but not yet its own group leader: kill the child itself


class Worker:
    """The fork server's loop: jobs arrive on the control socket, children end on their pidfds."""

    def __init__(self, control: socket.socket):
        self.control = control
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ, None)
        self.jobs: list[Job] = []
        self.pid = os.getpid()

    def serve(self) -> str | None:
        """Serve jobs until the engine goes away (None); in a forked child, return its scratch directory."""
        while True:
            for key, _ in self.selector.select():
                if key.data is None:
                    if not self._accept():
                        return None
                    continue
                kind, job = key.data
                if kind == "exit":
                    self._reap(job)
                    continue
                scratch = self._read(job)
                if scratch is not None:
                    return scratch

    def stop(self) -> None:
        """Kill every running child's process group and reap it, and remove its scratch directory: the
        engine that made it is gone or going (one still waiting cleans up after a job that ended; _forget
        after one it hung up on)."""
        if os.getpid() != self.pid:
            return  # a child that has not yet left the worker's code: not its business
        for job in self.jobs:
            job.kill()
        for job in self.jobs:
            if job.pid is not None and not job.reaped:
                os.waitpid(job.pid, 0)
            if job.scratch is not None:
                shutil.rmtree(job.scratch, ignore_errors=True)

    def _accept(self) -> bool:
        try:
            message, fds, _, _ = socket.recv_fds(self.control, 1, 1)
        except OSError:
            return False
        if not message:
            return False  # the engine's process ended
        for fd in fds:
            job = Job(socket.socket(fileno=fd))
            self.jobs.append(job)
            self.selector.register(job.connection, selectors.EVENT_READ, ("read", job))
        return True

    def _read(self, job: Job) -> str | None:
        try:
            data = job.connection.recv(65536)
        except OSError:
            data = b""
        if not data:
            # The engine closed its end: it stopped waiting. A running child is killed, as a cancel would.
            self.selector.unregister(job.connection)
            job.abandoned = True
            job.kill()
            if job.pid is None or job.reaped:
                self._forget(job)
            return None
        job.buffer += data
        while b"\n" in job.buffer:
            line, job.buffer = job.buffer.split(b"\n", 1)
            command = line.decode()
            if command == "kill":
                job.kill()
            elif job.pid is None:
                job.scratch = command
                if self._fork(job):
                    return command  # this is the child now
        return None

    def _fork(self, job: Job) -> bool:
        """Fork the job's child; True in the child."""
        pid = os.fork()
        if pid == 0:
            self._leave()
            return True
        job.pid = pid
        job.pidfd = os.pidfd_open(pid)
        self.selector.register(job.pidfd, selectors.EVENT_READ, ("exit", job))
        job.send(f"pid {pid}")
        return False

    def _leave(self) -> None:
        """In a child: its own session, default signals, none of the worker's descriptors."""
        os.setsid()  # first: a cancel kills this group, and whatever the script starts is in it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # Closed through their objects, so that nothing closes a reused descriptor number later.
        for other in self.jobs:
            if other.pidfd is not None:
                os.close(other.pidfd)
                other.pidfd = None
            other.connection.close()
        self.selector.close()
        self.control.close()

    def _reap(self, job: Job) -> None:
        assert job.pid is not None and job.pidfd is not None  # a job reaped is one that was forked
        _, status = os.waitpid(job.pid, 0)
        job.reaped = True
        self.selector.unregister(job.pidfd)
        os.close(job.pidfd)
        job.send(f"exit {os.waitstatus_to_exitcode(status)}")
        self._forget(job)

    def _forget(self, job: Job) -> None:
        # KeyError: unregistered already, when the engine hung up.
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(job.connection)
        job.connection.close()
        self.jobs.remove(job)
        if job.abandoned and job.scratch is not None:
            shutil.rmtree(job.scratch, ignore_errors=True)


def run_child(scratch: str) -> None:
    """In a forked child: take the job's environment, working directory and files, then run the script."""
    with open(os.path.join(scratch, "job.json"), encoding="utf-8") as file:
        spec = json.load(file)
    _redirect(0, os.devnull, os.O_RDONLY)
    for fd, name in enumerate(_CHILD_FILES, start=1):
        _redirect(fd, os.path.join(scratch, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    if spec["cwd"]:
        os.chdir(spec["cwd"])
    os.environ.clear()
    os.environ.update(spec["env"])
    result_path = os.path.join(scratch, "result.json")
    sys.argv = [script_runner.__file__, result_path]
    script_runner.run(spec["request"], result_path)


def _redirect(fd: int, path: str, flags: int) -> None:
    opened = os.open(path, flags, 0o600)
    os.dup2(opened, fd)
    os.close(opened)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    _preload()
    # What the worker holds now is never freed: kept out of the children's collections, which would
    # otherwise touch (and so copy) every page of it.
    gc.freeze()
    worker = Worker(control)

    def terminate(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    try:
        scratch = worker.serve()
    except (KeyboardInterrupt, SystemExit):
        scratch = None
    if scratch is None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
        worker.stop()
        return
    # The child. It ends as an interpreter would (non-daemon threads joined, atexit handlers run, output
    # flushed) but skips tearing down the modules: that writes to every page it shares with the worker,
    # copying them all, and cost more than the script itself (~150 ms).
    code = 0
    try:
        run_child(scratch)
        threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter's exit does first; private, so not in typeshed
        atexit._run_exitfuncs()
    except BaseException:  # the worker's own failure (the script's are in result.json): on its stderr
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
