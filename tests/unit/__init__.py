"""The product's unit tests: domain, runtime and handlers with in-memory fakes, no network."""
