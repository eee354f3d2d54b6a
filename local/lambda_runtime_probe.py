"""Runs inside a bare Python 3.13 (`-I -S`): the built function on the paths the Lambda runtime gives it.

Standard library only until the handler is imported: argv[1] is a JSON object with `task` (the built
function), `layer` (what the Powertools layer puts under /opt/python), `runtime` (the runtime's boto3),
`event` and `handler`. Prints one JSON line: the handler's result and where each imported module came from.
"""

import importlib
import json
import sys
import sysconfig
import time
import uuid


class Context:
    """What Lambda passes the handler (the attributes Powertools reads)."""

    function_name = "leegality-usage-monitor"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:leegality-usage-monitor"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + 300

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def origin(module: object) -> str | None:
    return getattr(module, "__file__", None)


def main() -> None:
    config = json.loads(sys.argv[1])
    # Lambda's order: the function's code, then the layer, then the runtime's own packages.
    sys.path[:0] = [config["task"], config["layer"], config["runtime"]]
    module_name, _, function_name = config["handler"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    result = handler(config["event"], Context())
    stdlib = sysconfig.get_paths()["stdlib"]
    # This script itself (multiprocessing also registers it as __mp_main__) is the stand-in for the runtime.
    modules = {
        name: origin(module) for name, module in list(sys.modules.items()) if name not in ("__main__", "__mp_main__")
    }
    print(
        json.dumps(
            {
                "result": result,
                "python": list(sys.version_info[:3]),
                "stdlib": stdlib,
                "modules": {name: path for name, path in modules.items() if path is not None},
            }
        )
    )


if __name__ == "__main__":
    main()
