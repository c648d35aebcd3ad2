"""Runs one aws:executeScript handler in the process it is called in: a child the script worker forked."""

import json
import traceback


def run(request: dict, result_path: str) -> None:
    """Run request's handler on its events and context; write {"payload"} or {"error", "traceback"}."""
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
                    traceback.format_exception(
                        type(error), error, error.__traceback__ and error.__traceback__.tb_next
                    )
                ),
            }
        )
    with open(result_path, "w", encoding="utf-8") as result_file:
        result_file.write(text)
