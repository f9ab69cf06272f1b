def display_name(user):
    return f"{user['first']} {user['last']}"
