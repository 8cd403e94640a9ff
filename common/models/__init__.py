"""msgspec Structs for every object on the wire and in Redis, one definition each."""
