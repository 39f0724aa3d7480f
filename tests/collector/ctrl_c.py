"""ctrl_c.py SECONDS DIR CMD...: runs CMD (memtrace record -o DIR -- a
2-rank job) in the foreground of a new pseudo-terminal, waits until DIR
holds two traces with a communicator each, types Ctrl-C on the terminal,
and prints the exit status of CMD and the pids of the job still running
(none expected): what a user at a terminal does."""
import glob, os, pty, signal, sqlite3, sys, time

limit, d, cmd = float(sys.argv[1]), sys.argv[2], sys.argv[3:]


def started():
    fs = glob.glob(d + "/*.mtrace")
    if len(fs) != 2:
        return False
    try:
        return all(sqlite3.connect("file:%s?mode=ro" % f, uri=True)
                   .execute("SELECT count(*) FROM communicators").fetchone()[0] for f in fs)
    except sqlite3.Error:
        return False


def pids():
    return [int(os.path.basename(f).split(".")[1]) for f in glob.glob(d + "/*.mtrace")]


pid, fd = pty.fork()
if pid == 0:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execvp(cmd[0], cmd)
end = time.time() + limit
out = b""
while not started():
    if time.time() > end:
        os.kill(pid, signal.SIGKILL)
        print("timeout", "")
        sys.exit(0)
    time.sleep(0.1)
workers = pids()
os.write(fd, b"\x03")
status = None
while time.time() < end:
    try:
        out += os.read(fd, 4096)
    except OSError:
        pass
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = os.waitstatus_to_exitcode(st)
        break
    time.sleep(0.05)
left = []
for w in workers:
    try:
        os.kill(w, 0)
        left.append(w)
    except ProcessLookupError:
        pass
for w in left:
    os.kill(w, signal.SIGKILL)
print(status if status is not None else "running", ",".join(map(str, left)))
