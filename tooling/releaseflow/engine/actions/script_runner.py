"""Runs one aws:executeScript handler in a fresh interpreter: request on stdin, result to argv[1]."""

import json
import sys
import traceback


def main() -> None:
    request = json.load(sys.stdin)
    namespace = {"__name__": "automation_script"}
    try:
        exec(compile(request["script"], "<script>", "exec"), namespace)
        handler = namespace.get(request["handler"])
        if not callable(handler):
            raise NameError(f"handler {request['handler']!r} is not defined by the script")
        result = {"payload": handler(request["events"], request["context"])}
        text = json.dumps(result)
    except BaseException as error:  # every failure of the user's script is reported
        text = json.dumps(
            {
                "error": f"{type(error).__name__}: {error}",
                # Leave out this runner's own frame: the user's script starts at the next one.
                "traceback": "".join(
                    traceback.format_exception(type(error), error, error.__traceback__.tb_next)
                ),
            }
        )
    with open(sys.argv[1], "w", encoding="utf-8") as result_file:
        result_file.write(text)


if __name__ == "__main__":
    main()
