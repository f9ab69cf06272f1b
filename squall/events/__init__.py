"""Event sources: durable asynchronous invocation, destinations, and the triggers of the data services."""
