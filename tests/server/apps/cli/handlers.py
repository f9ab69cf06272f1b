def greet(event, context):
    name = (event.get("pathParameters") or {}).get("name") or event.get("name", "nobody")
    print(f"greeting {name}")
    return {"greeting": f"hello {name}"}
