import os
import sys
import time

calls = 0


def count(event, context):
    global calls
    calls += 1
    return {"pid": os.getpid(), "calls": calls}


def sleep(event, context):
    time.sleep(event.get("seconds", 0.5))
    return {"pid": os.getpid()}


def environment(event, context):
    return dict(os.environ)


def crash(event, context):
    os._exit(1)


def hog(event, context):
    chunks = []
    for _ in range(event.get("mb", 1024)):
        chunks.append(bytearray(1024 * 1024))
    return len(chunks)


def echo(event, context):
    return {"event": event, "request_id": context.aws_request_id, "arn": context.invoked_function_arn}


def shout(event, context):
    print(event.get("text", "hello"))
    return None


def fail(event, context):
    raise ValueError("bad input")


def scheduling_policy(event, context):
    return os.sched_getscheduler(0)


def fork_child(event, context):
    # The child sleeps for 30 s, far longer than any test waits for it to end.
    child = os.fork()
    if child == 0:
        if event.get("new_session"):
            os.setsid()  # out of the instance's process group, as a daemon goes
        time.sleep(30)
        os._exit(0)
    with open(event["pid_file"], "w") as pid_file:
        pid_file.write(str(child))
    if event.get("crash"):
        os._exit(1)
    time.sleep(event.get("seconds", 0))
    return {"pid": os.getpid(), "child": child}


def print_later(event, context):
    """Print now, and from a thread once the invocation has ended; the thread then creates event["done"]."""
    import threading

    print("printed by the call")

    def later():
        time.sleep(0.2)
        print("printed by a thread after the call")
        with open(event["done"], "w"):
            pass

    threading.Thread(target=later).start()
    return {}


def log_levels(event, context):
    """Log one line at each level, and an exception."""
    import logging

    logging.debug("a debug line")
    logging.info("an info line")
    logging.warning("a warning line")
    try:
        raise ValueError("a logged error")
    except ValueError:
        logging.getLogger("app").exception("it failed")
    return {}


def tmp_note(event, context):
    """Write this call's note to a fixed name under /tmp and /dev/shm, wait, and read both back."""
    paths = ("/tmp/squall-test-note.txt", "/dev/shm/squall-test-note.txt")
    for path in paths:
        with open(path, "w") as note:
            note.write(event["note"])
    time.sleep(event.get("seconds", 0.3))
    read = []
    for path in paths:
        with open(path) as note:
            read.append(note.read())
    return {"read": read[0], "shm_read": read[1], "tmpdir_files": sorted(os.listdir(os.environ["TMPDIR"]))}


def open_files(event, context):
    """Open files until the instance's limit refuses one; report the limit and how many opened."""
    import resource

    opened = []
    try:
        while len(opened) < 5000:
            opened.append(open(os.devnull))
        error = None
    except OSError as exc:
        error = exc.strerror
    finally:
        for file in opened:
            file.close()
    return {"limit": list(resource.getrlimit(resource.RLIMIT_NOFILE)), "opened": len(opened), "error": error}


def raise_memory_error(event, context):
    raise MemoryError("an allocation too large")


def decimals(event, context):
    from decimal import Decimal

    return {"price": Decimal("1.10"), "big": Decimal("12345678901234567890.123"), "whole": Decimal("7"),
            "infinite": Decimal("Infinity"), "nan": Decimal("sNaN")}


def raw_bytes(event, context):
    return b"\x89PNG not json"


def lone_surrogate(event, context):
    raise ValueError("bad \ud800 text")


def interrupt(event, context):
    raise KeyboardInterrupt


def exit_after_atexit(event, context):
    """Register an atexit function that prints, then call sys.exit."""
    import atexit

    atexit.register(lambda: print("atexit function ran", flush=True))
    sys.exit(event.get("code", 0))


def partial_line(event, context):
    """Write output without a final newline, then exit or block until the timeout, as event["how"] selects."""
    print("progress 50%", end="")
    sys.stderr.write("half a line on stderr")
    if event.get("how") == "exit":
        os._exit(3)
    time.sleep(60)


def log_levels_everywhere(event, context):
    """Print a line, log at each level on a logger of its own level, and log with extra fields."""
    import logging

    print("a printed line")
    chatty = logging.getLogger("chatty")
    chatty.setLevel(logging.DEBUG)
    chatty.debug("a debug line")
    chatty.info("an info line", extra={"order": {"id": 7}, "amount": 3})
    chatty.warning("a warning line")
    chatty.error("an error line")
    return {}


def write_code_folder(event, context):
    """Try to write a file beside the handler's module and in the working folder; report each error."""
    errors = {}
    for place, path in (("module", os.path.join(os.path.dirname(__file__), "written.txt")), ("cwd", "written-cwd.txt")):
        try:
            with open(path, "w") as file:
                file.write("changed by a handler")
            errors[place] = None
        except OSError as error:
            errors[place] = error.strerror
    return errors


def interpreter(event, context):
    """Report sys.argv and sys.path."""
    return {"argv": sys.argv, "path": sys.path}


def spin_after_return(event, context):
    """Start a thread that keeps working after the call returns, and return the instance's pid."""
    import threading

    def spin():
        while True:
            sum(range(1000))

    threading.Thread(target=spin, daemon=True).start()
    return {"pid": os.getpid()}


def tasks(event, context):
    """Start threads until the instance's cap rejects one, then try a fork at the cap. Return both errors."""
    import threading

    stop = threading.Event()
    threads = []
    thread_error = None
    try:
        while len(threads) < 3000:
            thread = threading.Thread(target=stop.wait, daemon=True)
            thread.start()
            threads.append(thread)
    except RuntimeError as exc:
        thread_error = str(exc)
    fork_error = None
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    except OSError as exc:
        fork_error = exc.strerror
    stop.set()
    for thread in threads:
        thread.join()
    return {"threads": len(threads), "thread_error": thread_error, "fork_error": fork_error}


def close_output(event, context):
    # Code that closes its standard streams, as some daemonizing helpers do.
    print("before closing")
    sys.stdout.flush()
    os.close(1)
    os.close(2)
    return "closed"
