import asyncio


async def handler(event, context):
    await asyncio.sleep(0)
    raise ValueError("async handler fails")
