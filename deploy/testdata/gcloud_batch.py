# Runs many gcloud commands in one Python process, for
# TestGcloudAcceptsEveryCommand: gcloud's own entry point (gcloud.py's path
# set-up, then gcloud_main.CreateCLI and CLI.Execute, as gcloud_main.main
# does) once per command, so the CLI's start-up (seconds of imports) is paid
# once instead of once per command.
#
# Usage: python3 gcloud_batch.py SDK_LIB_DIR < commands
# Each input line is a JSON array of gcloud's arguments; each output line on
# stdout is a JSON object {"code": exit code, "out": stdout+stderr}.
import json
import os
import sys
import tempfile

sys.path.insert(0, sys.argv[1])
import gcloud  # noqa: E402  (the SDK's lib/gcloud.py: sys.path set-up)

sys.path = gcloud.reorder_sys_path(sys.path)
gcloud._fix_google_module()
from googlecloudsdk import gcloud_main  # noqa: E402

cli = gcloud_main.CreateCLI([])
# Results go to a copy of stdout; fds 1 and 2 are pointed at a file per
# command, so everything the command prints is its output.
results = os.fdopen(os.dup(1), "w")
for line in sys.stdin:
    args = json.loads(line)
    with tempfile.TemporaryFile() as f:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        code = 0
        try:
            cli.Execute(args)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException as e:  # a crash is a failure, not the end
            code = -1
            print("gcloud_batch: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        f.seek(0)
        out = f.read().decode("utf-8", "replace")
    results.write(json.dumps({"code": code, "out": out}) + "\n")
    results.flush()
