"""The matcher service's HTTP interface (``carekey matcher serve``): ``create_matcher_app``."""
