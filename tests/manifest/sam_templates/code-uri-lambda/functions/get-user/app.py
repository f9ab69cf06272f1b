import json
import os

import helpers


def handler(event, context):
    with open("users.json") as file:
        users = json.load(file)
    user_id = event["pathParameters"]["id"]
    return {
        "user": helpers.display_name(users[user_id]),
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "cwd": os.getcwd(),
        "handler": os.environ["_HANDLER"],
    }
